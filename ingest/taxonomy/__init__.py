"""Topic taxonomies: the YAML file a show's owner edits, loaded and checked into typed topics.

The default, `recruiting.yaml`, ships as package data; any show can bring its own file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.errors import PodarchiveError
from ingest.ids import slugify
from ingest.records import Topic

DEFAULT_TAXONOMY = Path(__file__).resolve().parent / "recruiting.yaml"
MAX_DESCRIPTION_LENGTH = 200  # one line, as the site shows it under the topic name


class TaxonomyError(PodarchiveError, ValueError):
    """A taxonomy file that cannot be used; the message names the file and the topic."""


@dataclass
class Taxonomy:
    """A named list of topics and the words too common in the show to count on their own."""

    name: str
    topics: list[Topic]
    common_terms: list[str] = field(default_factory=list)
    path: Path | None = None

    def by_slug(self) -> dict[str, Topic]:
        return {topic.slug: topic for topic in self.topics}

    def definition_hash(self, topic: Topic) -> str:
        """A hash of what a topic's scores depend on: its own definition and the common terms."""
        payload = json.dumps(
            {"topic": topic.definition(), "common_terms": sorted(self.common_terms)},
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _string_list(value, where: str, key: str, errors: list[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        errors.append(f"{where}: '{key}' must be a list of non-empty strings")
        return []
    return [v.strip() for v in value]


def _topic(raw, index: int, path: Path, errors: list[str]) -> Topic | None:
    label = raw.get("slug") or raw.get("name") if isinstance(raw, dict) else None
    where = f"{path}: topic {index + 1}" + (f" ({label})" if label else "")
    if not isinstance(raw, dict):
        errors.append(f"{where}: expected a mapping with name, slug, description and phrases")
        return None
    unknown = set(raw) - {"slug", "name", "description", "phrases", "keywords", "context"}
    if unknown:
        errors.append(f"{where}: unknown keys {sorted(unknown)}")
    problems_before = len(errors)
    name, slug, description = raw.get("name"), raw.get("slug"), raw.get("description")
    if not isinstance(name, str) or not name.strip():
        errors.append(f"{where}: 'name' is missing")
    if not isinstance(slug, str) or not slug:
        errors.append(f"{where}: 'slug' is missing")
    elif slugify(slug) != slug:
        errors.append(f"{where}: slug {slug!r} must be lowercase letters, digits and hyphens")
    if not isinstance(description, str) or not description.strip():
        errors.append(f"{where}: 'description' is missing")
    elif "\n" in description.strip() or len(description) > MAX_DESCRIPTION_LENGTH:
        errors.append(f"{where}: 'description' must be one line of at most 200 characters")
    phrases = _string_list(raw.get("phrases"), where, "phrases", errors)
    keywords = _string_list(raw.get("keywords"), where, "keywords", errors)
    context = _string_list(raw.get("context"), where, "context", errors)
    if not phrases and "phrases" in raw:
        errors.append(f"{where}: 'phrases' is empty")
    elif "phrases" not in raw:
        errors.append(f"{where}: 'phrases' is missing (give a few example phrases)")
    if len(errors) > problems_before:
        return None
    return Topic(
        slug=slug,
        name=name.strip(),
        description=description.strip(),
        phrases=phrases,
        keywords=keywords,
        context=context,
    )


def parse_taxonomy(text: str, path: Path) -> Taxonomy:
    """Parse and validate taxonomy YAML; every problem found is listed in one TaxonomyError."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("topics"), list):
        raise TaxonomyError(f"{path}: expected a mapping with a 'topics' list")
    errors: list[str] = []
    common = _string_list(raw.get("common_terms"), str(path), "common_terms", errors)
    topics: list[Topic] = []
    seen: set[str] = set()
    for index, item in enumerate(raw["topics"]):
        topic = _topic(item, index, path, errors)
        if topic is None:
            continue
        if topic.slug in seen:
            errors.append(f"{path}: topic {index + 1} ({topic.slug}): duplicate slug")
            continue
        seen.add(topic.slug)
        topics.append(topic)
    if not raw["topics"]:
        errors.append(f"{path}: 'topics' is empty")
    if errors:
        raise TaxonomyError("\n".join(errors))
    return Taxonomy(
        name=str(raw.get("name") or path.stem), topics=topics, common_terms=common, path=path
    )


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load a taxonomy file (the shipped recruiting taxonomy when `path` is None)."""
    path = Path(path) if path is not None else DEFAULT_TAXONOMY
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(f"{path}: cannot read taxonomy: {exc.strerror or exc}") from exc
    return parse_taxonomy(text, path)

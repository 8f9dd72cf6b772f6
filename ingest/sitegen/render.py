"""The site's Jinja environment: templates, autoescape, and the filters pages use."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sysconfig
from functools import cache
from pathlib import Path

import jinja2
import nh3
from markupsafe import Markup

# Show notes keep simple formatting and links; everything else (scripts, styles, iframes,
# event handlers, javascript: URLs) is dropped. The notes were sanitised at ingest too; the
# database is not trusted to still hold what ingest wrote.
NOTES_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "em",
    "h3",
    "h4",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "sub",
    "sup",
    "ul",
}
NOTES_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}}
NOTES_URL_SCHEMES = {"http", "https", "mailto"}


def templates_dir() -> Path:
    """The top-level `templates/` of a checkout, else the copy a wheel put in <prefix>/share."""
    checkout = Path(__file__).resolve().parents[2] / "templates"
    candidates = [checkout]
    for scheme in (None, f"{os.name}_user"):
        with contextlib.suppress(KeyError):
            data = sysconfig.get_path("data", scheme) if scheme else sysconfig.get_path("data")
            candidates.append(Path(data) / "share" / "podcast-archive" / "templates")
    for candidate in candidates:
        if (candidate / "base.html").is_file():
            return candidate
    raise FileNotFoundError(f"site templates not found in {', '.join(map(str, candidates))}")


def sanitize_notes(html: str) -> Markup:
    """Show notes HTML reduced to inert formatting and http(s)/mailto links."""
    clean = nh3.clean(
        html or "",
        tags=NOTES_TAGS,
        attributes=NOTES_ATTRIBUTES,
        url_schemes=NOTES_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow ugc",
        strip_comments=True,
    )
    return Markup(clean)


def json_ld(data: dict) -> Markup:
    """JSON for a <script type="application/ld+json">: `<`, `>` and `&` escaped so feed text
    cannot close the script element (HTML spec, "restrictions for contents of script elements")."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def make_environment(
    directory: Path | None = None, cache_dir: Path | None = None
) -> jinja2.Environment:
    """An explicit environment: autoescape everywhere, undefined names are errors.

    `cache_dir` keeps the compiled templates between builds: compiling them all took a
    quarter of a second, as long as the rest of a one-episode rebuild's rendering. Jinja checks
    each cached entry against a checksum of its template source.
    """
    bytecode_cache = None
    if cache_dir is not None:
        with contextlib.suppress(OSError):  # no cache is slower, not wrong
            cache_dir.mkdir(parents=True, exist_ok=True)
            bytecode_cache = jinja2.FileSystemBytecodeCache(str(cache_dir))
    env = jinja2.Environment(
        bytecode_cache=bytecode_cache,
        loader=jinja2.FileSystemLoader(str(directory or templates_dir())),
        autoescape=jinja2.select_autoescape(["html", "xml"], default=True),
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # one build, one set of templates (and no stat per page)
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["notes"] = sanitize_notes
    env.filters["json_ld"] = json_ld
    return env


@cache
def fingerprint(directory: Path) -> str:
    """A hash of every template and static file: a changed template rebuilds every page."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file() and "datasette" not in path.relative_to(directory).parts:
            digest.update(str(path.relative_to(directory)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]

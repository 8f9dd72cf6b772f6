"""Writing the site folder: atomic files, a manifest of input hashes, and linked media files.

The manifest (`site/.build-manifest.json`) maps each output path to the hash of what it was
rendered from; a page whose hash is unchanged is not rewritten. Only paths the manifest lists
are ever deleted, so files someone else put in `site/` are left alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ingest.fileio import write_atomic

MANIFEST_NAME = ".build-manifest.json"
MANIFEST_VERSION = 1


def content_hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") if isinstance(part, str) else part)
        digest.update(b"\x1f")
    return digest.hexdigest()[:32]


@dataclass
class SiteWriter:
    """Writes outputs under `root` only when their input hash changed; tracks what it wrote."""

    root: Path
    previous: dict[str, str] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # other build state kept in the manifest
    previous_extra: dict = field(default_factory=dict)
    _folders: set[Path] = field(default_factory=set)  # made this build: skip the syscall

    @classmethod
    def open(cls, root: Path) -> SiteWriter:
        """A writer for `root`, remembering the hashes of the last build (if readable)."""
        previous: dict[str, str] = {}
        extra: dict = {}
        try:
            data = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
            if data.get("version") == MANIFEST_VERSION:
                previous = dict(data.get("outputs", {}))
                extra = dict(data.get("extra", {}))
        except (OSError, ValueError):
            pass
        return cls(root=root, previous=previous, extra=extra, previous_extra=dict(extra))

    def unchanged(self, rel: str, digest: str) -> bool:
        """True (and recorded) when `rel` exists with the same input hash as last time."""
        # Plain string paths: a no-change build asks this of every one of thousands of files.
        if self.previous.get(rel) == digest and os.path.exists(f"{self.root}/{rel}"):
            self.current[rel] = digest
            return True
        return False

    def write(self, rel: str, digest: str, data: bytes | str) -> None:
        """Write `rel` atomically and record its input hash."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        self._folder(self.root / rel)
        write_atomic(self.root / rel, payload)
        self.current[rel] = digest
        self.written.append(rel)

    def copy(self, rel: str, source: Path) -> None:
        """Put a copy of `source` at `rel`, rewritten when its bytes change. For the package's
        own files (the site's scripts and styles): a hard link would let an edit of the
        published copy change the package itself."""
        payload = source.read_bytes()
        digest = hashlib.sha256(payload).hexdigest()
        if not self.unchanged(rel, digest):
            self.write(rel, digest, payload)

    def link(self, rel: str, source: Path) -> None:
        """Put `source` at `rel`: a hard link (no copy of big audio), else a copy."""
        stat = os.stat(source)
        digest = f"{stat.st_size}:{stat.st_mtime_ns}"
        if self.unchanged(rel, digest):
            return
        target = self.root / rel
        self._folder(target)
        tmp = target.with_name(f".{target.name}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:  # another filesystem, or links not allowed
            shutil.copy2(source, tmp)
        os.replace(tmp, target)
        # rename(2) does nothing when both names are links to one file (a rebuild after a lost
        # manifest finds the target already linked to the source): drop the temporary name.
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        self.current[rel] = digest
        self.written.append(rel)

    def _folder(self, path: Path) -> None:
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)

    def remove_stale(self) -> list[str]:
        """Delete outputs of the last build that this build did not produce."""
        removed = []
        for rel in sorted(set(self.previous) - set(self.current)):
            path = self.root / rel
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(rel)
            _prune_empty(path.parent, self.root)
        return removed

    def save(self) -> None:
        """Record this build's hashes (last, so a killed build only re-renders on the next run)."""
        data = {"version": MANIFEST_VERSION, "outputs": self.current, "extra": self.extra}
        if self.current == self.previous and self.extra == self.previous_extra:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        # Compact JSON: with `indent` the json module falls back to its pure-Python encoder
        # (4x slower on the 6,000 entries of a 1,000-episode site).
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        write_atomic(self.root / MANIFEST_NAME, text.encode("utf-8"))


def _prune_empty(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent

"""Search in Chromium on a site bench/site.py already built (its --keep folder), without
rebuilding it: time to the first result by words and by meaning, fresh page and open page,
and the bytes fetched before the first result by meaning (bench/site.py's own functions).

The page's scripts are copied in from templates/static first, so a change to search.js or
semantic.js is measured on the same archive and index.

    python bench/site.py --episodes 1000 --keep /tmp/bench-site-1k --skip-passages  # once
    python bench/site_search.py /tmp/bench-site-1k            # then after each change
    python bench/site_search.py /tmp/bench-site-1k --copies 10   # 10x the shards

`--copies N` serves a copy of the site whose search shards (Pagefind's and the vectors by
meaning) are each listed N times under new names (hard links, so it is quick): the page then
loads, merges and searches N times the shards and bytes, as on an archive N times larger
(each page found N times over). A stand-in for 10,000 episodes when building them is too slow;
it says nothing of the build.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.site import meaning_latency, search_latency  # noqa: E402
from ingest.archive import Archive  # noqa: E402
from ingest.sitegen.render import templates_dir  # noqa: E402
from ingest.sitegen.step import STATIC_FILES  # noqa: E402


def count_pages(site: Path) -> None:
    """Page counts in the manifest of a site built before it listed them (from each shard's
    own pagefind-entry.json)."""
    manifest = site / "pagefind" / "shards.json"
    data = json.loads(manifest.read_text())
    if "pages" not in data:
        folders = [site / "pagefind" / name for name in data["shards"]]
        entries = [json.loads((f / "pagefind-entry.json").read_text()) for f in folders]
        data["pages"] = [sum(x["page_count"] for x in e["languages"].values()) for e in entries]
        manifest.write_text(json.dumps(data, indent=1) + "\n")


def copied(site: Path, copies: int, into: Path) -> Path:
    """The site with each search shard listed `copies` times (see the module's docstring)."""
    shutil.rmtree(into, ignore_errors=True)
    subprocess.run(["cp", "-al", str(site), str(into)], check=True)
    for folder, listing, key in (
        ("pagefind", "shards.json", "shards"),
        ("semantic", "index.json", "shards"),
    ):
        manifest = into / folder / listing
        data = json.loads(manifest.read_text())
        names = list(data[key])
        for copy in range(2, copies + 1):
            for name in data[key]:
                twin = f"x{copy}-{name}"
                subprocess.run(
                    ["cp", "-al", str(into / folder / name), str(into / folder / twin)], check=True
                )
                names.append(twin)
        data[key] = names
        if "pages" in data:  # in the same order: the originals, then each round of copies
            data["pages"] = data["pages"] * copies
        manifest.unlink()  # a hard link to the original: replaced, not written through
        manifest.write_text(json.dumps(data, indent=1) + "\n")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keep", type=Path, help="The archive folder bench/site.py --keep made.")
    parser.add_argument("--words-only", action="store_true", help="Skip the meaning queries.")
    parser.add_argument("--copies", type=int, default=1, help="List each search shard N times.")
    args = parser.parse_args()
    site = Archive.at(args.keep).site_dir
    if not (site / "search" / "index.html").is_file():
        raise SystemExit(f"no built site in {site}: run bench/site.py --keep {args.keep} first")
    for name in STATIC_FILES:
        target = site / "static" / name
        target.unlink(missing_ok=True)  # never write through a hard link of a copy
        shutil.copyfile(templates_dir() / "static" / name, target)
    count_pages(site)
    if args.copies > 1:
        site = copied(site, args.copies, args.keep / f"site-x{args.copies}")
    figures: dict = {
        "shards": len(json.loads((site / "pagefind/shards.json").read_text())["shards"])
    }
    figures["load_before"] = os.getloadavg()
    figures["search_in_chromium"] = search_latency(site)
    if not args.words_only:
        figures["meaning_in_chromium"] = meaning_latency(site)
    figures["load_after"] = os.getloadavg()
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

"""The transcript as a reader's text file: who and what it is, then each paragraph with its time
and speaker.

The transcription step's own .txt is the durable record (plain words, no header); this copy is
made for people who download it from the episode page, from the same paragraphs the page shows.
"""

from __future__ import annotations

from ingest.sitegen.urls import BaseUrl


def transcript_text(episode: dict, paragraphs: list[dict], base: BaseUrl) -> str:
    """Show, title, date and page link, a blank line, then `[m:ss] Speaker: text` paragraphs."""
    header = [episode["show_title"], episode["title"]]
    if episode["date_display"]:
        header.append(episode["date_display"])
    header.append(base.full(episode["url"]))
    lines = ["\n".join(_one_line(value) for value in header)]
    for paragraph in paragraphs:
        speaker = f"{_one_line(paragraph['speaker'])}: " if paragraph.get("speaker") else ""
        lines.append(f"[{paragraph['stamp']}] {speaker}{_one_line(paragraph['text'])}")
    return "\n\n".join(lines) + "\n"


def _one_line(value: str) -> str:
    """Feed text on one line: a title holding a newline must not pass for a paragraph."""
    return " ".join(str(value).split())

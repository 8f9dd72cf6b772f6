"""Transcript files, the durable record: `transcripts/<show_id>/<episode_id>.{json,vtt,srt,txt}`.

The JSON is the Podcasting 2.0 transcript format (podcastindex.org namespace, transcripts.md:
`version`, `segments` of `startTime`, `endTime`, `body`, optional `speaker`), each segment
extended with its `words` and Whisper's scores, and a `podarchive` object with how the
transcript was made. Every file is written to a temporary name and renamed; the JSON comes
last, so its presence (and validity) is the mark that an episode's transcript is whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ingest.errors import PodarchiveError
from ingest.fileio import write_atomic
from ingest.ids import is_safe_id
from ingest.records import Segment, Transcript, Word
from ingest.timecode import cue_time

JSON_VERSION = "1.0.0"  # the Podcasting 2.0 JSON transcript version we write
FORMAT = 1  # our extension object's own version
FORMATS = ("txt", "srt", "vtt", "json")  # write order: JSON last


class TranscriptFileError(PodarchiveError, ValueError):
    """A transcript file is missing, unreadable or not whole; the message names it."""


def transcript_paths(transcripts_dir: Path, show_id: str, episode_id: str) -> dict[str, Path]:
    """The four files of one episode, by format. Ids are checked: never a path from feed text."""
    for value in (show_id, episode_id):
        if not is_safe_id(value):
            raise ValueError(f"not a folder-safe id: {value!r}")
    folder = Path(transcripts_dir) / show_id
    return {fmt: folder / f"{episode_id}.{fmt}" for fmt in FORMATS}


def write_transcript(
    transcripts_dir: Path, show_id: str, episode_id: str, transcript: Transcript
) -> Path:
    """Write all four files atomically, the JSON last; return the JSON's path."""
    paths = transcript_paths(transcripts_dir, show_id, episode_id)
    paths["json"].parent.mkdir(parents=True, exist_ok=True)
    payload = to_json(transcript, show_id=show_id, episode_id=episode_id)
    texts = {
        "txt": to_txt(transcript),
        "srt": to_srt(transcript),
        "vtt": to_vtt(transcript),
        "json": json.dumps(payload, ensure_ascii=False, indent=1) + "\n",
    }
    for fmt in FORMATS:
        write_atomic(paths[fmt], texts[fmt], durable=True)
    return paths["json"]


def to_json(transcript: Transcript, *, show_id: str = "", episode_id: str = "") -> dict:
    """The Podcasting 2.0 JSON object, with words, scores and our metadata."""
    segments = []
    for s in transcript.segments:
        item: dict = {"startTime": s.start, "endTime": s.end, "body": s.text}
        if s.speaker:
            item["speaker"] = s.speaker
        if s.avg_logprob is not None:
            item["avgLogprob"] = s.avg_logprob
        if s.no_speech_prob is not None:
            item["noSpeechProb"] = s.no_speech_prob
        if s.words:
            item["words"] = [
                {
                    "startTime": w.start,
                    "endTime": w.end,
                    "body": w.word,
                    "probability": w.probability,
                }
                for w in s.words
            ]
        segments.append(item)
    return {
        "version": JSON_VERSION,
        "segments": segments,
        "podarchive": {
            "format": FORMAT,
            "showId": show_id,
            "episodeId": episode_id,
            "source": transcript.source,
            "engine": transcript.engine,
            "model": transcript.model,
            "language": transcript.language,
            "duration": transcript.duration,
            "noSpeech": transcript.no_speech,
            "settings": transcript.settings,
        },
    }


def from_json(data: dict, origin: str = "transcript") -> Transcript:
    """Our JSON back into a Transcript; TranscriptFileError when anything is missing or wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        raise TranscriptFileError(f"{origin}: no 'segments' list")
    meta = data.get("podarchive")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise TranscriptFileError(f"{origin}: missing or unknown 'podarchive' metadata")
    segments = []
    for n, item in enumerate(data["segments"]):
        try:
            start, end, body = float(item["startTime"]), float(item["endTime"]), item["body"]
            if not isinstance(body, str) or end < start or start < 0:
                raise ValueError("bad times or body")
            words = [
                Word(
                    float(w["startTime"]), float(w["endTime"]), str(w["body"]), w.get("probability")
                )
                for w in item.get("words", [])
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise TranscriptFileError(f"{origin}: segment {n} is invalid ({exc})") from exc
        segments.append(
            Segment(
                start=start,
                end=end,
                text=body,
                speaker=item.get("speaker"),
                avg_logprob=item.get("avgLogprob"),
                no_speech_prob=item.get("noSpeechProb"),
                words=words,
            )
        )
    return Transcript(
        segments=segments,
        language=meta.get("language"),
        source=meta.get("source") or "asr",
        engine=meta.get("engine"),
        model=meta.get("model"),
        settings=meta.get("settings") or {},
        duration=meta.get("duration"),
        no_speech=meta.get("noSpeech"),
    )


def read_transcript(path: Path, episode_id: str | None = None) -> Transcript:
    """Read and validate a transcript JSON (of `episode_id` when given)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TranscriptFileError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TranscriptFileError(f"{path}: not readable JSON ({exc})") from exc
    transcript = from_json(data, origin=str(path))
    if episode_id is not None and data["podarchive"].get("episodeId") != episode_id:
        raise TranscriptFileError(f"{path}: belongs to another episode")
    return transcript


def read_whole(transcripts_dir: Path, show_id: str, episode_id: str) -> Transcript | None:
    """The episode's transcript if its files are on disk and whole, else None."""
    paths = transcript_paths(transcripts_dir, show_id, episode_id)
    if not all(p.is_file() for p in paths.values()):
        return None
    try:
        return read_transcript(paths["json"], episode_id)
    except TranscriptFileError:
        return None


def iter_transcript_files(transcripts_dir: Path) -> Iterator[tuple[str, str, Path]]:
    """(show_id, episode_id, json path) for every transcript JSON under the folder."""
    root = Path(transcripts_dir)
    if not root.is_dir():
        return
    for path in sorted(root.glob("*/*.json")):
        show_id, episode_id = path.parent.name, path.stem
        if is_safe_id(show_id) and is_safe_id(episode_id):
            yield show_id, episode_id, path


def _escape_vtt(text: str) -> str:
    # WebVTT cue text: & < > must be character references (W3C WebVTT, 4.2.2 cue text).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _one_line(text: str) -> str:
    # A blank line ends a cue in both VTT and SRT; keep each cue's text on one line.
    return " ".join(text.split())


def to_vtt(transcript: Transcript) -> str:
    """WebVTT with `<v Speaker>` voice spans when the speaker is known."""
    cues = ["WEBVTT", ""]
    for s in transcript.segments:
        text = _one_line(s.text)
        if not text:
            continue
        body = _escape_vtt(text)
        if s.speaker:
            body = f"<v {_escape_vtt(_one_line(s.speaker))}>{body}"
        cues += [f"{cue_time(s.start, '.')} --> {cue_time(s.end, '.')}", body, ""]
    return "\n".join(cues)


def to_srt(transcript: Transcript) -> str:
    """SubRip: numbered cues, comma decimal separator, speaker as a `Name:` prefix."""
    cues = []
    for s in transcript.segments:
        text = _one_line(s.text)
        if not text:
            continue
        if s.speaker:
            text = f"{_one_line(s.speaker)}: {text}"
        times = f"{cue_time(s.start, ',')} --> {cue_time(s.end, ',')}"
        cues.append(f"{len(cues) + 1}\n{times}\n{text}\n")
    return "\n".join(cues)


def to_txt(transcript: Transcript) -> str:
    """Plain text: one paragraph per speaker turn (or per segment when speakers are unknown)."""
    paragraphs: list[str] = []
    last_speaker = None
    for s in transcript.segments:
        text = _one_line(s.text)
        if not text:
            continue
        if s.speaker and s.speaker == last_speaker:
            paragraphs[-1] += " " + text
        else:
            paragraphs.append(f"{s.speaker}: {text}" if s.speaker else text)
        last_speaker = s.speaker
    return "\n\n".join(paragraphs) + "\n"

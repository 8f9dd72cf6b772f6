"""The audio `bench/transcribe.py` measures word error rate on, with the text that was spoken.

Two sets, in the sample show's espeak-ng voices (host and guest), so a word error rate can be
checked against the exact words:

- `sample`: the five sample episodes (728 words, 5 minutes), the show the demo archives;
- `conversations`: the 21 written interviews of the tag evaluation set (4,758 words, 31
  minutes), written for the topic tagger, not to suit Whisper or the voices. On 728 words one
  engine's extra "Thank you." is 0.3 points of WER; on seven times as many words a
  difference between engines means more. (One of them, reaching_people_who_are_not_looking,
  showed the mistimed segment that gap recovery now repairs; tests/test_lost_speech.py
  keeps it.)

The conversations are spoken once and cached in ~/.cache/podcast-archive/bench-speech,
keyed by the text and the voices.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.tag_eval import transcript_lines

ROOT = Path(__file__).resolve().parents[1]
CONVERSATIONS_DIR = ROOT / "tests" / "fixtures" / "tag_eval"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
CACHE_DIR = CACHE_DIR / "podcast-archive" / "bench-speech"
CORPORA = ("sample", "conversations")  # "all": what the standard table is over
# Measured on their own (--corpus): the 40-minute episode of bench/long_episode.py (The
# Changelog's conversation, pauses, music), and bench/phone.py's telephone-quality copies.
OTHER_CORPORA = ("long", "phone-sample", "phone-conversations")
LONG_MINUTES = 40


@dataclass
class Recording:
    """One audio file, the words spoken in it, and the names the job would pass for it."""

    corpus: str
    label: str
    audio_path: Path
    spoken_text: str
    names: list[str]


def sample_recordings() -> list[Recording]:
    """The sample show's episodes, with the show, host, guests and companies as names."""
    from ingest.sample import load_sample

    show = load_sample()
    recordings = []
    for episode in show.episodes:
        names = [show.title, show.host]
        for guest in episode.guests:
            names += [guest.name, guest.company]
        recordings.append(
            Recording("sample", episode.guid, episode.audio_path, episode.spoken_text, names)
        )
    return recordings


def conversation_recordings() -> list[Recording]:
    """The tag evaluation set's interviews, spoken (once, then cached) in the show's voices."""
    from ingest.sample import load_sample

    show_title = load_sample().title
    recordings = []
    for path in sorted(CONVERSATIONS_DIR.glob("*.yaml")):
        case = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(case, dict) or not case.get("transcript"):
            continue
        lines = [
            (speaker or "Host", " ".join(words.split()))
            for speaker, words in transcript_lines(case["transcript"])
        ]
        guests = sorted({speaker for speaker, _ in lines if speaker != "Host"})
        recordings.append(
            Recording(
                "conversations",
                path.stem,
                _spoken(path.stem, lines),
                " ".join(words for _, words in lines),
                [show_title, *guests],
            )
        )
    return recordings


def recordings(corpus: str = "all") -> list[Recording]:
    """The recordings of one corpus, or of all of them."""
    if corpus == "sample":
        return sample_recordings()
    if corpus == "conversations":
        return conversation_recordings()
    if corpus == "all":
        return sample_recordings() + conversation_recordings()
    if corpus == "long":
        return long_recordings()
    if corpus.startswith("phone-"):
        from bench import phone

        return phone.phone_recordings(recordings(corpus.removeprefix("phone-")), corpus)
    choices = ", ".join(["all", *CORPORA, *OTHER_CORPORA])
    raise ValueError(f"unknown corpus {corpus!r}: choose from {choices}")


def long_recordings() -> list[Recording]:
    """bench/long_episode.py's 40-minute episode (spoken once, then cached), without names."""
    from bench.long_episode import long_episode

    episode, _ = long_episode(LONG_MINUTES)
    return [Recording("long", f"{LONG_MINUTES}min", episode.audio_path, episode.text, [])]


def _spoken(name: str, lines: list[tuple[str, str]]) -> Path:
    """The MP3 of `lines`, from the cache or spoken now (written under a temporary name)."""
    from ingest.sample import generate

    key = repr((lines, generate.HOST_VOICE, generate.GUEST_VOICE, generate.WORDS_PER_MINUTE))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    mp3 = CACHE_DIR / f"{name}-{digest}.mp3"
    if mp3.is_file():
        return mp3
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-speech-") as tmp:
        wav = Path(tmp) / f"{name}.wav"
        generate.speak_lines([(s == "Host", words) for s, words in lines], wav, Path(tmp))
        partial = mp3.with_name(f".{mp3.name}.part")  # renamed whole, on the same disk
        generate.encode_mp3(wav, partial)
        os.replace(partial, mp3)
    return mp3

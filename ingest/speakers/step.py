"""The speakers step: every episode we transcribed gets its voices found and named.

Runs after transcription, oldest episode first (so the voice prints of earlier episodes name
the voices of later ones). For each episode: read its transcript file (the words and their
times), find its voices in the audio, name them, write the transcript files again with the
speakers and split segments, then the database. Publisher transcripts keep their own speakers
and are never touched. Without the `[speakers]` extra nothing is labelled and the step says so
once; the episodes wait for a run that has it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sqlite_utils

from ingest.archive import Archive
from ingest.config import ArchiveConfig
from ingest.speakers import SpeakersUnavailable, names
from ingest.speakers.diarize import Diarization, audio_blocks, diarize
from ingest.speakers.encoder import VoiceEncoder, load_encoder
from ingest.store import speakers as store
from ingest.store import transcripts as transcript_store
from ingest.store.writes import transaction
from ingest.transcribe import files
from ingest.transcribe.step import episode_audio

SETTINGS_KEY = "speakers"  # in the transcript JSON's settings: how its speakers were found
METHOD = "resemblyzer voice vectors, average-linkage clusters, Viterbi over words"


@dataclass
class SpeakersSummary:
    labelled: list[str] = field(default_factory=list)  # episode ids
    failed: list[tuple[str, str]] = field(default_factory=list)  # (episode title, why)
    notice: str | None = None  # why nothing was labelled at all
    audio_seconds: float = 0.0
    seconds: float = 0.0

    def line(self) -> str:
        if self.notice:
            return f"Speakers: not labelled: {self.notice}"
        return (
            f"Speakers: {len(self.labelled)} episode(s) labelled, {len(self.failed)} failed"
            f" ({self.audio_seconds / 60:.1f} min of audio in {self.seconds:.1f} s)"
        )


def label_episodes(
    archive: Archive,
    db: sqlite_utils.Database,
    *,
    redo: bool = False,
    make_encoder: Callable[[], VoiceEncoder] = load_encoder,
) -> SpeakersSummary:
    """Find and name the voices of every transcribed episode not labelled yet (all with `redo`)."""
    summary = SpeakersSummary()
    episodes = store.episodes_to_label(db, redo=redo)
    if not episodes:
        return summary
    renames = ArchiveConfig.load(archive.root).speakers
    try:
        encoder = make_encoder()
    except SpeakersUnavailable as exc:
        summary.notice = str(exc)
        return summary
    for episode in episodes:
        title = episode["title"] or episode["id"]
        started = time.perf_counter()
        try:
            fixed = renames.get(episode["slug"]) or renames.get(episode["id"]) or {}
            seconds = label_episode(archive, db, episode, encoder, fixed)
        except Exception as exc:  # one broken episode must not stop the others
            message = (
                str(exc)
                if isinstance(exc, files.TranscriptFileError | OSError)
                else (f"{type(exc).__name__}: {exc}")
            )
            message = f"{title}: {message}"
            store.mark_failed(db, episode["id"], message)
            summary.failed.append((title, message))
            continue
        summary.labelled.append(episode["id"])
        summary.audio_seconds += seconds
        summary.seconds += time.perf_counter() - started
    return summary


def label_episode(
    archive: Archive, db, episode: dict, encoder: VoiceEncoder, renames: dict | None = None
) -> float:
    """Label one episode; return the seconds of audio it covers. Files first, then the database.
    `renames` are podarchive.toml's names for its voices ({"Speaker 2": "Viet Nguyen"})."""
    episode_id, show_id = episode["id"], episode["show_id"]
    path = files.transcript_paths(archive.transcripts_dir, show_id, episode_id)["json"]
    transcript = files.read_transcript(path, episode_id)
    audio = episode_audio(archive, episode)
    if audio is None or not audio.is_file():
        raise FileNotFoundError("no audio file to tell the voices apart (download it again)")
    cast = names.episode_cast(
        store.credited_people(db, episode_id),
        episode.get("show_author"),
        episode.get("title") or "",
        episode.get("description_text") or "",
        episode.get("show_title") or "",
    )
    found = diarize(encoder, audio_blocks(audio), transcript.segments, hint=cast.size or None)
    named = names.name_voices(
        found.voices, cast, store.voice_prints(db), store.corrections(db, episode_id)
    )
    named = [
        names.Named(renames[n.label], "hand") if renames and n.label in renames else n
        for n in named
    ]
    _apply(found, named)
    transcript.segments = found.segments
    transcript.settings[SETTINGS_KEY] = {
        "method": METHOD,
        "voices": [
            {"speaker": n.label, "seconds": round(v.seconds, 1), "namedBy": n.named_by}
            for v, n in zip(found.voices, named, strict=True)
        ],
    }
    files.write_transcript(archive.transcripts_dir, show_id, episode_id, transcript)
    voices = _one_per_name(
        [
            store.StoredVoice(n.label, v.seconds, v.first, n.named_by, v.vector)
            for v, n in zip(found.voices, named, strict=True)
        ]
    )
    with transaction(db):
        before = {v.label for v in store.episode_voices(db, episode_id)}
        transcript_store.save_transcript(db, episode_id, transcript)
        store.save_voices(db, episode_id, voices)
        # Everyone this episode's voices were or are now: their prints change with it.
        for label in before | {v.label for v in voices if v.named_by != "unknown"}:
            store.refresh_print(db, label, min_seconds=names.MIN_PRINT_SECONDS)
    return transcript.duration or (found.segments[-1].end if found.segments else 0.0)


def _one_per_name(voices: list[store.StoredVoice]) -> list[store.StoredVoice]:
    """Voices given the same name (two found for one person, named so by hand) as one."""
    merged: dict[str, store.StoredVoice] = {}
    for voice in voices:
        same = merged.get(voice.label)
        if same is None:
            merged[voice.label] = voice
            continue
        total = same.seconds + voice.seconds
        vector = (same.vector * same.seconds + voice.vector * voice.seconds) / max(total, 1e-9)
        merged[voice.label] = store.StoredVoice(
            voice.label,
            total,
            min(same.first_start, voice.first_start),
            same.named_by,
            (vector / max(float(np.linalg.norm(vector)), 1e-9)).astype(np.float32),
        )
    return list(merged.values())


def _apply(found: Diarization, named: list[names.Named]) -> None:
    for index, segment in enumerate(found.segments):
        segment.speaker = named[found.labels[index]].label if found.voices else None


def correct_speaker(
    archive: Archive, db: sqlite_utils.Database, episode: dict, old: str, new: str
) -> int:
    """The host's correction: the voice labelled `old` in the episode is `new`, in its files,
    segments and voices now, and in every later labelling of it. Returns segments renamed."""
    from ingest.errors import PodarchiveError

    new = " ".join(new.split())
    if not new:
        raise PodarchiveError("the new speaker name is empty")
    voices = {v.label: v for v in store.episode_voices(db, episode["id"])}
    if old not in voices:
        known = ", ".join(f'"{label}"' for label in voices) or "none (not labelled yet)"
        raise PodarchiveError(
            f"{episode['title'] or episode['id']}: no speaker {old!r}; its speakers: {known}"
        )
    path = files.transcript_paths(archive.transcripts_dir, episode["show_id"], episode["id"])
    transcript = files.read_transcript(path["json"], episode["id"])
    for segment in transcript.segments:
        if segment.speaker == old:
            segment.speaker = new
    for voice in transcript.settings.get(SETTINGS_KEY, {}).get("voices", []):
        if voice.get("speaker") == old:
            voice["speaker"], voice["namedBy"] = new, "hand"
    files.write_transcript(archive.transcripts_dir, episode["show_id"], episode["id"], transcript)
    with transaction(db):
        store.correct(db, episode["id"], old, new, voices[old].vector)
        count = store.rename_speaker(db, episode["id"], old, new)
        store.refresh_print(db, new, min_seconds=names.MIN_PRINT_SECONDS)
        if voices[old].named_by != "unknown":
            store.refresh_print(db, old, min_seconds=names.MIN_PRINT_SECONDS)
    return count

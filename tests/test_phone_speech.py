"""Telephone-quality speech: the default engine must not lose to Whisper called plainly.

The recordings are the sample show's episodes as a phone call gives them (bench/phone.py:
300-3400 Hz, 8 kHz mu-law, line noise; the second with another episode's voice talking over
it), built here from audio the project has. Whisper's words differ between CPUs, so the
test holds bounds: the default's word error rate no worse than plain decoding's on the same
audio, and within a ceiling.
"""

import pytest

from bench import phone
from bench.speech_corpus import Recording
from bench.wer import edit_distance, normalise
from ingest.sample import load_sample
from ingest.transcribe import TranscribeOptions, get_transcriber

MAX_WER = 0.30  # tiny.en through a phone line, crosstalk included
# The plain decoder may win by a few words on 300 spoken here; the default losing more is
# the loss this test keeps away.
SLACK = 0.02


@pytest.fixture(scope="module")
def calls(tmp_path_factory, monkeypatch_module):
    """Two sample episodes as phone calls: (audio path, words spoken, the job's names)."""
    monkeypatch_module.setattr(phone, "CACHE_DIR", tmp_path_factory.mktemp("phone"))
    show = load_sample()

    sources = []
    for episode in show.episodes[:2]:
        names = [show.title, show.host]
        for guest in episode.guests:
            names += [guest.name, guest.company]
        sources.append(
            Recording("sample", episode.guid, episode.audio_path, episode.spoken_text, names)
        )
    return phone.phone_recordings(sources, "phone")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _wer(recordings, heard) -> float:
    edits = words = 0
    for recording, text in zip(recordings, heard, strict=True):
        reference = normalise(recording.spoken_text)
        edits += edit_distance(reference, normalise(text))
        words += len(reference)
    return edits / words


@pytest.mark.asr
@pytest.mark.slow
def test_default_is_no_worse_than_plain_decoding_on_phone_calls(calls):
    assert "crosstalk" in calls[1].label
    options = TranscribeOptions(language="en")
    engine = get_transcriber("faster-whisper", options)
    default = [
        engine.transcribe(r.audio_path, TranscribeOptions(language="en", vocabulary=r.names)).text
        for r in calls
    ]
    plain = []
    for recording in calls:  # the model alone: whole file, no VAD, word times or names
        segments, _ = engine.model.transcribe(str(recording.audio_path), language="en")
        plain.append(" ".join(s.text for s in segments))
    ours, theirs = _wer(calls, default), _wer(calls, plain)
    assert ours <= MAX_WER, default
    assert ours <= theirs + SLACK, (ours, theirs, default, plain)

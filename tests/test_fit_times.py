"""Engine times are fitted inside the audio: in order, not overlapping, and no words lost."""

import random

from ingest.records import Segment, Word
from ingest.transcribe.engine import fit_times


def random_segments(rng: random.Random, duration: float) -> list[Segment]:
    """Segments as Whisper misplaces them: overlapping, out of order, past the end."""
    segments = []
    for n in range(rng.randint(1, 12)):
        start = rng.uniform(-1.0, duration + 5.0)
        end = start + rng.uniform(-0.5, 12.0)
        words = [
            Word(start + i * 0.3, start + i * 0.3 + rng.uniform(-0.1, 0.6), f" w{n}.{i}")
            for i in range(rng.randint(0, 4))
        ]
        segments.append(Segment(start, end, f"text {n}", words=words))
    return sorted(segments, key=lambda s: s.start) if rng.random() < 0.7 else segments


def test_fitted_times_lie_inside_the_audio_in_order():
    rng = random.Random(20261201)
    for _ in range(500):
        duration = rng.uniform(1.0, 60.0)
        segments = random_segments(rng, duration)
        fitted = fit_times(segments, duration)
        assert fitted, "a transcript never loses all its segments"
        previous_end = 0.0
        for segment in fitted:
            assert 0.0 <= previous_end <= segment.start <= segment.end <= duration
            for word in segment.words:
                assert segment.start <= word.start <= word.end <= segment.end
            previous_end = segment.end
        # Every word of text survives, in its order.
        assert (
            " ".join(s.text for s in fitted).split() == " ".join(s.text for s in segments).split()
        )
        assert sum(len(s.words) for s in fitted) == sum(len(s.words) for s in segments)


def test_a_segment_past_the_end_is_cut_at_the_end():
    fitted = fit_times([Segment(0.0, 5.0, "Hello."), Segment(50.56, 60.56, "Goodbye.")], 54.1)
    assert [(s.start, s.end) for s in fitted] == [(0.0, 5.0), (50.56, 54.1)]

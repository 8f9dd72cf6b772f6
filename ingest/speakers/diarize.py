"""Find an episode's voices: embed stretches of speech, cluster them, label every word.

The transcript's word times say where people speak. Words are grouped into runs between
pauses (a turn usually changes at a pause); each run is embedded as 1.6 s windows. Runs are
clustered by their mean vector (average linkage on cosine distance, the number of voices
estimated from the tree, nudged by how many people the feed names), the windows then
reassigned to the nearest voice, and every word given the voice that its windows resemble
most, with a Viterbi pass that makes changing speaker cost something inside a run and little at
a pause. Segments are split where the speaker changes, at word boundaries. Overlapping speech
is one stream in the transcript: its words go to the voice that dominates them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.records import Segment, Word
from ingest.speakers.encoder import WINDOW_SECONDS, VoiceEncoder
from ingest.speakers.features import SAMPLE_RATE

PAUSE_SECONDS = 0.25  # a gap between words this long may be a change of speaker
HOP_SECONDS = WINDOW_SECONDS / 2  # windows overlap by half inside a long run
MIN_CLIP_SECONDS = 0.3  # shorter runs are too little voice to embed on their own
# Cosine distance between two runs' mean vectors: below it they are one voice (chosen on the
# bench's tuning conversations, bench/speakers.py).
SAME_VOICE_DISTANCE = 0.18
MAX_VOICES = 8
MIN_SPLIT_DISTANCE = 0.12  # a hint never splits runs closer than this into two voices
HINT_FOLD_SHARE = 0.1  # with a hint, extra voices with less of the speech than this are folded
MAX_CUT = 40  # clusters looked at when following a hint (outliers are clusters too)
MIN_VOICE_SECONDS = 3.0  # a "voice" with less speech than this is noise in a real one
MIN_VOICE_SHARE = 0.03  # or with less than this share of the episode's speech
KMEANS_PASSES = 2
SWITCH_COST = 0.15  # similarity given up to change voice between two words with no pause
PAUSE_SWITCH_COST = 0.02  # and at a pause


@dataclass
class Voice:
    """One voice of an episode: its number in order of first speech, mean vector, speech time."""

    index: int
    vector: np.ndarray
    seconds: float
    first: float  # when it first speaks


@dataclass
class Diarization:
    segments: list[Segment]  # split at speaker changes; `speaker` left for the names to fill
    voices: list[Voice] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)  # the voice (index) of each segment


@dataclass
class _Run:
    words: list[tuple[int, Word]]  # (segment index, word)

    @property
    def start(self) -> float:
        return self.words[0][1].start

    @property
    def end(self) -> float:
        return self.words[-1][1].end


def speech_runs(segments: list[Segment]) -> list[_Run]:
    """The transcript's words in runs separated by pauses (a segment without word times is one
    word spanning it)."""
    words: list[tuple[int, Word]] = []
    for index, segment in enumerate(segments):
        timed = segment.words or [Word(segment.start, segment.end, segment.text)]
        words += [(index, w) for w in timed if w.end > w.start or w.word.strip()]
    runs: list[_Run] = []
    for item in words:
        if runs and item[1].start - runs[-1].end < PAUSE_SECONDS:
            runs[-1].words.append(item)
        else:
            runs.append(_Run([item]))
    return runs


def run_windows(run: _Run) -> list[tuple[float, float]]:
    """(start, end) windows covering a run: one if it is short, else overlapping 1.6 s ones."""
    start, end = run.start, max(run.end, run.start + MIN_CLIP_SECONDS)
    if end - start <= WINDOW_SECONDS:
        return [(start, end)]
    starts = list(np.arange(start, end - WINDOW_SECONDS, HOP_SECONDS)) + [end - WINDOW_SECONDS]
    return [(float(s), float(s) + WINDOW_SECONDS) for s in starts]


def clips(
    blocks: Iterator[np.ndarray], spans: list[tuple[float, float]]
) -> Iterator[tuple[int, np.ndarray]]:
    """(index, audio) of each (start, end) span, in order of start, from a stream of sample
    blocks; only the samples still needed are kept, so memory does not grow with the episode."""
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    buffer = np.zeros(0, dtype=np.float32)
    offset = 0  # sample index of buffer[0]
    blocks = iter(blocks)
    exhausted = False
    for i in order:
        first = int(spans[i][0] * SAMPLE_RATE)
        last = int(spans[i][1] * SAMPLE_RATE)
        while offset + len(buffer) < last and not exhausted:
            block = next(blocks, None)
            if block is None:
                exhausted = True
            else:
                buffer = np.concatenate([buffer, block])
        drop = max(0, min(first, offset + len(buffer)) - offset)
        buffer, offset = buffer[drop:], offset + drop
        yield i, buffer[first - offset : last - offset]


def embed_spans(
    encoder: VoiceEncoder, blocks: Iterator[np.ndarray], spans: list[tuple[float, float]]
) -> np.ndarray:
    """One voice vector per span, rows in the order of `spans`."""
    vectors = np.zeros((len(spans), 256), dtype=np.float32)
    batch: list[tuple[int, np.ndarray]] = []
    for item in clips(blocks, spans):
        batch.append(item)
        if len(batch) == 256:
            _embed_batch(encoder, batch, vectors)
            batch = []
    _embed_batch(encoder, batch, vectors)
    return vectors


def _embed_batch(encoder, batch, vectors) -> None:
    if batch:
        vectors[[i for i, _ in batch]] = encoder.embed([clip for _, clip in batch])


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-9)


def cluster(vectors: np.ndarray, weights: np.ndarray, hint: int | None = None) -> np.ndarray:
    """A voice number for each row (weights: its seconds of speech).

    Average-linkage clusters of cosine distance. The tree is cut where the voices left are
    further apart than SAME_VOICE_DISTANCE; with a hint of how many people speak, a cut that
    leaves fewer voices of substance moves down the tree, and one that leaves more folds its
    smallest voices into the others. Clusters with too little speech
    to be a voice (a cough, a laugh, two words of noise) join the nearest voice of substance."""
    n = len(vectors)
    if n < 2:
        return np.zeros(n, dtype=int)
    from scipy.cluster.hierarchy import fcluster, linkage

    unit = _unit(vectors).astype(np.float64)
    tree = linkage(unit, method="average", metric="cosine")
    heights = tree[::-1, 2]  # heights[c - 2]: the merge that takes c clusters down to c - 1
    minimum = max(MIN_VOICE_SECONDS, MIN_VOICE_SHARE * float(weights.sum()))

    def cut(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = fcluster(tree, count, criterion="maxclust") - 1
        sizes = np.bincount(labels, weights=weights, minlength=count)
        return labels, sizes >= minimum

    count = min(n, 1 + int(np.sum(heights > SAME_VOICE_DISTANCE)))
    chosen = cut(count)
    if hint and chosen[1].sum() < hint:
        # Fewer voices than the feed names: split further down the tree (never runs closer
        # than MIN_SPLIT_DISTANCE) to the first cut that leaves that many voices of substance.
        for other in range(count + 1, min(n, MAX_CUT) + 1):
            if heights[other - 2] < MIN_SPLIT_DISTANCE:
                break
            labels, big = cut(other)
            if big.sum() == hint:
                chosen = labels, big
                break
    labels, big = chosen
    if hint and big.sum() > hint:
        # More voices than the feed names: the smallest, with little of the speech, are one
        # person's stray runs and join the nearest voice; big ones are people and stay apart.
        # (Merging up the tree instead joined two people in all three such conversations of
        # the first held-out set, bench/speakers.py: DER 50% and 45% where this gives 8%.)
        sizes = np.bincount(labels, weights=weights, minlength=len(big))
        for k in np.argsort(sizes):
            if big.sum() > hint and big[k] and sizes[k] < HINT_FOLD_SHARE * weights.sum():
                big[k] = False
    if not big.any():
        return np.zeros(n, dtype=int)
    sizes = np.bincount(labels, weights=weights, minlength=len(big))
    keep = np.sort(np.flatnonzero(big)[np.argsort(-sizes[big])][:MAX_VOICES])
    big = np.isin(np.arange(len(big)), keep)
    centroids = _centroids(unit, weights, labels, int(labels.max()) + 1)[keep]
    out = np.searchsorted(keep, labels)
    small = ~big[labels]
    out[small] = np.argmax(unit[small] @ centroids.T, axis=1)
    return out


def _centroids(vectors, weights, labels, count) -> np.ndarray:
    out = np.zeros((count, vectors.shape[1]), dtype=np.float64)
    for k in range(count):
        chosen = labels == k
        if chosen.any():
            out[k] = (vectors[chosen] * weights[chosen, None]).sum(axis=0)
    return _unit(out)


def _viterbi(scores: np.ndarray, switch_costs: np.ndarray) -> np.ndarray:
    """The best voice per word: scores (words, voices), switch_costs[i] the cost of a change
    just before word i."""
    words, count = scores.shape
    best = scores[0].copy()
    back = np.zeros((words, count), dtype=int)
    for i in range(1, words):
        stay = best
        move = best.max() - switch_costs[i]
        came = np.where(stay >= move, np.arange(count), int(best.argmax()))
        best = np.maximum(stay, move) + scores[i]
        back[i] = came
    path = np.zeros(words, dtype=int)
    path[-1] = int(best.argmax())
    for i in range(words - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


@dataclass
class Speech:
    """An episode's speech as the encoder heard it: runs of words, their windows, vectors."""

    runs: list[_Run]
    spans: list[tuple[float, float]]  # each window's (start, end)
    owner: np.ndarray  # the run each window belongs to
    vectors: np.ndarray  # one voice vector per window, as the encoder gave it


def embed_speech(
    encoder: VoiceEncoder, blocks: Iterator[np.ndarray], segments: list[Segment]
) -> Speech:
    """Embed the transcript's speech (the costly half of diarizing: the encoder)."""
    runs = speech_runs(segments)
    spans, owner = [], []
    for r, run in enumerate(runs):
        for span in run_windows(run):
            spans.append(span)
            owner.append(r)
    vectors = embed_spans(encoder, blocks, spans) if spans else np.zeros((0, 256), np.float32)
    return Speech(runs, spans, np.array(owner, dtype=int), vectors)


def diarize(
    encoder: VoiceEncoder,
    blocks: Iterator[np.ndarray],
    segments: list[Segment],
    hint: int | None = None,
) -> Diarization:
    """Label the transcript's words by voice and split its segments where the voice changes."""
    return assign(embed_speech(encoder, blocks, segments), segments, hint)


def assign(speech: Speech, segments: list[Segment], hint: int | None = None) -> Diarization:
    """Cluster the windows into voices and give every word one (the cheap half)."""
    runs, spans, owner = speech.runs, speech.spans, speech.owner
    if not runs:
        return Diarization(list(segments))
    windows = speech.vectors
    seconds = np.array([max(b - a, MIN_CLIP_SECONDS) for a, b in spans])
    # Runs are clustered, not windows: a run's mean vector is steadier than any of its windows
    # (measured on the bench's tuning set: DER 4% against 14% with two voices; with three,
    # 22% against 15%, where runs that hold two turns run together mislead).
    items = _unit(np.stack([windows[owner == r].mean(axis=0) for r in range(len(runs))]))
    weights = np.array([max(run.end - run.start, MIN_CLIP_SECONDS) for run in runs])
    labels = cluster(items, weights, hint)
    centroids = _centroids(items, weights, labels, int(labels.max()) + 1)
    # Two passes of k-means on the windows, from the clusters found.
    for _ in range(KMEANS_PASSES):
        window_labels = np.argmax(windows @ centroids.T, axis=1)
        centroids = _centroids(windows, seconds, window_labels, len(centroids))

    words = [item for run in runs for item in run.words]
    starts = np.array([a for a, _ in spans])
    ends = np.array([b for _, b in spans])
    window_scores = windows @ centroids.T
    # A word scores as the mean of its run's windows that cover it (a run's windows are
    # consecutive in `spans`, so each word looks at its own run's few, not the episode's all).
    first_window = np.searchsorted(owner, np.arange(len(runs)))
    last_window = np.searchsorted(owner, np.arange(len(runs)), side="right")
    scores = np.zeros((len(words), len(centroids)))
    i = 0
    for r, run in enumerate(runs):
        own = slice(first_window[r], last_window[r])
        for _, word in run.words:
            mid = (word.start + word.end) / 2
            covering = (starts[own] <= mid) & (ends[own] >= mid)
            mine = window_scores[own][covering] if covering.any() else window_scores[own]
            scores[i] = mine.mean(axis=0)
            i += 1
    switch = np.full(len(words), SWITCH_COST)
    boundaries = np.cumsum([len(run.words) for run in runs])[:-1]
    switch[boundaries] = PAUSE_SWITCH_COST
    word_labels = _viterbi(scores, switch)

    # Number voices by first speech, dropping any that no word kept.
    order = list(dict.fromkeys(int(k) for k in word_labels))
    renumber = {old: new for new, old in enumerate(order)}
    word_labels = np.array([renumber[int(k)] for k in word_labels])
    voices = []
    for new, old in enumerate(order):
        mine = np.flatnonzero(word_labels == new)
        spoken_here = float(sum(words[i][1].end - words[i][1].start for i in mine))
        first = float(words[int(mine[0])][1].start)
        voices.append(Voice(new, centroids[old].astype(np.float32), spoken_here, first))
    split, labels = split_segments(segments, words, word_labels)
    return Diarization(split, voices, labels)


def split_segments(
    segments: list[Segment], words: list[tuple[int, Word]], word_labels: np.ndarray
) -> tuple[list[Segment], list[int]]:
    """Each segment cut into pieces of one voice each, at word boundaries; the first piece keeps
    the segment's start and the last its end."""
    by_segment: dict[int, list[tuple[Word, int]]] = {}
    for (index, word), label in zip(words, word_labels, strict=True):
        by_segment.setdefault(index, []).append((word, int(label)))
    out: list[Segment] = []
    labels: list[int] = []
    previous = 0
    for index, segment in enumerate(segments):
        items = by_segment.get(index)
        if not items or not segment.words:
            label = items[0][1] if items else previous
            out.append(_copy(segment, segment.start, segment.end, segment.text, segment.words))
            labels.append(label)
            previous = label
            continue
        pieces: list[list[tuple[Word, int]]] = []
        for item in items:
            if pieces and pieces[-1][-1][1] == item[1]:
                pieces[-1].append(item)
            else:
                pieces.append([item])
        for n, piece in enumerate(pieces):
            piece_words = [w for w, _ in piece]
            start = segment.start if n == 0 else piece_words[0].start
            end = segment.end if n == len(pieces) - 1 else piece_words[-1].end
            text = "".join(w.word for w in piece_words).strip() if len(pieces) > 1 else segment.text
            out.append(_copy(segment, start, end, text, piece_words))
            labels.append(piece[0][1])
        previous = labels[-1]
    return out, labels


def _copy(segment: Segment, start: float, end: float, text: str, words: list[Word]) -> Segment:
    return Segment(
        start=start,
        end=end,
        text=text,
        speaker=None,
        avg_logprob=segment.avg_logprob,
        no_speech_prob=segment.no_speech_prob,
        words=list(words),
    )


def audio_blocks(audio_path: Path) -> Iterator[np.ndarray]:
    """The episode's audio as 16 kHz blocks (the transcriber's own decoder)."""
    from ingest.transcribe.stream import decoded_blocks

    return decoded_blocks(audio_path)

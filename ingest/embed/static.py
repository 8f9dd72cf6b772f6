"""A static embedding model for the site's search by meaning: one vector per WordPiece token,
mean-pooled, so a browser embeds a query in microseconds with no model runtime.

Made from the sentence model (ingest.embed, the taggers' MiniLM; no PyTorch) in two steps:

1. Distil, as model2vec does (Tulkens and van Dongen 2024): every token of the vocabulary is run
   through MiniLM as a one-token sentence ([CLS] token [SEP], mean-pooled as
   sentence-transformers pools). Alone, that model scored every text alike (a nonsense query
   reached a cosine of 0.66 with the sample show's passages).
2. Fit, as tokenlearn (the recipe of model2vec's potion models) does: the token vectors are
   moved, least squares with a pull towards step 1, so that a sentence's mean of them matches
   MiniLM's own vector of it (PCA-reduced to DIMENSION), over sentences of real talk. Each
   token is weighted in the mean by SIF (a / (a + p(token)), Arora et al. 2017), p counted in
   real talk, so "the" weighs little; the weights are baked into the rows.

Teacher text, read from ../shared/corpora/ when the model is made (`python -m
ingest.embed.static`, about 10 minutes) and never shipped: sentences of The Changelog and Founders
Talk (changelog/, CC BY-SA) and the recruiting show notes (recruiting-notes/). Brain Science,
bench/relevance.py's held-out set, is not among them. The result ships with the package
(`MODEL_FILE`) in the one format both Python and the site's search.js read: float32 row scales
(one per token), then int8 rows (tokens x DIMENSION), little-endian. A text's vector is the
mean of its tokens' rows (scale x int8), [UNK] and special tokens left out, L2-normalised.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ingest.embed import VOCAB, int8

MODEL_ID = "minilm-static-128-v2"  # what the site's vectors were made with
DIMENSION = 128  # 4 MB for 30,522 tokens: with 300 long episodes' vectors, under 10 MB
MODEL_FILE = Path(__file__).with_name("static-128.bin")
SIF_COEFFICIENT = 1e-3  # Arora et al.'s a; p(token) is a token's share of the counted talk
PULL = 0.1  # weight of the distilled vectors against the teacher's sentences in the fit
FIT_ITERATIONS = 100  # conjugate gradient steps
DISTIL_BATCH = 1024  # one-token sentences per ONNX run
CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
TEACHER_SENTENCES = {"podcast": 40_000, "founderstalk": 8_000}  # per Changelog show
NOTES_REPEAT = 5  # the recruiting notes are few (756 sentences): each counts five times
# Tokens never averaged in: padding, unknown, and the sentence markers.
_SKIPPED = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def vocabulary() -> list[str]:
    return VOCAB.read_text("utf-8").splitlines()


def distil(tokens: Sequence[int] | None = None, threads: int = 2) -> np.ndarray:
    """MiniLM's sentence vector (384 floats) of each token id as a one-token sentence."""
    from ingest.embed import DIMENSION as FULL
    from ingest.embed import Encoder

    encoder = Encoder(threads=threads)
    words = vocabulary()
    ids = list(range(len(words))) if tokens is None else list(tokens)
    cls, sep = words.index("[CLS]"), words.index("[SEP]")
    out = np.zeros((len(ids), FULL), dtype=np.float32)
    for start in range(0, len(ids), DISTIL_BATCH):
        batch = ids[start : start + DISTIL_BATCH]
        inputs = np.array([[cls, token, sep] for token in batch], dtype=np.int64)
        (hidden,) = encoder.session.run(
            None,
            {
                "input_ids": inputs,
                "attention_mask": np.ones_like(inputs),
                "token_type_ids": np.zeros_like(inputs),
            },
        )
        out[start : start + len(batch)] = hidden.mean(axis=1)
    return out


def _talk(show: str) -> list[str]:
    """The sentences of a Changelog show's transcripts (speaker labels and times removed)."""
    found = []
    for path in sorted((CORPORA / "changelog" / show).glob("*.md")):
        for paragraph in path.read_text("utf-8").split("\n\n"):
            paragraph = re.sub(r"^\*\*[^*]+:\*\*\s*", "", paragraph.strip())
            paragraph = re.sub(r"\\\[[0-9:.]+\\\]", " ", paragraph).replace("\\", "")
            found += [s for s in re.split(r"(?<=[.!?])\s+", paragraph) if 4 <= len(s.split()) <= 60]
    return found


def teacher_text() -> tuple[list[str], list[str]]:
    """(sentences to fit on, the talk tokens are counted in)."""
    import random

    sentences = []
    talk = _talk("podcast")
    for show, count in TEACHER_SENTENCES.items():
        found = talk if show == "podcast" else _talk(show)
        random.Random(show).shuffle(found)
        sentences += found[:count]
    notes = []
    for line in (CORPORA / "recruiting-notes" / "episodes.jsonl").read_text("utf-8").splitlines():
        record = json.loads(line)
        fields = [record["title"], record["description"], record["transcript"], *record["bullets"]]
        for part in "\n".join(fields).split("\n"):
            notes += [s for s in re.split(r"(?<=[.!?])\s+", part) if 3 <= len(s.split()) <= 60]
    return sentences + notes * NOTES_REPEAT, talk


def _weights(counts: np.ndarray) -> np.ndarray:
    return SIF_COEFFICIENT / (SIF_COEFFICIENT + counts / counts.sum())


def _mean_matrix(tokenizer, texts: Sequence[str], weights: np.ndarray, skipped: set[int]):
    """Sparse (texts x tokens): each text's SIF-weighted mean of its tokens."""
    import scipy.sparse as sparse

    rows, columns, values = [], [], []
    for row, encoding in enumerate(tokenizer.encode_batch(list(texts), add_special_tokens=False)):
        ids = [i for i in encoding.ids if i not in skipped]
        total = sum(weights[i] for i in ids)
        for i in ids:
            rows.append(row)
            columns.append(i)
            values.append(weights[i] / total)
    return sparse.csr_matrix((values, (rows, columns)), shape=(len(texts), len(weights)))


def fit(distilled: np.ndarray, sentences: Sequence[str], targets: np.ndarray, counts: np.ndarray):
    """Token rows (SIF weights baked in) whose weighted mean over a sentence's tokens matches
    the teacher's vector of it, PCA-reduced: min |A E - Y|^2 + PULL |E - E0|^2, by conjugate
    gradients on the normal equations, all DIMENSION columns at once."""
    from tokenizers.implementations import BertWordPieceTokenizer

    mean = targets.mean(axis=0)
    _, _, components = np.linalg.svd(targets - mean, full_matrices=False)
    basis = components[:DIMENSION].T
    goal = (targets - mean) @ basis
    start = (distilled / np.linalg.norm(distilled, axis=1, keepdims=True) - mean) @ basis
    words = vocabulary()
    skipped = {words.index(token) for token in _SKIPPED}
    weights = _weights(counts)
    tokenizer = BertWordPieceTokenizer(
        str(VOCAB), lowercase=True, strip_accents=None, handle_chinese_chars=True
    )
    a = _mean_matrix(tokenizer, sentences, weights, skipped)
    at = a.T.tocsr()

    def apply(x):
        return at @ (a @ x) + PULL * x

    x = start.copy()
    residual = at @ goal + PULL * start - apply(x)
    direction = residual.copy()
    norms = (residual * residual).sum(axis=0)
    for _ in range(FIT_ITERATIONS):
        step = apply(direction)
        alpha = norms / np.maximum((direction * step).sum(axis=0), 1e-30)
        x += direction * alpha
        residual -= step * alpha
        new = (residual * residual).sum(axis=0)
        direction = residual + direction * (new / np.maximum(norms, 1e-30))
        norms = new
    return (x * weights[:, None]).astype(np.float32)


def token_counts(talk: Sequence[str]) -> np.ndarray:
    from tokenizers.implementations import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(
        str(VOCAB), lowercase=True, strip_accents=None, handle_chinese_chars=True
    )
    counts = np.zeros(len(vocabulary()))
    for encoding in tokenizer.encode_batch(list(talk), add_special_tokens=False):
        np.add.at(counts, encoding.ids, 1)
    return counts


class StaticModel:
    """The shipped model: the tokenizer and the token rows, dequantised."""

    def __init__(self, path: Path = MODEL_FILE) -> None:
        from tokenizers.implementations import BertWordPieceTokenizer

        words = vocabulary()
        try:
            self.rows = int8.unpack(np.fromfile(path, dtype=np.uint8), len(words))
        except ValueError as error:
            raise ValueError(f"{path} is not a model of {len(words)} tokens: {error}") from None
        self.dimension = self.rows.shape[1]
        self.skipped = {words.index(token) for token in _SKIPPED}
        # The same settings as the sentence model's tokenizer (ingest.embed.Encoder), no
        # truncation: search.js tokenizes whole texts too.
        self.tokenizer = BertWordPieceTokenizer(
            str(VOCAB), lowercase=True, strip_accents=None, handle_chinese_chars=True
        )

    def token_ids(self, text: str) -> list[int]:
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        return [i for i in ids if i not in self.skipped]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text (zeros for a text of no tokens)."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = self.token_ids(text)
            if not ids:
                continue
            mean = self.rows[ids].mean(axis=0)
            norm = np.linalg.norm(mean)
            if norm > 0:
                out[row] = mean / norm
        return out


@functools.lru_cache(maxsize=1)
def load() -> StaticModel:
    """The shipped static model, loaded once (about 0.1 s)."""
    return StaticModel()


def main() -> None:
    """Make MODEL_FILE: distil, embed the teacher sentences with MiniLM, fit, quantise."""
    import time

    from ingest.embed import Encoder
    from ingest.fileio import write_atomic

    started = time.perf_counter()
    distilled = distil()
    sentences, talk = teacher_text()
    targets = Encoder(threads=2).encode(sentences, batch_size=32)
    rows = fit(distilled, sentences, targets, token_counts(talk))
    write_atomic(MODEL_FILE, int8.pack(rows))
    seconds = time.perf_counter() - started
    print(
        f"{MODEL_FILE}: {MODEL_FILE.stat().st_size} bytes,"
        f" {len(sentences)} sentences, {seconds:.0f} s"
    )


if __name__ == "__main__":
    main()

"""A static embedding model for the site's search by meaning: one vector per WordPiece token,
mean-pooled, so a browser embeds a query in microseconds with no model runtime.

Distilled from the sentence model (ingest.embed) the way model2vec distils one (Tulkens and
van Dongen 2024): every token of the vocabulary is run through MiniLM as a one-token sentence
([CLS] token [SEP], mean-pooled as sentence-transformers pools), the vectors are reduced by PCA
to DIMENSION, and each is weighted by SIF (a / (a + p(token)), p from Zipf's law over the
vocabulary's order, which for BERT's vocabulary follows frequency) so that common tokens weigh
less in the mean. No PyTorch: the ONNX model the taggers load.

The distilled model ships with the package (`MODEL_FILE`, made by `python -m
ingest.embed.static`) in the one format both Python and the site's search.js read: float32
row scales (one per token), then int8 rows (tokens x DIMENSION), little-endian. A text's
vector is the mean of its tokens' rows (scale x int8), [UNK] and special tokens left out,
L2-normalised.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ingest.embed import VOCAB

MODEL_ID = "minilm-static-128-v1"  # what the site's vectors were made with
DIMENSION = 128  # 4 MB for 30,522 tokens: with 300 long episodes' vectors, under 10 MB
MODEL_FILE = Path(__file__).with_name("static-128.bin")
SIF_COEFFICIENT = 1e-4  # model2vec's default
DISTIL_BATCH = 1024  # one-token sentences per ONNX run
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


def reduce(vectors: np.ndarray, dimension: int = DIMENSION) -> np.ndarray:
    """PCA to `dimension`, then SIF weights by Zipf rank (the vocabulary's order)."""
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ components[:dimension].T
    rank = np.arange(2, len(vectors) + 2, dtype=np.float64)
    probability = (1 / rank) / (1 / rank).sum()
    weights = SIF_COEFFICIENT / (SIF_COEFFICIENT + probability)
    return (reduced * weights[:, None]).astype(np.float32)


def quantise(rows: np.ndarray) -> bytes:
    """The model file's bytes: float32 scales, then int8 rows (see the module docstring)."""
    scales = np.abs(rows).max(axis=1) / 127
    scales[scales == 0] = 1.0
    quantised = np.clip(np.rint(rows / scales[:, None]), -127, 127).astype(np.int8)
    return scales.astype("<f4").tobytes() + quantised.tobytes()


class StaticModel:
    """The shipped model: the tokenizer and the token rows, dequantised."""

    def __init__(self, path: Path = MODEL_FILE) -> None:
        from tokenizers.implementations import BertWordPieceTokenizer

        words = vocabulary()
        raw = np.fromfile(path, dtype=np.uint8)
        count = len(words)
        dimension = (len(raw) - 4 * count) // count
        if len(raw) != count * (4 + dimension):
            raise ValueError(f"{path}: {len(raw)} bytes is not a model of {count} tokens")
        scales = raw[: 4 * count].view("<f4")
        rows = raw[4 * count :].view(np.int8).reshape(count, dimension)
        self.rows = rows.astype(np.float32) * scales[:, None]
        self.dimension = dimension
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
    """Distil the model from MiniLM and write MODEL_FILE (about a minute on 2 cores)."""
    import time

    from ingest.fileio import write_atomic

    started = time.perf_counter()
    rows = reduce(distil())
    write_atomic(MODEL_FILE, quantise(rows))
    seconds = time.perf_counter() - started
    print(f"{MODEL_FILE}: {MODEL_FILE.stat().st_size} bytes in {seconds:.0f} s")


if __name__ == "__main__":
    main()

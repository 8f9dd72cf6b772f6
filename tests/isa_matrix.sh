#!/usr/bin/env bash
# The Whisper tests (marker `asr`) on each CPU path CTranslate2 can take: its AVX2 kernels, its
# AVX-512 kernels (on a CPU that has them) and one and two threads. Whisper's exact words and
# times differ between these paths, so tests over model output assert bounds and properties;
# every run here must pass. No test pins CT2_FORCE_CPU_ISA: none needs identical output.
# Run after tests/run.sh has made .venv; arguments go to pytest (`-k stream`).
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. .venv/bin/activate

failed=()
run() {
    local name=$1
    shift
    echo "== $name"
    "$@" python -m pytest -q -m asr -p no:cacheprovider "${pytest_args[@]}" || failed+=("$name")
}
pytest_args=("$@")

run "CT2_FORCE_CPU_ISA=AVX2" env CT2_FORCE_CPU_ISA=AVX2
if grep -qw avx512f /proc/cpuinfo; then
    run "CT2_FORCE_CPU_ISA=AVX512" env CT2_FORCE_CPU_ISA=AVX512
else
    echo "== CT2_FORCE_CPU_ISA=AVX512: this CPU has no AVX-512, not run"
fi
# The engines use as many threads as the cores the process may run on.
run "1 thread" taskset -c 0
if [ "$(nproc --all)" -ge 2 ]; then
    run "2 threads" taskset -c 0,1
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
echo "all passed"

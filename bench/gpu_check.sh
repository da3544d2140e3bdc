#!/usr/bin/env bash
# The one prepared check for a machine with a GPU (run from the repository root):
#
#   bash bench/gpu_check.sh                       # install the gpu extra, GPU tests, GPU benchmark
#   ZKDL_GPU_CHECK_NO_INSTALL=1 bash bench/gpu_check.sh   # skip the pip install (dry runs)
#
# Steps: the devices (nvidia-smi -L), pip install -e ".[gpu,test]" (CuPy for CUDA 12), the device
# check (prover_gpu.available()), python -m pytest -q -n 0 -m gpu tests/test_gpu_device.py
# tests/test_gpu_backend.py (kernels vs CPU; window proofs on the GPU byte-identical), then
# python bench/gpu.py, then bench/train.py --backend cpu and --backend gpu side by side
# ($ZKDL_GPU_CHECK_TRAIN: configurations, default digits; none skips).  Every step runs even if an
# earlier one failed (so one run shows everything);
# everything goes to stdout and, when $OUT is set, into $OUT/ (gpu_check.log, pytest_gpu.txt,
# bench_gpu.jsonl, bench_train.jsonl).  Exit status: 0 all passed; 3 no usable GPU (the reason is
# printed); 1 some other step failed.
# Other knobs: PYTHON (default python), ZKDL_GPU_CHECK_PIP_TIMEOUT (seconds, default 600),
# ZKDL_GPU_CHECK_BENCH_ARGS (extra arguments for bench/gpu.py), ZKDL_GPU_COMPILER (auto|nvcc|nvrtc).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-python}"
OUTDIR="${OUT:-}"
if [ -n "$OUTDIR" ]; then
    mkdir -p "$OUTDIR"
    exec > >(tee "$OUTDIR/gpu_check.log") 2>&1
fi

step() { printf '\n==== %s  [%s, +%ss]\n' "$1" "$(date -u +%H:%M:%S)" "$SECONDS"; }
declare -A RESULT=()
ORDER=()
record() { RESULT["$1"]="$2"; ORDER+=("$1"); }

step "machine"
echo "repository: $(pwd)"
echo "python: $("$PY" -c 'import sys; print(sys.version.split()[0], sys.executable)' 2>&1 || echo "not runnable")"
if command -v nvcc >/dev/null 2>&1; then
    echo "nvcc: $(command -v nvcc) ($(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo '?'))"
else
    echo "nvcc: not found (the nvrtc compile backend will be used)"
fi

step "devices (nvidia-smi -L)"
if command -v nvidia-smi >/dev/null 2>&1; then
    if nvidia-smi -L; then
        record devices ok
    else
        echo "nvidia-smi -L failed (rc $?): the driver sees no GPU"
        record devices "no GPU listed"
    fi
else
    echo "nvidia-smi: not found -- no NVIDIA driver on this machine, so no GPU"
    record devices "no nvidia-smi"
fi

step "install: pip install -e \".[gpu,test]\""
if [ "${ZKDL_GPU_CHECK_NO_INSTALL:-0}" = "1" ]; then
    echo "skipped (ZKDL_GPU_CHECK_NO_INSTALL=1)"
    record install skipped
else
    rc=0
    timeout "${ZKDL_GPU_CHECK_PIP_TIMEOUT:-600}" "$PY" -m pip install --retries 1 --timeout 30 -e ".[gpu,test]" || rc=$?
    if [ "$rc" = 0 ]; then
        record install ok
    else
        echo "pip install -e \".[gpu,test]\" FAILED (rc $rc: no package index reachable, or no cupy-cuda12x"
        echo "wheel for this platform); continuing with what is already installed"
        record install "FAILED rc=$rc"
    fi
fi
"$PY" - <<'EOF' || true
import importlib
for mod in ("zkdl._native", "cupy", "pytest", "hypothesis"):
    try:
        m = importlib.import_module(mod)
        print(f"{mod}: {getattr(m, '__version__', 'importable')}")
    except Exception as e:
        print(f"{mod}: NOT importable ({type(e).__name__}: {e})")
EOF

step "device check (zkdl.prover_gpu.available())"
DEVICE_OK=0
rc=0
"$PY" - <<'EOF' || rc=$?
import sys
import zkdl.prover_gpu as pg
st = pg.available()
if st:
    print(f"GPU available: {st.device}")
    sys.exit(0)
print("NO USABLE GPU:", st.reason)
sys.exit(3)
EOF
if [ "$rc" = 0 ]; then
    DEVICE_OK=1
    record device ok
else
    echo "==> no GPU device is usable here: the GPU tests below fail with this reason and the benchmark"
    echo "    reports it (figure \"unavailable\"); the result of this check is exit status 3"
    record device "NO DEVICE (rc $rc)"
fi

step "GPU tests: python -m pytest -q -n 0 -m gpu tests/test_gpu_device.py tests/test_gpu_backend.py"
rc=0
if [ -n "$OUTDIR" ]; then
    "$PY" -m pytest -q -n 0 -m gpu tests/test_gpu_device.py tests/test_gpu_backend.py --tb=short 2>&1 | tee "$OUTDIR/pytest_gpu.txt" || rc=$?
else
    "$PY" -m pytest -q -n 0 -m gpu tests/test_gpu_device.py tests/test_gpu_backend.py --tb=short || rc=$?
fi
record tests "$([ "$rc" = 0 ] && echo passed || echo "FAILED rc=$rc")"

step "GPU benchmark: python bench/gpu.py ${ZKDL_GPU_CHECK_BENCH_ARGS:-}"
rc=0
# shellcheck disable=SC2086
if [ -n "$OUTDIR" ]; then
    "$PY" bench/gpu.py ${ZKDL_GPU_CHECK_BENCH_ARGS:-} | tee "$OUTDIR/bench_gpu.jsonl" || rc=$?
else
    "$PY" bench/gpu.py ${ZKDL_GPU_CHECK_BENCH_ARGS:-} || rc=$?
fi
case "$rc" in
    0) record bench ok ;;
    1) record bench "MISMATCH or failed figure (rc 1)" ;;
    3) record bench "unavailable (rc 3)" ;;
    *) record bench "FAILED rc=$rc" ;;
esac

step "end to end: python bench/train.py --config ${ZKDL_GPU_CHECK_TRAIN:-digits} --backend cpu, then gpu"
# the prover through zkdl.backend on the C extension and on the CUDA kernels, side by side in one
# run (ZKDL_GPU_CHECK_TRAIN=none skips it; a space-separated list runs several configurations)
if [ "${ZKDL_GPU_CHECK_TRAIN:-digits}" = "none" ]; then
    echo "skipped (ZKDL_GPU_CHECK_TRAIN=none)"
else
    rc=0
    for cfg in ${ZKDL_GPU_CHECK_TRAIN:-digits}; do
        for be in cpu gpu; do
            if [ -n "$OUTDIR" ]; then
                "$PY" bench/train.py --config "$cfg" --backend "$be" --prove-repeat 1 --repeat 1 \
                    | tee -a "$OUTDIR/bench_train.jsonl" || rc=$?
            else
                "$PY" bench/train.py --config "$cfg" --backend "$be" --prove-repeat 1 --repeat 1 || rc=$?
            fi
        done
    done
    record train "$([ "$rc" = 0 ] && echo ok || echo "FAILED rc=$rc")"
fi

step "summary"
FAIL=0
for k in "${ORDER[@]}"; do
    printf '  %-8s %s\n' "$k" "${RESULT[$k]}"
    case "${RESULT[$k]}" in ok|passed|skipped) ;; *) FAIL=1 ;; esac
done
if [ "$DEVICE_OK" != 1 ]; then
    echo "RESULT: no usable GPU on this machine -- nothing ran on a GPU (exit 3)"
    exit 3
fi
if [ "$FAIL" != 0 ]; then
    echo "RESULT: a step failed (exit 1)"
    exit 1
fi
echo "RESULT: GPU tests passed and the benchmark ran (exit 0)"

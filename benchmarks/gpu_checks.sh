#!/usr/bin/env bash
# One prepared run on a CUDA machine (the device tool's H200) for issue 10: the CUDA
# parametrizations of the unit tests, then the GPU benchmarks, each step time-boxed, all logs and
# results under $OUT. From the repository root:
#
#   OUT=/some/dir bash benchmarks/gpu_checks.sh
#   (device tool: run(command="bash benchmarks/gpu_checks.sh", carry=[".whl"], timeout_s=600);
#    there $OUT is set, and the 8 files below come back: the tool returns at most 8)
#
# Budget: the device tool allows 600 s per command; the steps' time boxes add up to 525 s, and
# each box's 10 s grace to kill a step that ignores SIGTERM to at most 50 s more. Expected times
# are estimates (no GPU was lent when this was written; the whole suite, 371 tests then, took
# 73 s on an H200 in 2026-11):
#
#   step        time box  expected   writes
#   setup          45 s     ~15 s    $OUT/summary.txt (wheels, nvidia-smi, torch and CUDA seen)
#   tests         120 s     ~45 s    $OUT/tests.log (pytest -k cuda on tests/test_{core,nn,sim}_*.py)
#   roofline       90 s     ~30 s    $OUT/roofline.log, $OUT/roofline_cuda.json
#   peers         210 s    ~120 s    $OUT/peers.log, $OUT/peers_speed_cuda.json (14 cases x 3 runs)
#   core_speed     60 s     ~20 s    $OUT/core_speed.log, $OUT/speed_cuda.json
#   total         525 s
#
# The roofline (issue 10's H200 figures) runs before peers_speed, the longest step, so that an
# overrun there cannot cost it. A step that fails or runs out of time does not stop the next; the
# summary at the end of $OUT/summary.txt gives each step's status, exit code and seconds, and
# the script exits non-zero if any step did not pass. A step killed by its time box writes no JSON
# (the benchmarks write theirs at the end); its log shows how far it got.
#
# Wheels: the machine's python3 (3.12) has torch, pytest, numpy, matplotlib, scikit-learn and
# h5py, but no SpikingJelly or Norse (peers_speed.py then prints "—" in their columns). Wheels in
# .whl/ (git-ignored, so name it in carry) are installed into /tmp/site when their distribution
# is missing there. To fill .whl/ here:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl spikingjelly==2.0.0 loguru norse==1.1.0 nir nirtorch
set -uo pipefail
OUT=${OUT:-/tmp/gpu_checks}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 STDPWIDGETS_SKIP_BOOK_BUILD=1
STEPS=() RESULTS=()
START=$SECONDS

# run_step NAME SECONDS LOG COMMAND...: run COMMAND under a time box, output to LOG (and its tail
# to the terminal), and record PASS / FAIL (exit code) / TIMEOUT
run_step() {
  local name=$1 box=$2 log=$3
  shift 3
  local t0=$SECONDS rc
  echo "=== $name (time box ${box} s): $*" >>"$log"
  timeout -k 10 "$box" "$@" >>"$log" 2>&1
  rc=$?
  tail -n 40 "$log"
  local status=PASS
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status=TIMEOUT; elif [ "$rc" -ne 0 ]; then status=FAIL; fi
  STEPS+=("$name") RESULTS+=("$status rc=$rc $((SECONDS - t0)) s (box $box s)")
  echo "=== $name: $status (rc $rc) after $((SECONDS - t0)) s"
}

setup() {
  nvidia-smi -L
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv
  if compgen -G ".whl/*.whl" >/dev/null; then
    # only the wheels whose distribution this python lacks: a carried copy must not shadow the image's
    local missing
    missing=$("$PY" - <<'EOF'
import glob, importlib.metadata, os
for path in sorted(glob.glob(".whl/*.whl")):
    dist = os.path.basename(path).split("-")[0]
    try:
        importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        print(path)
EOF
)
    echo "wheels to install: ${missing:-none}"
    if [ -n "$missing" ]; then
      # shellcheck disable=SC2086 - one path per word
      "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $missing || return 1
    fi
  else
    echo "no .whl/ here: the peers' columns of peers_speed.py will show '—'"
  fi
  "$PY" -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'; \
print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(), \
torch.cuda.get_device_properties(0))" || return 1
  "$PY" -c "import stdpwidgets, sys; print('stdpwidgets from', stdpwidgets.__file__, 'python', sys.version.split()[0])"
}

export PY PYTHONPATH="$PWD:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
if [ "${1:-}" = "--setup" ]; then setup; exit; fi  # the setup step, run under its time box
run_step setup 45 "$OUT/summary.txt" bash "$0" --setup

# the CUDA parametrizations: ids with [cuda] (the device fixture) and tests named for CUDA; the
# CPU ones run on every machine anyway. TESTS_K= (empty) runs the three groups whole.
PYTEST_FLAGS=(-q -p no:cacheprovider -rs --continue-on-collection-errors)
"$PY" -c "import pytest_timeout" 2>/dev/null && PYTEST_FLAGS+=(--timeout 60)  # one hung test is not all
SELECT=${TESTS_K-cuda}
[ -n "$SELECT" ] && PYTEST_FLAGS+=(-k "$SELECT")
run_step tests 120 "$OUT/tests.log" "$PY" -m pytest "${PYTEST_FLAGS[@]}" tests/test_core_*.py tests/test_nn_*.py tests/test_sim_*.py

run_step roofline 90 "$OUT/roofline.log" "$PY" benchmarks/roofline.py --device cuda --json "$OUT/roofline_cuda.json"

run_step peers 210 "$OUT/peers.log" "$PY" benchmarks/peers_speed.py --device cuda --runs 3 --json "$OUT/peers_speed_cuda.json"

run_step core_speed 60 "$OUT/core_speed.log" "$PY" benchmarks/core_speed.py --device cuda --json "$OUT/speed_cuda.json"

failed=0
for status in "${RESULTS[@]}"; do
  case $status in PASS*) ;; *) failed=$((failed + 1)) ;; esac
done
{
  echo "=== gpu_checks.sh summary ($((SECONDS - START)) s in all, $(date -u +%FT%TZ))"
  for i in "${!STEPS[@]}"; do
    printf '  %-11s %s\n' "${STEPS[$i]}" "${RESULTS[$i]}"
  done
  echo "  $failed of ${#STEPS[@]} steps did not pass"
} | tee -a "$OUT/summary.txt"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# One prepared run on a CUDA machine (the device tool's H200): the core and sim tests with their
# CUDA parametrizations, then the core speed benchmark on the GPU. Writes logs under $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_checks}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" > /dev/null; then  # SpikingJelly + loguru, for the cross-check
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
python3 -m pytest -q -p no:cacheprovider -rs tests/test_core_*.py $(ls tests/test_sim_*.py 2>/dev/null) 2>&1 | tee "$OUT/tests.log" | tail -40
python3 benchmarks/core_speed.py --device cuda --json "$OUT/speed_cuda.json" 2>&1 | tee "$OUT/bench.log"

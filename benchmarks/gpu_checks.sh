#!/usr/bin/env bash
# One prepared run on a CUDA machine (the device tool's H200): the unit tests with their CUDA
# parametrizations (the book build is skipped: no Jupyter Book there), then the core speed benchmark
# on the GPU. Writes logs under $OUT. Pure-Python wheels that the machine lacks (ipywidgets and its
# dependencies, SpikingJelly + loguru for the cross-check) travel in .whl/.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_checks}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
STDPWIDGETS_SKIP_BOOK_BUILD=1 python3 -m pytest -q -p no:cacheprovider -rs tests 2>&1 | tee "$OUT/tests.log" | tail -40
python3 benchmarks/core_speed.py --device cuda --json "$OUT/speed_cuda.json" 2>&1 | tee "$OUT/bench.log"

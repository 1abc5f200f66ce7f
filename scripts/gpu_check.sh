#!/usr/bin/env bash
# Check the GPU path for real on a machine with one or more CUDA GPUs (under 8 minutes on one):
# bf16 training of the paper's network, torchrun (NCCL), the driver on the GPU against the CPU,
# training samples/s and driver records/s. See ecgnet/benchmarks/gpu_check.py for the tolerances.
#   bash scripts/gpu_check.sh [--records N] [--epochs E] [--json FILE]
# Uses the Python on PATH (PYTHON=... to choose), which must have torch with CUDA and the
# packages of requirements.txt; it runs this checkout's ecgnet (installed or not).
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
exec "${PYTHON:-python3}" -m ecgnet.benchmarks.gpu_check "$@"

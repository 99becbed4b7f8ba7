#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one call of a few minutes: the CUDA tests (fp32 against the CPU, mixed
# precision, compile, channels-last, CUDA graphs, fused twins, NCCL), then the speed rows of --channels_last and --cuda_graphs
# (eager and compiled) and the training step with and without --fuse_twins.
#   bash scripts/gpu_check.sh [OUT]      # OUT (default: ./gpu_check): test log, speed rows
# Needs dominate and pycocotools for the tests: `pip install -e ".[test]"`, or wheels on the path.
set -uo pipefail
out="${1:-gpu_check}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
timeout 300 python -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$out/test_cuda.log"
timeout 240 python scripts/benchmark_speed.py --short --match channels-last --out "$out/speed.md" 2>&1 | tee "$out/speed.log"
timeout 200 python scripts/benchmark_speed.py --twins --rounds 1 --match "bf16, channels-last, --ins_max" --out "$out/speed.md" 2>&1 | tee "$out/twins.log"
# with a longer lease: the same with --cuda_graphs (compiling takes minutes), and batch 1 in fp32
#   python scripts/benchmark_speed.py --twins --rounds 1 --match "cuda_graphs" --out "$out/speed.md"

#!/usr/bin/env bash
# One-shot GPU check (≤ 8 min on one H200, nothing downloaded): CUDA-marked tests, ResNet18
# PAT/PAT-EntM/TRADES step timings in fp32 vs bf16, AutoAttack through us vs raw pyautoattack.
# Run from the repository root with entrobust installed (a CUDA build of torch).
set -euo pipefail
cd "$(dirname "$0")/.."
python - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device"
print("GPU:", torch.cuda.get_device_name(), "| torch", torch.__version__)
PY
echo "== CUDA-marked tests"
python -m pytest -q -m cuda tests -p no:cacheprovider
echo "== ResNet18 training steps, fp32 vs bf16 (batch 128)"
python benchmarks/bench_training_steps.py --arch resnet18 --batch 128 --device cuda \
    --precision fp32,bf16 --repeats 10
echo "== AutoAttack: entrobust vs raw pyautoattack (ResNet18, 256 synthetic images)"
python benchmarks/bench_autoattack.py --arch resnet18 --n 256 --device cuda --repeats 2
echo "== attacks (digits PAT model): ours vs torchattacks, early exit, transfer reuse"
python benchmarks/bench_attacks.py --device cuda
echo "results in benchmarks/results/*.json"

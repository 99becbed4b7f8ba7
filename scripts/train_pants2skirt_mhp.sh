#!/usr/bin/env bash
# Train InstaGAN on pants2skirt_mhp with the paper's settings (load 270x180, crop 240x160).
# DATAROOT overrides the data folder; extra flags are passed on, e.g. --gpu_ids -1 or --continue_train.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 train.py --dataroot "${DATAROOT:-./datasets/pants2skirt_mhp}" --model insta_gan --name pants2skirt_mhp_instagan \
  --loadSizeH 270 --loadSizeW 180 --fineSizeH 240 --fineSizeW 160 --niter 100 --niter_decay 100 "$@"

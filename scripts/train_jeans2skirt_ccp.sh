#!/usr/bin/env bash
# Train InstaGAN on jeans2skirt_ccp with the paper's settings (load 330x220, crop 300x200).
# DATAROOT overrides the data folder; extra flags are passed on, e.g. --gpu_ids -1 or --continue_train.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 train.py --dataroot "${DATAROOT:-./datasets/jeans2skirt_ccp}" --model insta_gan --name jeans2skirt_ccp_instagan \
  --loadSizeH 330 --loadSizeW 220 --fineSizeH 300 --fineSizeW 200 --niter 400 --niter_decay 200 "$@"

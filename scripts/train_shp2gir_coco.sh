#!/usr/bin/env bash
# Train InstaGAN on shp2gir_coco with the paper's settings (load 220x220, crop 200x200).
# DATAROOT overrides the data folder; extra flags are passed on, e.g. --gpu_ids -1 or --continue_train.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 train.py --dataroot "${DATAROOT:-./datasets/shp2gir_coco}" --model insta_gan --name shp2gir_coco_instagan \
  --loadSizeH 220 --loadSizeW 220 --fineSizeH 200 --fineSizeW 200 --niter 100 --niter_decay 100 "$@"

#!/usr/bin/env bash
# Translate the test split of shp2gir_coco at 200x200, 20 instances per image, 2 per step (as the paper).
# DATAROOT overrides the data folder; extra flags are passed on, e.g. --phase sample --epoch 200.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 test.py --dataroot "${DATAROOT:-./datasets/shp2gir_coco}" --model insta_gan --name shp2gir_coco_instagan \
  --loadSizeH 200 --loadSizeW 200 --fineSizeH 200 --fineSizeW 200 --ins_max 20 --ins_per 2 "$@"

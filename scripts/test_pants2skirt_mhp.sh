#!/usr/bin/env bash
# Translate the test split of pants2skirt_mhp at 240x160, 20 instances per image, 2 per step (as the paper).
# DATAROOT overrides the data folder; extra flags are passed on, e.g. --phase sample --epoch 200.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 test.py --dataroot "${DATAROOT:-./datasets/pants2skirt_mhp}" --model insta_gan --name pants2skirt_mhp_instagan \
  --loadSizeH 240 --loadSizeW 160 --fineSizeH 240 --fineSizeW 160 --ins_max 20 --ins_per 2 "$@"

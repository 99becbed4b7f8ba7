#!/usr/bin/env bash
# Translate the test split of jeans2skirt_ccp at 300x200, 20 instances per image, 2 per step (as the paper).
# DATAROOT overrides the data folder; extra flags are passed on, e.g. --phase sample --epoch 200.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 test.py --dataroot "${DATAROOT:-./datasets/jeans2skirt_ccp}" --model insta_gan --name jeans2skirt_ccp_instagan \
  --loadSizeH 300 --loadSizeW 200 --fineSizeH 300 --fineSizeW 200 --ins_max 20 --ins_per 2 "$@"

#!/usr/bin/env bash
# The built-in demo: generate the shapes data set (squares -> discs), train InstaGAN on the CPU,
# translate the test split and print where the result pages are.
#   bash scripts/demo_shapes.sh            # full demo
#   DEMO_QUICK=1 bash scripts/demo_shapes.sh   # a smoke run in about a minute
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${DEMO_DATA:-datasets/shapes}
NAME=${DEMO_NAME:-shapes_instagan}
if [ "${DEMO_QUICK:-0}" = 1 ]; then
  TRAIN=24; TEST=6; EPOCHS=(--niter 1 --niter_decay 0); NET=(--ngf 8 --ndf 8 --n_blocks 1)
else
  TRAIN=200; TEST=30; EPOCHS=(--niter 6 --niter_decay 4); NET=(--ngf 8 --ndf 8 --n_blocks 2)
fi
SIZE=(--loadSizeH 48 --loadSizeW 48 --fineSizeH 48 --fineSizeW 48)

python3 datasets/make_shapes_dataset.py --out "$ROOT" --size 48 --train "$TRAIN" --test "$TEST" --max_instances 4
python3 train.py --dataroot "$ROOT" --name "$NAME" --gpu_ids -1 --display_id 0 --num_threads 1 --batch_size 4 \
  "${SIZE[@]}" "${NET[@]}" "${EPOCHS[@]}" --print_freq 200 --display_freq 200 --update_html_freq 400 --seed 0
python3 test.py --dataroot "$ROOT" --name "$NAME" --gpu_ids -1 --batch_size 4 --num_test "$TEST" \
  "${SIZE[@]}" "${NET[@]}" --ins_max 8 --ins_per 2
echo "training page: checkpoints/$NAME/web/index.html"
echo "test results:  results/$NAME/test_latest/index.html"

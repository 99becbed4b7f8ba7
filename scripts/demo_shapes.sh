#!/usr/bin/env bash
# The built-in demo: generate the shapes data set (squares -> discs), train InstaGAN on the CPU,
# translate the test split, score it, and print where the result pages are.
#   bash scripts/demo_shapes.sh                 # the full demo
#   DEMO_QUICK=1 bash scripts/demo_shapes.sh    # a smoke run in well under a minute
#   DEMO_LONG=1 bash scripts/demo_shapes.sh     # 9 epochs instead of 5: the background is kept better
# DEMO_DATA, DEMO_NAME, DEMO_CHECKPOINTS and DEMO_RESULTS move its folders; a rerun replaces the demo's run and results.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${DEMO_DATA:-datasets/shapes}
NAME=${DEMO_NAME:-shapes_instagan}
CKPT=${DEMO_CHECKPOINTS:-checkpoints}
RES=${DEMO_RESULTS:-results}
if [ "${DEMO_QUICK:-0}" = 1 ]; then
  TRAIN=24; TEST=6; SIDE=32; EPOCHS=(--niter 1 --niter_decay 0); NET=(--ngf 8 --ndf 8 --n_blocks 1)
  EVAL=(--classifier_steps 20)
else
  TRAIN=360; TEST=30; SIDE=48; EPOCHS=(--niter 3 --niter_decay 2 --lr 0.0005); NET=(--ngf 8 --ndf 8 --n_blocks 2)
  EVAL=()
  if [ "${DEMO_LONG:-0}" = 1 ]; then EPOCHS=(--niter 6 --niter_decay 3 --lr 0.0005); fi
fi
SIZE=(--loadSizeH "$SIDE" --loadSizeW "$SIDE" --fineSizeH "$SIDE" --fineSizeW "$SIDE")
DIRS=(--name "$NAME" --checkpoints_dir "$CKPT" --gpu_ids -1)

python3 datasets/make_shapes_dataset.py --out "$ROOT" --size "$SIDE" --train "$TRAIN" --test "$TEST" --max_instances 4
python3 train.py --dataroot "$ROOT" "${DIRS[@]}" --overwrite --display_id 0 --num_threads 1 --batch_size 4 \
  "${SIZE[@]}" "${NET[@]}" "${EPOCHS[@]}" --print_freq 200 --display_freq 200 --update_html_freq 400 --seed 0
python3 test.py --dataroot "$ROOT" "${DIRS[@]}" --overwrite --results_dir "$RES" --batch_size 4 --num_test "$TEST" \
  "${SIZE[@]}" "${NET[@]}" --ins_max 8 --ins_per 2
python3 evaluate.py --results "$RES/$NAME/test_latest" "${EVAL[@]}"
echo "training page: $CKPT/$NAME/web/index.html"
echo "test results:  $RES/$NAME/test_latest/index.html"

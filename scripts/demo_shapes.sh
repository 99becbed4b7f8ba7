#!/usr/bin/env bash
# The built-in demo: generate the shapes data set (boxes -> discs), train InstaGAN on the CPU, translate the test
# split, score it and say whether it met its targets (scripts/demo_shapes.py holds the recipe).
#   bash scripts/demo_shapes.sh                  # the demo, DEMO_SEED=0
#   DEMO_SEED=1 bash scripts/demo_shapes.sh      # another seed: another data set and another training run
#   DEMO_QUICK=1 bash scripts/demo_shapes.sh     # a smoke run of the same pipeline in well under a minute
# DEMO_DATA, DEMO_NAME, DEMO_CHECKPOINTS and DEMO_RESULTS move its folders; a rerun replaces the demo's run and results
# (a smoke run has folders of its own: datasets/shapes_quick, shapes_instagan_quick).
set -euo pipefail
exec python3 "$(dirname "$0")/demo_shapes.py" "$@"

#!/usr/bin/env bash
# Download MS COCO 2017 (images and instance annotations, about 19 GB) into a folder, for
# datasets/generate_coco_dataset.py. Needs internet access and curl or wget.
#   bash datasets/download_coco.sh ./coco
set -euo pipefail
DEST=${1:-./coco}
mkdir -p "$DEST"
cd "$DEST"
fetch() { if command -v curl >/dev/null; then curl -fL -C - -o "$(basename "$1")" "$1"; else wget -c "$1"; fi; }
for f in annotations/annotations_trainval2017.zip zips/train2017.zip zips/val2017.zip; do
  fetch "http://images.cocodataset.org/$f"
done
for z in annotations_trainval2017.zip train2017.zip val2017.zip; do unzip -q -n "$z"; done
echo "COCO is in $DEST: run python datasets/generate_coco_dataset.py --data_root $DEST --save_root ./datasets/shp2gir_coco"

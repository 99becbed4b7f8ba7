"""Build a two-domain data set from the clothing co-parsing set (CCP): photos with cat1 vs with cat2.

    python datasets/generate_ccp_dataset.py --data_root ./clothing-co-parsing --save_root ./datasets/jeans2skirt_ccp \
        --cat1 jeans --cat2 skirt

Reads <data_root>/photos/<id>.jpg, the pixel-level label maps <data_root>/annotations/pixel-level/<id>.mat
(``groundtruth``) and the label names in <data_root>/label_list.mat (``label_list``). Each photo shows one
person, so an image gives one instance: the pixels of the category. Images are resized to cover 450x300 (HxW)
and centre-cropped (training then loads 330x220 and crops 300x200). Every --test_every-th image goes to the
test split. Needs scipy (``pip install scipy``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from instagan.data.builders.common import (
    BuildFolder,
    SourceError,
    builder_parser,
    cover_and_crop,
    keep_instances,
    require,
    unknown_name,
    write_sample,
)
from instagan.util.progress import progress_bar

SIZE = (450, 300)


def loadmat(path: Path) -> dict:
    try:
        from scipy.io import loadmat as scipy_loadmat
    except ImportError as err:
        raise SourceError("reading CCP's .mat files needs scipy: pip install scipy") from err
    return scipy_loadmat(str(path))


def label_names(root: Path) -> list[str]:
    raw = loadmat(require(root / "label_list.mat", "CCP's label names", "--data_root is the clothing-co-parsing folder"))
    return [str(np.asarray(item).ravel()[0]) for item in np.asarray(raw["label_list"]).ravel()]


def main(argv: list[str] | None = None) -> dict[str, int]:
    source = "CCP folder with photos/, annotations/, label_list.mat"
    parser = builder_parser(__doc__.split("\n\n")[0], source, ("jeans", "skirt"), "label", min_pixels=64)
    parser.add_argument("--test_every", type=int, default=10, help="every n-th annotated photo goes to the test split")
    args = parser.parse_args(argv)
    root, save_root = Path(args.data_root), Path(args.save_root)
    pixel_dir = require(root / "annotations" / "pixel-level", "the pixel-level annotations", "--data_root is the CCP folder")
    photos = require(root / "photos", "the photos", "--data_root is the CCP folder")
    names = label_names(root)
    labels = []
    for name in (args.cat1, args.cat2):
        if name not in names:
            raise unknown_name("CCP label", name, [n for n in names if n != "null"])
        labels.append(names.index(name))
    counts: dict[str, int] = {}
    with BuildFolder(save_root) as out:
        write_photos(sorted(pixel_dir.glob("*.mat")), photos, labels, out.partial, args, counts)
        out.commit()
    print(f"wrote {counts} to {save_root}")
    return counts


def write_photos(mats: list[Path], photos: Path, labels: list[int], save_root: Path, args, counts: dict[str, int]) -> None:
    """Each annotated photo that shows exactly one of the two categories, as a sample of that domain."""
    for i, mat in enumerate(progress_bar(mats, desc="CCP photos")):
        groundtruth = np.asarray(loadmat(mat)["groundtruth"])
        split = "test" if (i + 1) % args.test_every == 0 else "train"
        present = [(label, domain) for label, domain in zip(labels, "AB") if (groundtruth == label).any()]
        if len(present) != 1:
            continue  # neither category, or both: the photo belongs to no single domain
        label, domain = present[0]
        photo = next((photos / f"{mat.stem}{ext}" for ext in (".jpg", ".png") if (photos / f"{mat.stem}{ext}").is_file()), None)
        if photo is None:
            raise SourceError(f"{photos / (mat.stem + '.jpg')} not found: {mat.name} annotates it")
        with Image.open(photo) as img:
            image = cover_and_crop(np.asarray(img.convert("RGB")), SIZE, Image.BICUBIC)
        mask = cover_and_crop((groundtruth == label).astype(np.uint8) * 255, SIZE, Image.BILINEAR) >= 128
        masks = keep_instances([mask], args.min_pixels)
        if masks:
            write_sample(save_root, split, domain, mat.stem, image, masks)
            counts[f"{split}{domain}"] = counts.get(f"{split}{domain}", 0) + 1


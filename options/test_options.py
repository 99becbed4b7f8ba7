"""Flags of test.py."""

from __future__ import annotations

import argparse

from instagan.models.run import Run
from instagan.options.base_options import BaseOptions
from instagan.util.flags import at_least, folder_name, positive


class TestOptions(BaseOptions):
    is_train = False
    description = (
        "Translate a data split with a run's generators: <results_dir>/<name>/<phase>_<epoch>/ gets the images, "
        "results.json and index.html. The architecture comes from the run's train_opt.json. At most --num_test samples "
        "are translated: a sample is an image of A and one of B, each translated to the other domain (up to twice "
        "--num_test translations; --dataset_mode single_seg: one image)."
    )

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p = super().initialize(parser)
        self.groups["data"].add_argument(
            "--phase", type=folder_name, default="test", help="data split: reads <dataroot>/<phase>A and <phase>B"
        )
        t = self.groups["testing"]
        t.add_argument("--results_dir", default="./results/", help="results go to <results_dir>/<name>/<phase>_<epoch>")
        t.add_argument("--overwrite", action="store_true", help="replace the results of an earlier test.py in the same folder")
        t.add_argument("--num_test", "--how_many", dest="num_test", default=50, help="translate at most this many samples",
                       **at_least(1))  # fmt: skip
        t.add_argument("--aspect_ratio", default=1.0, help="aspect ratio of the saved images", **positive())
        t.add_argument("--eval", action="store_true", help="put the networks in eval mode (matters for batch norm and dropout)")
        t.add_argument("--ema", action="store_true", help="translate with the moving average of the generators' weights "
                       "that train.py --ema_decay kept (<epoch>_net_G_A_ema.pth), into <phase>_<epoch>_ema")  # fmt: skip
        t.add_argument(
            "--paste_background",
            action="store_true",
            help="keep the input's pixels outside the (dilated) input and translated instances: an exact background",
        )
        t.add_argument("--paste_dilation", default=3, help="grow the pasted instance region by this many pixels", **at_least(0))
        p.set_defaults(serial_batches=True, no_flip=True, num_threads=1)
        return p

    def saved_defaults(self, opt: argparse.Namespace) -> dict:
        """The architecture the run was trained with, from its train_opt.json (none for weight files without one, such
        as the authors': then the flags, or the paper's defaults, give it)."""
        return Run.of(opt).architecture()

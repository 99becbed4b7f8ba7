"""Flags of test.py."""

from __future__ import annotations

import argparse

from instagan.options.base_options import BaseOptions


class TestOptions(BaseOptions):
    is_train = False

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p = super().initialize(parser)
        p.add_argument("--phase", default="test", help="data split: reads <dataroot>/<phase>A and <phase>B")
        p.add_argument("--results_dir", default="./results/", help="results go to <results_dir>/<name>/<phase>_<epoch>")
        p.add_argument("--overwrite", action="store_true", help="replace the results of an earlier test.py in the same folder")
        p.add_argument("--aspect_ratio", type=float, default=1.0, help="aspect ratio of the saved images")
        p.add_argument(
            "--num_test", "--how_many", dest="num_test", type=int, default=50, help="translate at most this many samples"
        )
        p.add_argument("--eval", action="store_true", help="put the networks in eval mode (matters for batch norm and dropout)")
        p.add_argument(
            "--paste_background",
            action="store_true",
            help="keep the input's pixels outside the (dilated) input and translated instances: an exact background",
        )
        p.add_argument("--paste_dilation", type=int, default=3, help="grow the pasted instance region by this many pixels")
        p.set_defaults(serial_batches=True, no_flip=True, num_threads=1)
        return p

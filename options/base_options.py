"""Flags shared by train.py and test.py, and the staged parser.

``parse(argv)`` takes an argv list (tests build options in code), prints nothing it is not asked to,
and touches no files; ``save_options`` writes them next to a run.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from instagan import data, models
from instagan.util.files import atomic_write_text

# The smallest value each integer flag takes (flags a parser does not have are skipped).
AT_LEAST = {
    "batch_size": 1, "ngf": 1, "ndf": 1, "n_blocks": 0, "n_layers_D": 1, "input_nc": 1, "output_nc": 1, "num_threads": 0,
    "loadSizeH": 4, "loadSizeW": 4, "fineSizeH": 4, "fineSizeW": 4, "display_winsize": 1, "mask_slots": 1,
    "ins_max": 0, "ins_per": 1, "print_freq": 1, "display_freq": 1, "update_html_freq": 1, "save_latest_freq": 1,
    "save_epoch_freq": 1, "niter": 0, "niter_decay": 0, "epoch_count": 1, "pool_size": 0, "lr_decay_iters": 1,
    "max_nonfinite": 1, "display_ncols": 1, "num_test": 1, "paste_dilation": 0,
}  # fmt: skip
POSITIVE = ("lr", "init_gain", "aspect_ratio", "max_dataset_size")
NON_NEGATIVE = ("lambda_A", "lambda_B", "lambda_idt", "lambda_ctx")


class Parser(argparse.ArgumentParser):
    """argparse without abbreviations (``--lambda_c 0`` must not silently set ``--lambda_ctx``) and with a one-line
    error instead of the whole usage text."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(allow_abbrev=False, **kwargs)

    def error(self, message: str):
        self.exit(2, f"error: {message} (see --help)\n")


class BaseOptions:
    is_train = False

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p = parser
        p.add_argument("--dataroot", help="data set folder: holds <phase>A, <phase>A_seg, <phase>B, <phase>B_seg")
        p.add_argument("--name", default="experiment_name", help="name of the run: checkpoints go to <checkpoints_dir>/<name>")
        p.add_argument("--gpu_ids", default="0", help="GPU ids, e.g. 0 or 0,1; -1 for CPU (CPU with a warning if CUDA is absent)")
        p.add_argument("--checkpoints_dir", default="./checkpoints", help="where runs are saved")
        p.add_argument("--seed", type=int, default=None, help="seed torch, numpy and random for a reproducible run")
        p.add_argument(
            "--precision",
            default="fp32",
            choices=("fp32", "bf16", "fp16"),
            help="fp32, or mixed precision: the networks run in bf16 or fp16 under autocast (fp32 keeps parity)",
        )
        p.add_argument("--compile", action="store_true", help="torch.compile the networks (a warm-up, then faster)")
        # model
        p.add_argument("--model", default="insta_gan", help=f"model: {', '.join(models.available_models())}")
        p.add_argument("--input_nc", type=int, default=3, help="image channels of domain A")
        p.add_argument("--output_nc", type=int, default=3, help="image channels of domain B")
        p.add_argument("--ngf", type=int, default=64, help="generator filters in the first conv layer")
        p.add_argument("--ndf", type=int, default=64, help="discriminator filters in the first conv layer")
        p.add_argument(
            "--netG", default="set", choices=("set", "resnet_9blocks", "resnet_6blocks"), help="generator (set: InstaGAN)"
        )
        p.add_argument(
            "--netD", default="set", choices=("set", "basic", "n_layers"), help="discriminator (set: InstaGAN, basic: PatchGAN)"
        )
        p.add_argument("--n_blocks", type=int, default=9, help="residual blocks in each encoder of --netG set")
        p.add_argument("--n_layers_D", type=int, default=3, help="layers of --netD n_layers")
        p.add_argument("--norm", default="instance", choices=("instance", "batch", "none"), help="normalisation layers")
        p.add_argument("--init_type", default="normal", choices=("normal", "xavier", "kaiming", "orthogonal"), help="weight init")
        p.add_argument("--init_gain", type=float, default=0.02, help="scale of the init")
        p.add_argument("--no_dropout", action="store_true", default=True, help="no dropout in the generator (default)")
        p.add_argument("--dropout", dest="no_dropout", action="store_false", help="dropout in the generator's residual blocks")
        # data
        p.add_argument("--dataset_mode", default="unaligned_seg", help=f"data set: {', '.join(data.available_dataset_modes())}")
        p.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"), help="AtoB: G_A translates A to B")
        p.add_argument("--serial_batches", action="store_true", help="take images in order instead of shuffling")
        p.add_argument("--num_threads", type=int, default=4, help="data loading workers")
        p.add_argument("--batch_size", type=int, default=1, help="input batch size")
        p.add_argument("--loadSizeH", type=int, default=286, help="resize images to this height")
        p.add_argument("--loadSizeW", type=int, default=286, help="resize images to this width")
        p.add_argument("--fineSizeH", type=int, default=256, help="then crop to this height")
        p.add_argument("--fineSizeW", type=int, default=256, help="then crop to this width")
        p.add_argument(
            "--resize_or_crop",
            default="resize_and_crop",
            choices=("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none"),
            help="how images (and their masks) are resized and cropped",
        )
        p.add_argument("--no_flip", action="store_true", help="no random horizontal flip")
        p.add_argument("--max_dataset_size", type=float, default=float("inf"), help="use at most this many images per domain")
        p.add_argument("--display_winsize", type=int, default=256, help="image size in visdom and the HTML pages")
        p.add_argument("--epoch", default="latest", help="which checkpoint to load: latest or an epoch number")
        p.add_argument("--suffix", default="", help="appended to --name, formatted with the options, e.g. {model}_{netG}")
        p.add_argument("--verbose", action="store_true", help="print the networks")
        return p

    def gather_options(self, argv: list[str] | None) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
        # --help waits until the model's and the data set's flags are in, so that it lists them too
        parser = self.initialize(Parser(add_help=False))
        opt, _ = parser.parse_known_args(argv)
        parser = models.get_option_setter(opt.model)(parser, self.is_train)
        opt, _ = parser.parse_known_args(argv)
        parser = data.get_option_setter(opt.dataset_mode)(parser, self.is_train)
        parser.add_argument("-h", "--help", action="help", help="show this message (with --model's flags) and exit")
        return parser.parse_args(argv), parser

    def parse(self, argv: list[str] | None = None) -> argparse.Namespace:
        opt, parser = self.gather_options(argv)
        opt.isTrain = self.is_train
        if opt.suffix:
            try:
                opt.name = f"{opt.name}_{opt.suffix.format(**vars(opt))}"
            except (KeyError, IndexError, ValueError, AttributeError) as err:
                parser.error(
                    f"--suffix {opt.suffix!r} cannot be formatted ({err!r}): name options in braces, e.g. {{model}}_{{netG}}"
                )
        try:
            opt.gpu_ids = [int(i) for i in str(opt.gpu_ids).split(",") if i.strip() and int(i) >= 0]
        except ValueError:
            parser.error(f"--gpu_ids {opt.gpu_ids!r}: give GPU numbers separated by commas, e.g. 0 or 0,1, or -1 for the CPU")
        self.validate(opt, parser)
        return opt

    def validate(self, opt: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
        """Every value is checked here, so that a bad one fails at once and not an epoch later."""
        if opt.dataroot is None:
            parser.error("--dataroot is required: the folder that holds <phase>A and <phase>B")
        for name, least in AT_LEAST.items():
            if getattr(opt, name, least) < least:
                parser.error(f"--{name} {getattr(opt, name)} must be at least {least}")
        for name in POSITIVE:
            value = getattr(opt, name, 1.0)
            if not value > 0 or math.isnan(value) or (math.isinf(value) and name != "max_dataset_size"):
                parser.error(f"--{name} {value} must be a positive number")
        for name in NON_NEGATIVE:
            value = getattr(opt, name, 0.0)
            if not (value >= 0 and math.isfinite(value)):
                parser.error(f"--{name} {value} must be zero or a positive number")
        if not 0 <= getattr(opt, "beta1", 0.5) < 1:
            parser.error(f"--beta1 {opt.beta1} must be in [0, 1)")
        if self.is_train and opt.niter + opt.niter_decay < 1:
            parser.error(f"--niter {opt.niter} plus --niter_decay {opt.niter_decay} is no epoch at all: train at least one")
        if opt.resize_or_crop in ("resize_and_crop", "crop", "scale_width_and_crop"):
            for side in ("fineSizeH", "fineSizeW"):
                if getattr(opt, side) % 4:
                    parser.error(f"--{side} {getattr(opt, side)} must be a multiple of 4 (the generators downsample twice)")
            if opt.resize_or_crop == "resize_and_crop" and (opt.fineSizeH > opt.loadSizeH or opt.fineSizeW > opt.loadSizeW):
                parser.error("--fineSizeH/W must not exceed --loadSizeH/W")


def format_options(opt: argparse.Namespace, parser_defaults: dict | None = None) -> str:
    lines = ["----------------- Options ---------------"]
    for key, value in sorted(vars(opt).items()):
        default = (parser_defaults or {}).get(key)
        note = f"\t[default: {default}]" if parser_defaults and value != default else ""
        lines.append(f"{key:>25}: {value!s:<30}{note}")
    lines.append("----------------- End -------------------")
    return "\n".join(lines)


def option_values(opt: argparse.Namespace) -> dict:
    """The options as JSON values."""
    values = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(opt).items()}
    values = {k: (v if isinstance(v, (int, float, str, bool, list, type(None))) else str(v)) for k, v in values.items()}
    if values.get("max_dataset_size") == float("inf"):
        values["max_dataset_size"] = "inf"
    return values


def save_options(opt: argparse.Namespace, folder: Path, phase: str) -> None:
    """Write the options as ``<phase>_opt.txt`` (for people) and ``<phase>_opt.json`` (for programs)."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / f"{phase}_opt.txt", format_options(opt) + "\n")
    atomic_write_text(folder / f"{phase}_opt.json", json.dumps(option_values(opt), indent=2, sort_keys=True) + "\n")

"""Flags shared by train.py and test.py, and the staged parser.

``parse(argv)`` takes an argv list (tests build options in code), prints nothing it is not asked to,
and touches no files; ``save_options`` writes them next to a run.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from instagan import data, models
from instagan.data.base_dataset import smallest_side
from instagan.models import execution, networks
from instagan.models.run import ArchitectureMismatch, Run
from instagan.util.devices import parse_gpu_ids
from instagan.util.files import atomic_write_text
from instagan.util.flags import Checked, Parser, add_gpu_ids, at_least, checkpoint_tag, count_or_all, folder_name, positive

GROUPS = (
    ("data", "the data set and how it is loaded"),
    ("model", "the networks"),
    ("model options", "the flags of --model"),
    ("data set options", "the flags of --dataset_mode"),
    ("training", "optimisation and checkpoints (train.py)"),
    ("testing", "test.py"),
    ("display", "progress, losses and pictures (train.py)"),
    ("run", "where runs live, devices and precision"),
)


class TurnsOff(argparse.Action):
    """A flag that sets its dest to False, the opposite of the flag that owns the dest (``--dropout`` sets
    ``no_dropout``). argparse keeps the dest's default in ``default`` (True: no dropout), which --help would print as
    this flag's own; ``%(on_by_default)s`` in the help prints whether this flag is on by default instead."""

    def __init__(self, option_strings: list[str], dest: str, default: bool = True, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    @property
    def default(self):
        return self._default

    @default.setter
    def default(self, value) -> None:  # set by argparse, then by set_defaults (a model's defaults, the run's values)
        self._default = value
        self.on_by_default = not value

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, False)


def usable_cores() -> int:
    """The CPU cores this process may run on: its affinity where the system has one, else all of them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


class BaseOptions:
    is_train = False
    description = ""
    usage = "%(prog)s --dataroot DIR --name NAME [flags]"

    def __init__(self) -> None:
        self.groups: dict[str, argparse._ArgumentGroup] = {}

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        self.groups = {name: parser.add_argument_group(name, about) for name, about in GROUPS}
        d, m, r = self.groups["data"], self.groups["model"], self.groups["run"]
        d.add_argument("--dataroot", help="data set folder: holds <phase>A, <phase>A_seg, <phase>B, <phase>B_seg")
        d.add_argument("--dataset_mode", default="unaligned_seg", help=f"data set: {', '.join(data.available_dataset_modes())}")
        d.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"), help="AtoB: G_A translates A to B")
        d.add_argument("--batch_size", default=1, help="images per domain in a batch, per process", **at_least(1))
        d.add_argument("--loadSizeH", default=286, help="resize images to this height", **at_least(4))
        d.add_argument("--loadSizeW", default=286, help="resize images to this width", **at_least(4))
        d.add_argument("--fineSizeH", default=256, help="then crop to this height (a multiple of 4)", **at_least(4))
        d.add_argument("--fineSizeW", default=256, help="then crop to this width (a multiple of 4)", **at_least(4))
        d.add_argument(
            "--resize_or_crop",
            default="resize_and_crop",
            choices=("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none"),
            help="how images (and their masks) are resized and cropped",
        )
        d.add_argument("--no_flip", action="store_true", help="no random horizontal flip")
        d.add_argument("--serial_batches", action="store_true", help="take images in order instead of shuffling")
        d.add_argument("--num_threads", default=4, help="data loading worker processes (0: load in the main process); "
                       "no more are started than the CPU cores this process may use", **at_least(0))  # fmt: skip
        d.add_argument("--max_dataset_size", default=float("inf"), help="use at most this many images per domain",
                       **count_or_all())  # fmt: skip
        m.add_argument("--model", default="insta_gan", help=f"model: {', '.join(models.available_models())}")
        m.add_argument("--input_nc", default=3, help="image channels of domain A", **at_least(1))
        m.add_argument("--output_nc", default=3, help="image channels of domain B", **at_least(1))
        m.add_argument("--ngf", default=64, help="generator filters in the first conv layer", **at_least(1))
        m.add_argument("--ndf", default=64, help="discriminator filters in the first conv layer", **at_least(1))
        m.add_argument("--netG", default="set", choices=tuple(networks.GENERATORS), help="generator (set: InstaGAN)")
        m.add_argument(
            "--netD", default="set", choices=tuple(networks.DISCRIMINATORS), help="discriminator (set: InstaGAN, basic: PatchGAN)"
        )
        m.add_argument("--n_blocks", default=9, help="residual blocks in each encoder of --netG set", **at_least(0))
        m.add_argument("--upsample", default="transpose", choices=("transpose", "transpose4", "nearest", "bilinear"),
                       help="the generators' upsampling: transposed 3x3 convolutions (the original's), transposed 4x4 "
                       "ones (an even overlap), or a resize (nearest or bilinear) followed by a 3x3 convolution")  # fmt: skip
        m.add_argument("--context_skip", action="store_true", help="the generators' last convolution also sees the "
                       "input image outside the instances a step translates, whose colours instance norm removes (InstaGAN "
                       "only; a departure from the original)")  # fmt: skip
        m.add_argument("--n_layers_D", default=3, help="layers of --netD n_layers", **at_least(1))
        m.add_argument("--norm", default="instance", choices=("instance", "batch", "none"), help="normalisation layers")
        m.add_argument("--init_type", default="normal", choices=("normal", "xavier", "kaiming", "orthogonal"), help="weight init")
        m.add_argument("--init_gain", default=0.02, help="scale of the init", **positive())
        m.add_argument("--no_dropout", action="store_true", default=True, help="no dropout in the generator")
        m.add_argument("--dropout", dest="no_dropout", action=TurnsOff, help="dropout in the generator's residual blocks "
                       "(default: %(on_by_default)s)")  # fmt: skip
        r.add_argument("--name", default="experiment_name", type=folder_name,
                       help="name of the run: checkpoints go to <checkpoints_dir>/<name>")  # fmt: skip
        r.add_argument("--checkpoints_dir", default="./checkpoints", help="where runs are saved")
        r.add_argument("--epoch", default="latest", type=checkpoint_tag,
                       help="which checkpoint to load: latest or an epoch number")  # fmt: skip
        add_gpu_ids(r)
        r.add_argument("--seed", type=int, default=None, help="seed torch, numpy and random for a reproducible run")
        r.add_argument(
            "--precision",
            default="fp32",
            choices=("fp32", "bf16", "fp16"),
            help="fp32, or mixed precision: the networks run in bf16 or fp16 under autocast (fp32 keeps parity)",
        )
        r.add_argument(
            "--channels_last",
            action="store_true",
            help="networks and their inputs in channels-last (NHWC) memory: faster convolutions (same function)",
        )
        r.add_argument("--compile", action="store_true", help="torch.compile the networks (a warm-up, then faster; CUDA)")
        r.add_argument(
            "--cuda_graphs",
            action="store_true",
            help="InstaGAN: every network call of a sequential step with fixed shapes, compiled with torch.compile "
            "reduce-overhead (CUDA graphs on a GPU): in test.py each step whole, in train.py each layer stack; "
            "the first batches compile",
        )
        r.add_argument("--suffix", default="", help="appended to --name, formatted with the options, e.g. {model}_{netG} "
                       "(default: %(default)r)")  # fmt: skip
        r.add_argument("--verbose", action="store_true", help="print the networks")
        self.groups["display"].add_argument(
            "--display_winsize", default=256, help="image size in visdom and the HTML pages", **at_least(1)
        )
        return parser

    def saved_defaults(self, opt: argparse.Namespace) -> dict:
        """Defaults that come from the run rather than the parser (test.py: the run's architecture)."""
        return {}

    def gather_options(
        self, argv: list[str] | None, values: dict | None = None
    ) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
        # --help waits until the model's and the data set's flags are in, so that it lists them too
        values = dict(values or {})
        parser = self.initialize(Parser(add_help=False, description=self.description, usage=self.usage))
        parser.set_defaults(**values)
        opt, _ = parser.parse_known_args(argv)
        saved = self.saved_defaults(opt)
        parser.set_defaults(**{**saved, **values})
        opt, _ = parser.parse_known_args(argv)
        models.get_option_setter(opt.model)(self.groups["model options"], self.is_train)
        parser.set_defaults(**{**saved, **values})  # over the model's own defaults: what the run was trained with
        opt, _ = parser.parse_known_args(argv)
        data.get_option_setter(opt.dataset_mode)(self.groups["data set options"], self.is_train)
        parser.set_defaults(**{**saved, **values})
        self.groups["run"].add_argument("-h", "--help", action="help", help="show this message (with --model's flags) and exit")
        opt = parser.parse_args(argv)
        check_values(parser, values)
        try:
            Run.of(opt).check(vars(opt), saved)
        except ArchitectureMismatch as err:
            parser.error(str(err))
        return opt, parser

    def parse(self, argv: list[str] | None = None, values: dict | None = None) -> argparse.Namespace:
        """The options from ``argv`` (the command line when None) and ``values``, Python values by option name
        (``{"ngf": 8, "no_dropout": False}``) that the Python interface gives instead of strings; both are checked as
        the flags declare."""
        opt, parser = self.gather_options(argv, values)
        opt.isTrain = self.is_train
        if opt.suffix:
            try:
                opt.name = f"{opt.name}_{opt.suffix.format(**vars(opt))}"
            except (KeyError, IndexError, ValueError, AttributeError) as err:
                parser.error(
                    f"--suffix {opt.suffix!r} cannot be formatted ({err!r}): name options in braces, e.g. {{model}}_{{netG}}"
                )
            try:
                folder_name(opt.name)
            except argparse.ArgumentTypeError as err:
                parser.error(f"--name with --suffix {opt.suffix!r} gives {err}")
        try:
            opt.gpu_ids = parse_gpu_ids(opt.gpu_ids)
        except ValueError as err:
            parser.error(str(err))
        # more workers than cores only compete for them (and the DataLoader warns about it)
        opt.num_threads = min(opt.num_threads, usable_cores())
        self.validate(opt, parser)
        return opt

    def validate(self, opt: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
        """What one flag alone cannot say (each flag checks its own value where it is declared)."""
        if opt.dataroot is None:
            parser.error("--dataroot is required: the folder that holds <phase>A and <phase>B")
        for side in ("input_nc", "output_nc"):
            if getattr(opt, side) != 3:
                parser.error(f"--{side} {getattr(opt, side)}: the data sets, pages and scores read and write RGB images, "
                             "so it must be 3 (grey images are read as RGB)")  # fmt: skip
        model, dataset = models.find_model_using_name(opt.model), data.find_dataset_using_name(opt.dataset_mode)
        refused = execution.refusal(opt, model, self.is_train)
        if refused:
            parser.error(refused)
        if model.needs_masks and not dataset.gives_masks:
            parser.error(f"--model {opt.model} translates instance masks, which --dataset_mode {opt.dataset_mode} does "
                         "not load: use --dataset_mode unaligned_seg (or single_seg for one folder in test.py)")  # fmt: skip
        for name in ("ins_max", "seg_slots") if model.needs_masks and dataset.gives_masks else ():
            if getattr(opt, name, 0) > opt.mask_slots:
                parser.error(f"--{name} {getattr(opt, name)} is more than the {opt.mask_slots} masks loaded per image "
                             f"(--mask_slots): lower --{name}, or raise --mask_slots with it")  # fmt: skip
        if self.is_train and dataset.domains < 2:
            parser.error(f"--dataset_mode {opt.dataset_mode} loads one folder; training needs both domains: use "
                         "--dataset_mode unaligned_seg (or unaligned without masks)")  # fmt: skip
        if opt.resize_or_crop in ("resize_and_crop", "crop", "scale_width_and_crop"):
            for side in ("fineSizeH", "fineSizeW"):
                if getattr(opt, side) % 4:
                    parser.error(f"--{side} {getattr(opt, side)} must be a multiple of 4 (the generators downsample twice)")
            if opt.resize_or_crop == "resize_and_crop" and (opt.fineSizeH > opt.loadSizeH or opt.fineSizeW > opt.loadSizeW):
                parser.error("--fineSizeH/W must not exceed --loadSizeH/W")
        least = smallest_side(opt)
        sides = {"none": (), "scale_width": ("fineSizeW",)}.get(opt.resize_or_crop, ("fineSizeH", "fineSizeW"))
        for side in sides:
            if getattr(opt, side) < least:
                parser.error(f"--{side} {getattr(opt, side)} is too small for the networks: at least {least} (the "
                             "generators halve it twice; in training the discriminators --n_layers_D times)")  # fmt: skip


def check_values(parser: Parser, values: dict) -> None:
    """Check options given as Python values as their flags check the command line's strings: the name, the type,
    the choices and the range declared with the flag (``util.flags``)."""
    actions = parser.options()
    for name, value in values.items():
        action = actions.get(name)
        if action is None:
            parser.error(f"{name}={value!r} is not an option of this command")
        if action.type in (int, float) and not (isinstance(value, (int, float)) and not isinstance(value, bool)):
            parser.error(f"{name}={value!r} must be a number")
        if action.type in (folder_name, checkpoint_tag) and isinstance(value, str):
            try:
                action.type(value)
            except argparse.ArgumentTypeError as err:
                parser.error(f"{name}={err}")
        if action.choices is not None and value not in action.choices:
            parser.error(f"{name}={value!r} must be one of {', '.join(map(str, action.choices))}")
        if isinstance(action, Checked) and not action.allowed(value):
            parser.error(f"{name}={value!r} {action.rule()}")


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

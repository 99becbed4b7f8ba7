"""Export a run's generators for use outside this project: ONNX (onnxruntime and other runtimes) or safetensors.

    python export.py --name shp2gir_coco_instagan --epoch 200 --format onnx   # exported/shp2gir_coco_instagan_200/G_A.onnx
    python export.py --name shp2gir_coco_instagan --epoch 200 --format safetensors
                                                   # exported/shp2gir_coco_instagan_200_safetensors/G_A.safetensors

Both write export.json beside the files: what each file is, the layout of its input and output, the architecture,
and the run's options as its train_opt.json records them (null where the run has none, as the authors' files). An
ONNX generator takes any batch size and any number of instance masks. The folder appears whole; an existing --out is
replaced only when it holds an earlier export of the same format and nothing else.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import torch

from instagan.models import available_models, find_model_using_name, networks
from instagan.models.run import Run, architecture
from instagan.translator import Translator
from instagan.util import cli
from instagan.util.cli import UserError
from instagan.util.files import StagedFolder
from instagan.util.flags import Parser, checkpoint_tag, folder_name

FORMATS = ("onnx", "safetensors")
OPSET = 18


def parse(argv: list[str] | None):
    p = Parser(description=__doc__.split("\n\n")[0])
    p.add_argument("--name", required=True, type=folder_name, help="the run: <checkpoints_dir>/<name>")
    p.add_argument("--checkpoints_dir", default="./checkpoints", help="where runs are saved")
    p.add_argument("--epoch", default="latest", type=checkpoint_tag, help="which checkpoint: latest or an epoch number")
    p.add_argument("--format", default="onnx", choices=FORMATS, help="onnx: graphs for onnxruntime; safetensors: weights")
    p.add_argument("--out", help="the folder to write (default: exported/<name>_<epoch>, for safetensors "
                   "exported/<name>_<epoch>_safetensors)")  # fmt: skip
    p.add_argument("--ngf", type=int, help="generator width, for weight files without the run's train_opt.json")
    p.add_argument("--n_blocks", type=int, help="residual blocks, for weight files without the run's train_opt.json")
    return p.parse_args(argv)


def example_input(input_nc: int, size: tuple[int, int], instances: int) -> torch.Tensor:
    """(2, input_nc + instances, H, W) in [-1, 1]: two images, the first with boxes in every slot, the second with one."""
    x = torch.rand(2, input_nc + instances, *size) * 2 - 1
    x[:, input_nc:] = -1
    h, w = size
    for k in range(instances):
        x[0, input_nc + k, k * h // (2 * instances) : h // 2, w // 4 : 3 * w // 4] = 1
    if instances:
        x[1, input_nc, h // 4 : 3 * h // 4, w // 4 : w // 2] = 1
    return x


def export_onnx(generator: torch.nn.Module, path: Path, input_nc: int, size: tuple[int, int], with_masks: bool) -> None:
    """``generator`` as an ONNX graph with input ``x`` and output ``y``, their batch, channels (the number of masks),
    height and width dynamic. A set generator is exported as one sequential step (``FixedShapeStep``)."""
    if with_masks and not hasattr(generator, "forward_static"):
        raise UserError(f"export.py writes InstaGAN's set generators (--netG set) with masks; this run's generator is "
                        f"{type(generator).__name__}")  # fmt: skip
    module = networks.FixedShapeStep(generator) if with_masks else generator
    x = example_input(input_nc, size, 3 if with_masks else 0)
    axes = {0: "batch", 1: "channels", 2: "height", 3: "width"} if with_masks else {0: "batch", 2: "height", 3: "width"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes about its own internals
        # the TorchScript-based exporter: it keeps the number of masks dynamic down to one (torch.export specialises 1)
        torch.onnx.export(module, (x,), str(path), input_names=["x"], output_names=["y"], opset_version=OPSET,
                          dynamic_axes={"x": axes, "y": axes}, dynamo=False)  # fmt: skip


def default_out(name: str, epoch: str, fmt: str) -> Path:
    """A folder per format, so that exporting one never replaces the other: ONNX keeps the README's path."""
    return Path("exported") / (f"{name}_{epoch}" if fmt == "onnx" else f"{name}_{epoch}_{fmt}")


def check_out(out: Path, fmt: str) -> None:
    """Refuse an ``out`` whose replacement would lose anything: it must be new, an empty folder, or an earlier export of
    ``fmt`` by this tool holding nothing but its export.json and the files that lists (replaced whole on commit)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UserError(f"--out {out} exists and is not a folder: choose a new folder (export.py writes one)")
    found = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if not found:
        return
    fix = "choose a new folder or delete it"
    try:
        info = json.loads((out / "export.json").read_text())
        listed, weights = set(info["files"].values()), info["weights"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise UserError(f"--out {out} exists and is not an export folder written by export.py: {fix}") from None
    others = [name for name in found if name != "export.json" and name not in listed]
    if others:
        raise UserError(f"--out {out} holds files export.py did not write ({', '.join(others[:3])}"
                        f"{', ...' if len(others) > 3 else ''}): {fix}")  # fmt: skip
    if weights != fmt:
        raise UserError(f"--out {out} holds an export in another format ({weights}): choose another folder for "
                        f"--format {fmt}, or delete it")  # fmt: skip


def describe(opt, files: dict[str, str], fmt: str, epoch: str, trained: dict, source: Path) -> dict:
    """export.json: the files, their layout, the architecture they were built with, and the run's options as its
    ``source`` (train_opt.json) records them; what the run does not record (no train_opt.json) is null."""
    with_masks = find_model_using_name(opt.model).needs_masks
    layout = (
        "the RGB image, then one channel per instance mask (+1 inside, -1 outside; a channel that is -1 everywhere "
        "is an empty slot)"
    )
    return {
        "format": 1,
        "files": files,
        "translates": {"G_A": "domain A -> domain B", "G_B": "domain B -> domain A"},
        "input": ("x: float32 (batch, 3 + instances, H, W) in [-1, 1], at least one mask channel: " + layout)
        if with_masks
        else "x: float32 (batch, 3, H, W) in [-1, 1]: the RGB image",
        "output": "y: the input's layout: the translated image"
        + (" and the translated masks; an image without any instance in x is returned as it is" if with_masks else ""),
        "epoch": epoch,
        "size": [trained["fineSizeH"], trained["fineSizeW"]] if "fineSizeH" in trained else None,
        "sequential": "translate --ins_per instances per call, each call on the image the last one returned (the paper's "
        "sequential mini-batches); one call with every instance also works"
        if with_masks
        else None,
        "ins_per": trained.get("ins_per") if with_masks else None,
        "architecture": architecture(opt),
        "weights": fmt,
        "options": trained or None,
        "options_from": str(source) if trained else f"{source} not found: only the architecture above is known",
    }


def main(argv: list[str] | None = None) -> Path:
    args = parse(argv)
    needed = ("onnx",) if args.format == "onnx" else ("safetensors",)
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"--format {args.format} needs {' and '.join(missing)}: pip install -e '.[export]'")
    run = Run(Path(args.checkpoints_dir) / args.name)
    if not run.folder.is_dir():
        raise FileNotFoundError(f"{run.folder} not found: check --name and --checkpoints_dir")
    out = Path(args.out) if args.out else default_out(args.name, args.epoch, args.format)
    check_out(out, args.format)
    trained = run.options()
    flags = {k: getattr(args, k) for k in ("ngf", "n_blocks") if getattr(args, k) is not None}
    translator = Translator.from_checkpoint(run.folder, args.epoch, device="cpu", ins_per=trained.get("ins_per", 2), **flags)
    model, opt = translator.model, translator.opt
    if not model.exportable:
        exported = ", ".join(m for m in available_models() if find_model_using_name(m).exportable)
        raise UserError(f"{run.folder} is a --model {opt.model} run, which export.py does not export: {exported} runs are")
    size = (trained.get("fineSizeH", opt.fineSizeH), trained.get("fineSizeW", opt.fineSizeW))  # the example's only
    with_masks = model.needs_masks
    files = {}
    with StagedFolder(out) as staged:
        for name in ("G_A", "G_B"):
            generator = getattr(model, f"net{name}").eval()
            if args.format == "onnx":
                files[name] = f"{name}.onnx"
                export_onnx(generator, staged.partial / files[name], opt.input_nc if name == "G_A" else opt.output_nc,
                            size, with_masks)  # fmt: skip
            else:
                from safetensors.torch import save_file

                files[name] = f"{name}.safetensors"
                state = {k: v.contiguous() for k, v in generator.state_dict().items()}
                save_file(
                    state, str(staged.partial / files[name]), metadata={"architecture": json.dumps(architecture(opt))}
                )
        info = describe(opt, files, args.format, args.epoch, trained, run.options_file)
        (staged.partial / "export.json").write_text(json.dumps(info, indent=2) + "\n")
        check_out(out, args.format)  # again: the folder may have changed while the generators were exported
        staged.commit()
    print(f"wrote {', '.join(files.values())} and export.json to {out}")
    return out


def entry() -> None:
    """The console command (instagan-export)."""
    cli.run(main)


if __name__ == "__main__":
    entry()

"""Training and test speed and peak memory on fixed random batches; writes docs/speed.md.

    python scripts/benchmark_speed.py                      # the paper's 200x200, ngf 64, on CUDA if present
    python scripts/benchmark_speed.py --small              # a CPU run in a few minutes, with the demo's config
    python scripts/benchmark_speed.py --small --against 67aba8a   # also the demo's config at another revision
    python scripts/benchmark_speed.py --short --match channels-last --out -   # some rows only, printed
    python scripts/benchmark_speed.py --small --twins      # the training step with and without --fuse_twins

Each measurement runs in a fresh process (so peak memory is its own): a few warm-up iterations, then timed ones.
Training: one ``train_step`` (every sequential step's G and D updates) on a batch of ``--batch_size`` images per
domain, every image with ``--ins_max`` instances. Test pass: both directions of a batch translated with
``--ins_max 20 --ins_per 2``, every image with 8 instances; one image is one A and one B. Peak memory: CUDA's
max allocated during the timed iterations; on the CPU the process's max resident set size.
``--against REV`` measures the same configuration on a git worktree of revision REV (its own code, its own API),
in the same run, so that the two numbers are comparable.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = "<!-- notes: kept when the tables above are regenerated -->"


def random_batch(batch: int, instances: int, size: int, slots: int, seed: int):
    """A batch of both domains: images in [-1, 1] and ``instances`` rectangle masks each, padded to ``slots``."""
    import torch

    g = torch.Generator().manual_seed(seed)
    out = {}
    for key in ("A", "B"):
        masks = -torch.ones(batch, slots, size, size)
        for b in range(batch):
            for k in range(instances):
                h, w = (int(v) for v in torch.randint(size // 8, size // 3, (2,), generator=g))
                t, l = (int(v) for v in torch.randint(0, size - max(h, w), (2,), generator=g))
                masks[b, k, t : t + h, l : l + w] = 1
        out[key] = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
        out[f"{key}_segs"] = masks
        out[f"{key}_paths"] = [f"{key}{b}.png" for b in range(batch)]
    return out


def measure(config: dict) -> dict:
    """Images per second and peak memory of one configuration (run in its own process)."""
    import torch

    sys.path.insert(0, config["root"])
    package = "instagan." if (Path(config["root"]) / "instagan").is_dir() else ""  # "": a revision before the package
    create_model = importlib.import_module(package + "models").create_model
    TestOptions = importlib.import_module(package + "options.test_options").TestOptions
    TrainOptions = importlib.import_module(package + "options.train_options").TrainOptions

    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = config["tf32"]
    cuda = config["device"] == "cuda"
    device = torch.device("cuda" if cuda else "cpu")
    size, batch = config["size"], config["batch"]
    argv = ["--dataroot", "unused", "--gpu_ids", "0" if cuda else "-1", "--ngf", str(config["ngf"]), "--ndf", str(config["ngf"]),
            "--n_blocks", str(config["n_blocks"]), "--batch_size", str(batch)]  # fmt: skip
    new_api = (Path(config["root"]) / "models" / "trainer.py").is_file()
    if new_api:
        argv += ["--precision", config["precision"]] + (["--compile"] if config["compile"] else [])
    if config.get("channels_last"):
        argv += ["--channels_last"]
    if config.get("cuda_graphs"):  # training: setup() runs every network with fixed shapes, compiled for CUDA graphs
        argv += ["--cuda_graphs"]
    if config.get("sn_update"):
        argv += ["--sn_update", config["sn_update"]]
    train = config["mode"] == "train"
    if train:
        fused = ["--fuse_twins"] if config.get("fuse_twins") else []
        opt = TrainOptions().parse(argv + fused + ["--ins_max", str(config["ins_max"]), "--ins_per", "2"])
        batches = [random_batch(batch, config["ins_max"], size, 20, seed) for seed in range(3)]
    else:
        opt = TestOptions().parse(argv + ["--ins_max", "20", "--ins_per", "2"])
        batches = [random_batch(batch, 8, size, 20, seed) for seed in range(3)]
    torch.manual_seed(0)
    model = create_model(opt, device)
    if train and new_api:
        from instagan.models.trainer import Trainer
        from instagan.util.distributed import Context

        model.setup()  # as train.py does: compiles the networks with --compile
        trainer = Trainer(model, opt, Context(device))
        step = trainer.train_step
    elif train:
        model.setup()

        def step(b):
            model.set_input(b)
            model.optimize_parameters()
    else:  # random weights: nothing to load
        for net in model.networks().values() if config.get("channels_last") else ():
            net.to(memory_format=torch.channels_last)  # (as setup() does)
        if config.get("cuda_graphs"):  # (as setup() does with --cuda_graphs)
            model.use_static_steps(compiled=True)
        if new_api and opt.compile:
            from instagan.models import networks

            for net in model.networks().values():
                networks.compile_network(net)

        def step(b):
            model.set_input(b)
            model.test()

    def sync():
        if cuda:
            torch.cuda.synchronize()

    start = time.perf_counter()
    for i in range(config["warmup"]):
        step(batches[i % len(batches)])
    sync()
    warmup = time.perf_counter() - start
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(config["iters"]):
        start = time.perf_counter()
        step(batches[i % len(batches)])
        sync()
        times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2]
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result = {"images_per_s": batch / median, "seconds_per_step": median, "peak_gb": peak / 1e9, "warmup_s": warmup}
    if config.get("profile"):
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profile(activities=activities) as prof:
            for i in range(2):
                step(batches[i % len(batches)])
            sync()
        key = "self_device_time_total" if cuda else "self_cpu_time_total"
        result["profile"] = prof.key_averages().table(sort_by=key, row_limit=25, max_name_column_width=60)
        result["profile"] += "\n" + where_the_cpu_time_goes(prof.events(), steps=2)
    return result


HEAVY = ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::cudnn_convolution", "aten::native_batch_norm",
         "aten::native_batch_norm_backward")  # fmt: skip


def where_the_cpu_time_goes(events, steps: int) -> str:
    """One line, per training step: how many calls it makes and how its CPU time divides between the convolution and
    normalisation kernels, the memory-format copies around them (copies under aten::contiguous) and every other call,
    with the mean time of such a call: the part that does not grow with the arithmetic."""
    calls = others = heavy = layout = other = 0.0
    for event in events:
        calls += 1
        if event.name in HEAVY:
            heavy += event.self_cpu_time_total
            continue
        parent, chain = event.cpu_parent, []
        while parent is not None and len(chain) < 3:
            chain.append(parent.name)
            parent = parent.cpu_parent
        if event.name in ("aten::copy_", "aten::clone") and "aten::contiguous" in chain:
            layout += event.self_cpu_time_total
        else:
            other += event.self_cpu_time_total
            others += 1
    total = heavy + layout + other

    def share(part: float) -> str:
        return f"{part / steps / 1e3:.0f} ms ({100 * part / max(total, 1):.0f} %)"

    return (f"per training step: {calls / steps:.0f} calls (operators and autograd nodes), {total / steps / 1e3:.0f} ms of "
            f"CPU time: convolution and normalisation kernels {share(heavy)}, memory-format copies {share(layout)}, the "
            f"other calls {share(other)}, {others / steps:.0f} calls of {other / max(others, 1):.1f} us on average")  # fmt: skip


def run_one(config: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--one", json.dumps(config)], capture_output=True, text=True, cwd=config["root"]
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine(device: str) -> str:
    import torch

    if device == "cuda":
        return f"{torch.cuda.get_device_name()}, torch {torch.__version__}"
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        model = names[0] if names else model
    return f"{model} CPU ({os.cpu_count()} cores), torch {torch.__version__}"


def configs(args: argparse.Namespace, device: str) -> list[dict]:
    """The sweeps: batch x precision, compile on/off, and --ins_max (memory must stay flat as instances grow)."""
    base = {"device": device, "root": str(ROOT), "tf32": device == "cuda", "compile": False, "precision": "fp32",
            "ins_max": 4, "warmup": args.warmup, "iters": args.iters}  # fmt: skip
    if args.small:
        base.update(size=48, ngf=8, n_blocks=2)
        grid = [dict(batch=b) for b in (1, 4, 8)] + [dict(batch=4, precision="bf16"), dict(batch=4, compile=True)]
        grid += [dict(batch=4, channels_last=True)]
        grid += [dict(batch=4, ins_max=n) for n in (8, 16)]
    elif args.short:
        base.update(size=200, ngf=64, n_blocks=9)
        grid = [dict(batch=1), dict(batch=8), dict(batch=8, precision="bf16"), dict(batch=8, precision="fp16")]
        grid += [dict(batch=8, precision="bf16", ins_max=n) for n in (8, 16)]
        grid += [dict(batch=16, precision="bf16"), dict(batch=8, precision="bf16", compile=True)]
        grid += [dict(batch=8, precision="bf16", channels_last=True, compile=c) for c in (False, True)]
        grid += [dict(batch=8, precision="bf16", channels_last=True, cuda_graphs=True)]
    else:
        base.update(size=200, ngf=64, n_blocks=9)
        grid = [dict(batch=b, precision=p) for b in (1, 4, 8) for p in ("fp32", "bf16", "fp16")]
        grid += [dict(batch=8, precision=p, compile=True) for p in ("fp32", "bf16")]
        grid += [dict(batch=8, precision="bf16", channels_last=True)]
        grid += [dict(batch=8, precision="bf16", ins_max=n) for n in (8, 16)]
    out = []
    for g in grid:
        config = {**base, **g}
        if config["compile"] or config.get("cuda_graphs"):
            config["warmup"] = max(config["warmup"], 4)
        out.append(config)
    return out


def against(rev: str, config: dict, rounds: int = 3) -> tuple[float, float] | str:
    """Seconds per step of ``config`` on a worktree of revision ``rev`` and on the checkout (``in_turns``)."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True, capture_output=True)
        try:
            return in_turns({**config, "root": str(tree)}, {**config, "root": str(ROOT)}, rounds)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)


def in_turns(first: dict, second: dict, rounds: int = 3) -> tuple[float, float] | str:
    """Seconds per step of two configurations: the medians of ``rounds`` measurements of each, taken in turns (first,
    second, first, ...) so that a slow spell of the machine hits both; or the error of the one that failed."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for results, config in zip(times, (first, second)):
            result = run_one(config)
            if "error" in result:
                return result["error"]
            results.append(result["seconds_per_step"])
    return sorted(times[0])[rounds // 2], sorted(times[1])[rounds // 2]


# --twins: training steps with and without --fuse_twins, side by side
TWIN_ROWS = {"cpu": [dict(batch=4, channels_last=True, sn_update="per_call"), dict(batch=4), dict(batch=8, channels_last=True,
                     sn_update="per_call")],
             "cpu_paper": [dict(batch=1)],
             "gpu": [dict(batch=8, precision="bf16", channels_last=True), dict(batch=1),
                     dict(batch=8, precision="bf16", channels_last=True, cuda_graphs=True)]}  # fmt: skip


def twins(args: argparse.Namespace, device: str, section: str, flags: str) -> list[str]:
    """The ``--twins`` table of report section ``section``: each configuration's training step unfused and with
    ``--fuse_twins``, in turns (those whose label holds ``--match``)."""
    base = configs(args, device)[0]
    lines = [f"Measured by `python scripts/benchmark_speed.py{flags}` on {machine(device)}: seconds per training step, "
             + ("one run of each" if args.rounds == 1 else f"the median of {args.rounds} runs of each, taken in turns") + ".", "",
             "| configuration | unfused (s) | --fuse_twins (s) | speed-up |", "|---|---|---|---|"]  # fmt: skip
    for row in TWIN_ROWS[section]:
        config = {**base, **row, "mode": "train", "iters": max(args.iters, 10) if args.small else args.iters}
        if args.match and args.match not in label(config):
            continue
        if config.get("cuda_graphs"):  # (the first steps compile)
            config["warmup"] = max(config["warmup"], 4)
        result = in_turns(config, {**config, "fuse_twins": True}, args.rounds)
        cells = [f"failed: {result[:80]}", "-", "-"] if isinstance(result, str) else [
            f"{result[0]:.3f}", f"{result[1]:.3f}", f"{result[0] / result[1]:.2f}x"]  # fmt: skip
        lines.append("| " + " | ".join([label(config), *cells]) + " |")
        print(lines[-1], flush=True)
    return lines


def label(c: dict) -> str:
    extras = (", compiled" if c["compile"] else "") + (", channels-last" if c.get("channels_last") else "")
    extras += ", --cuda_graphs" if c.get("cuda_graphs") else ""
    extras += f", --sn_update {c['sn_update']}" if c.get("sn_update") else ""
    extras += ", --fuse_twins" if c.get("fuse_twins") else ""
    return f"batch {c['batch']}, {c['precision']}{extras}, --ins_max {c['ins_max']}"


def main(argv: list[str] | None = None) -> Path | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="48x48, ngf 8, 2 residual blocks (the demo's networks), on the CPU")
    parser.add_argument("--short", action="store_true", help="the paper's size, the configurations that matter most, in order")
    parser.add_argument("--device", choices=("cuda", "cpu"), help="default: cuda when available (always cpu with --small)")
    parser.add_argument("--against", metavar="REV", help="also compare the demo's config (batch 4) with this git revision")
    parser.add_argument("--against_only", action="store_true", help="with --against: only that comparison")
    parser.add_argument("--match", metavar="TEXT", help="only the configurations whose label holds TEXT, e.g. channels-last")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--iters", type=int, default=6)
    parser.add_argument("--out", default="docs/speed.md", help="where to write the table ('-': print only)")
    parser.add_argument("--profile", choices=("fp32", "bf16", "fp16"),
                        help="only print a profile of a batch-8 training step (with --match: of that configuration)")
    parser.add_argument("--twins", action="store_true", help="only the training step with and without --fuse_twins, in turns")
    parser.add_argument("--rounds", type=int, default=3, help="with --twins: runs of each configuration")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(json.loads(args.one))))
        return None
    import torch

    if args.profile:  # where a training step spends its time: the first batch-8 configuration (--match: the first it picks)
        grid = configs(args, "cpu" if args.small else "cuda")
        grid += [{**grid[0], **row, "fuse_twins": fused} for row in TWIN_ROWS["cpu" if args.small else "gpu"]
                 for fused in (False, True)]  # (--twins's)
        picked = [c for c in grid if args.match in label(c)] if args.match else [c for c in grid if c["batch"] == 8]
        if not picked:
            raise SystemExit(f"--match {args.match!r} picks none of: {'; '.join(map(label, grid))}")
        config = picked[0]
        result = run_one({**config, "precision": args.profile, "mode": "train", "profile": True, "iters": 2})
        print(f"{label({**config, 'precision': args.profile})}: " + result.get("profile", result.get("error", "")))
        return None

    device = "cpu" if args.small else (args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    size = "48x48, ngf = ndf = 8, 2 residual blocks" if args.small else "200x200, ngf = ndf = 64, 9 residual blocks"
    flags = (" --small" if args.small else "") + (" --short" if args.short else "")
    flags += f" --device {args.device}" if args.device and not args.small else ""
    flags += f' --match "{args.match}"' if args.match else ""
    flags += f" --warmup {args.warmup} --iters {args.iters}" if (args.warmup, args.iters) != (2, 6) else ""
    text = [f"Measured by `python scripts/benchmark_speed.py{flags}` on {machine(device)}; {size}.", "",
            "| configuration | train images/s | train peak memory (GB) | test images/s | test peak memory (GB) |",
            "|---|---|---|---|---|"]  # fmt: skip
    section = "gpu" if device == "cuda" else "cpu" if args.small else "cpu_paper"
    if args.twins:
        flags += " --twins" + (f" --rounds {args.rounds}" if args.rounds != 3 else "")
        return write_section(args.out, f"twins_{section}", twins(args, device, section, flags))
    chosen = [c for c in configs(args, device) if args.match is None or args.match in label(c)]
    for config in [] if args.against_only else chosen:
        train = run_one({**config, "mode": "train"})
        test = run_one({**config, "mode": "test"}) if config["ins_max"] == 4 else {}
        cells = [label(config)]
        for result in (train, test):
            if "error" in result:
                cells += [f"failed: {result['error'][:80]}", "-"]
            elif result:
                rate = result["images_per_s"]  # a second or more per image (the paper's size on a CPU): 2 digits
                cells += [f"{rate:.2f}" if rate >= 1 else f"{rate:.2g}", f"{result['peak_gb']:.2f}"]
            else:
                cells += ["-", "-"]
        if config["compile"] and "warmup_s" in train:
            cells[0] += f" (warm-up {train['warmup_s']:.0f} s)"
        text.append("| " + " | ".join(cells) + " |")
        print(text[-1], flush=True)
        write_section(args.out, section, text)  # after every row: a run cut short keeps what it measured
    if args.against:
        demo = {**configs(args, device)[1], "mode": "train", "iters": max(args.iters, 10)}
        result = against(args.against, demo)
        line = f"Training step, {label(demo)}, median of 3 runs each, taken in turns: revision {args.against} "
        if isinstance(result, str):
            line += f"failed: {result}"
        else:
            line += f"{result[0]:.3f} s, the checkout {result[1]:.3f} s: {result[0] / result[1]:.2f}x faster"
        text += ["", line]
        print(line)
    return write_section(args.out, section, text)


def write_section(out: str, section: str, lines: list[str]) -> Path | None:
    """Write ``lines`` as the ``section`` ("gpu", "cpu" or "cpu_paper") of the report ``out``: the other sections and the notes
    written by hand below the notes marker stay as they are."""
    if out == "-":
        return None
    path = ROOT / out
    text = path.read_text() if path.is_file() else f"# Speed and memory\n\n{NOTES}\n"
    title = {"gpu": "## On a GPU, at the paper's size", "cpu": "## On the CPU, at the demo's size",
             "cpu_paper": "## On the CPU, at the paper's size", "twins_gpu": "## Fused twins, on a GPU at the paper's size",
             "twins_cpu": "## Fused twins, on the CPU at the demo's size",
             "twins_cpu_paper": "## Fused twins, on the CPU at the paper's size"}[section]  # fmt: skip
    begin, end = f"<!-- {section} table -->", f"<!-- end of {section} table -->"
    block = "\n".join([begin, title, "", *lines, end])
    if begin in text and end in text:
        text = text.split(begin, 1)[0] + block + text.split(end, 1)[1]
    elif NOTES in text:  # the gpu section first, then the cpu one, then the notes
        head, notes = text.split(NOTES, 1)
        gpu_first = section == "gpu" and "<!-- cpu table -->" in head
        if gpu_first:
            before, after = head.split("<!-- cpu table -->", 1)
            head = before + block + "\n\n<!-- cpu table -->" + after
        else:
            head = head.rstrip("\n") + "\n\n" + block + "\n\n"
        text = head + NOTES + notes
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n\n" + NOTES + "\n"
    sys.path.insert(0, str(ROOT))
    from instagan.util.files import atomic_write_text

    atomic_write_text(path, text)
    return path


if __name__ == "__main__":
    main()

"""Training feedback through one interface (``TrainingLog``), written where people look: the loss log
(loss_log.txt), the HTML page with the current images and loss curves, and, when asked for, visdom, TensorBoard
(``--tensorboard``) and Weights & Biases (``--wandb``, offline unless ``--wandb_mode online``)."""

from __future__ import annotations

import argparse
import math
import socket
import sys
import time
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlparse

import torch

from instagan.models.run import Run
from instagan.reporting import page
from instagan.reporting.plot import loss_curves_svg
from instagan.util.cli import UserError
from instagan.util.images import save_image, tensor2im


def _visdom_client(opt: argparse.Namespace):
    """A visdom client when --display_id > 0 and a server answers; otherwise None, after one line on stderr."""
    if opt.display_id <= 0:
        return None
    host = urlparse(opt.display_server).hostname or opt.display_server
    reason = None
    try:
        import visdom
    except ImportError:
        reason = "visdom is not installed (docs/tips.md: Logging and live display)"
    else:
        try:
            with socket.create_connection((host, opt.display_port), timeout=1.0):
                pass
        except OSError:
            reason = f"no visdom server answers at {opt.display_server}:{opt.display_port} (python -m visdom.server starts one)"
    if reason:
        print(f"no live display: {reason}; --display_id 0 silences this", file=sys.stderr)
        return None
    return visdom.Visdom(server=opt.display_server, port=opt.display_port, env=opt.display_env, raise_exceptions=False)


class TensorBoard:
    """Losses as scalars and the current images, under <run>/tensorboard."""

    def __init__(self, run_dir: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise UserError("--tensorboard needs the tensorboard package: pip install tensorboard") from err
        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def losses(self, step: int, losses: dict[str, float]) -> None:
        for name, value in losses.items():
            self.writer.add_scalar(f"loss/{name}", value, step)

    def images(self, step: int, visuals: OrderedDict[str, torch.Tensor]) -> None:
        for name, image in visuals.items():
            self.writer.add_image(name, tensor2im(image), step, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()


class WeightsAndBiases:
    """Losses and images in a Weights & Biases run (offline by default: ``wandb sync`` uploads it later)."""

    def __init__(self, opt: argparse.Namespace, run_dir: Path) -> None:
        try:
            import wandb
        except ImportError as err:
            raise UserError("--wandb needs the wandb package: pip install wandb") from err
        self.wandb = wandb
        config = {k: (v if isinstance(v, (int, float, str, bool, list, type(None))) else str(v)) for k, v in vars(opt).items()}
        self.run = wandb.init(project=opt.wandb_project, name=opt.name, dir=str(run_dir), mode=opt.wandb_mode, config=config,
                              resume="allow", id=f"{opt.name}-{run_dir.stat().st_ino}")  # fmt: skip

    def losses(self, step: int, losses: dict[str, float]) -> None:
        self.run.log({f"loss/{k}": v for k, v in losses.items()}, step=step)

    def images(self, step: int, visuals: OrderedDict[str, torch.Tensor]) -> None:
        self.run.log({name: self.wandb.Image(tensor2im(image)) for name, image in visuals.items()}, step=step)

    def close(self) -> None:
        self.run.finish()


class TrainingLog:
    """What train.py reports to, once per event: ``losses``, ``images``, ``end_epoch``; it fans out to every backend."""

    def __init__(self, opt: argparse.Namespace) -> None:
        self.opt = opt
        self.run_dir = Path(opt.checkpoints_dir) / opt.name
        self.web_dir = self.run_dir / "web"
        self.log_path = self.run_dir / "loss_log.txt"
        self.use_html = opt.isTrain and not opt.no_html
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.vis = _visdom_client(opt)
        self.backends = []
        if opt.tensorboard:
            self.backends.append(TensorBoard(self.run_dir))
        if opt.wandb:
            self.backends.append(WeightsAndBiases(opt, self.run_dir))
        self.history: dict[str, list] = {"x": [], "losses": []}
        self.labels: list[str] = []
        # the wall time of the run: of the sessions before a resume (from the checkpoint) and of this one
        self.seconds_before, self.started = 0.0, time.monotonic()
        self.epochs_done = 0
        with self.log_path.open("a") as log:
            log.write(f"================ Training Loss ({time.strftime('%c')}) ================\n")

    # state for resuming, so that the curves continue
    def state_dict(self) -> dict:
        return {"history": self.history, "seconds": self.seconds()}

    def load_state_dict(self, state: dict) -> None:
        self.history = state.get("history", self.history)
        self.seconds_before = state.get("seconds", 0.0)

    def seconds(self) -> float:
        """The wall time the run has trained, over every session of it."""
        return self.seconds_before + time.monotonic() - self.started

    def losses(self, epoch: int, epoch_images: int, epoch_fraction: float, step: int, losses: OrderedDict[str, float],
               t_comp: float, t_data: float) -> str:  # fmt: skip
        """Record the current losses everywhere; returns the line to print."""
        message = f"(epoch: {epoch}, iters: {epoch_images}, time: {t_comp:.3f}, data: {t_data:.3f}) "
        message += " ".join(f"{k}: {v:.3f}" for k, v in losses.items())
        with self.log_path.open("a") as log:
            log.write(message + "\n")
        self.history["x"].append(epoch - 1 + epoch_fraction)  # epochs done: the first epoch's points lie in (0, 1]
        self.history["losses"].append(dict(losses))
        if self.vis is not None:
            names = list(losses)
            x = torch.tensor(self.history["x"]).unsqueeze(1).repeat(1, len(names))
            y = torch.tensor([[h.get(n, 0.0) for n in names] for h in self.history["losses"]])
            opts = {"title": f"{self.opt.name} loss over time", "legend": names, "xlabel": "epochs done", "ylabel": "loss"}
            self.vis.line(X=x, Y=y, opts=opts, win=self.opt.display_id)
        for backend in self.backends:
            backend.losses(step, dict(losses))
        return message

    def images(self, visuals: OrderedDict[str, torch.Tensor], epoch: int, step: int, save_html: bool) -> None:
        """Show the current images everywhere; with ``save_html`` also keep them on the HTML page."""
        if self.vis is not None:
            images = [torch.from_numpy(tensor2im(v)).permute(2, 0, 1) for v in visuals.values()]
            self.vis.images(images, nrow=self.opt.display_ncols, win=self.opt.display_id + 1, opts={"title": "images"})
        for backend in self.backends:
            backend.images(step, visuals)
        if self.use_html and save_html:
            for label, image in visuals.items():
                save_image(self.web_dir / "images" / f"epoch{epoch:03d}_{label}.png", tensor2im(image))
            self.labels = list(visuals)
            self.write_page(epoch)

    def end_epoch(self, epoch: int) -> None:
        self.epochs_done = epoch
        self.write_page(epoch)

    def close(self) -> None:
        for backend in self.backends:
            backend.close()

    def write_page(self, epoch: int) -> Path | None:
        """Rewrite web/index.html: the run (status, wall time, options), the loss curves of the generators and of the
        discriminators, then the saved pictures, newest epoch first, a row per direction."""
        if not self.use_html:
            return None
        opt, last = self.opt, self.opt.niter + self.opt.niter_decay
        doc = page.HTML(self.web_dir, f"Experiment name = {opt.name}")
        status = f"finished at epoch {last}" if self.epochs_done >= last else f"running: epoch {epoch} of {last}"
        doc.add_table(["run", opt.name], [["status", status], ["model", opt.model], ["data", str(opt.dataroot)],
                                          ["wall time", duration(self.seconds())],
                                          ["page written", time.strftime("%Y-%m-%d %H:%M:%S")]])  # fmt: skip
        doc.add_links([("train_opt.txt", "../train_opt.txt"), ("train_opt.json", "../train_opt.json"),
                       ("loss_log.txt", "../loss_log.txt")], before="the run's options and losses:")  # fmt: skip
        values = Run(self.run_dir).options()
        if values:
            doc.add_table(["option", "value"], [[k, str(v)] for k, v in sorted(values.items())], collapsed="all options")
        losses = self.history["losses"]
        doc.add_header("Losses")
        if losses:
            x, names = self.history["x"], list(losses[-1])
            span = (0, max(last, math.ceil(max(x))))
            curves = []
            for title, of_discriminators in (("generator", False), ("discriminator", True)):
                chosen = [n for n in names if (n.split("_")[0] == "D") == of_discriminators]
                if chosen:
                    ys = {n: [h.get(n, 0.0) for h in losses] for n in chosen}
                    curves.append(loss_curves_svg(x, ys, x_range=span, title=f"{title} losses"))
            doc.add_raw(f'<div class="plots">{"".join(curves)}</div>')
        else:
            doc.add_text(f"No losses logged yet: they are logged every --print_freq {opt.print_freq} images (per "
                         "domain), and the curves appear here from the first.")  # fmt: skip
        saved = sorted({int(p.name[5:8]) for p in (self.web_dir / "images").glob("epoch*_*.png")}, reverse=True)
        for n in saved:
            files = sorted((self.web_dir / "images").glob(f"epoch{n:03d}_*.png"), key=self._order)
            doc.add_header(f"epoch [{n}]")
            rows: dict[str, list[Path]] = {}
            for f in files:
                rows.setdefault(direction(f.stem.split("_", 1)[1]), []).append(f)
            columns = max(len(row) for row in rows.values())
            for label, row in rows.items():
                names = [f.name for f in row]
                doc.add_images(names, [f.stem.split("_", 1)[1] for f in row], names, width=opt.display_winsize,
                               columns=columns, label=label)  # fmt: skip
        return doc.save()

    def _order(self, path: Path) -> int:
        label = path.stem.split("_", 1)[1]
        return self.labels.index(label) if label in self.labels else len(self.labels)


def direction(label: str) -> str:
    """The translation a training picture belongs to, by its name: ``real_A_img``, ``fake_B_seg`` and ``rec_A_img``
    to A -> B; a name of another form to "other"."""
    kind, domain = (label.split("_") + ["", ""])[:2]
    if domain not in ("A", "B"):
        return "other"
    source = {"A": "B", "B": "A"}[domain] if kind == "fake" else domain
    return f"{source} -> {'B' if source == 'A' else 'A'}"


def duration(seconds: float) -> str:
    """``3 h 05 min``, ``12 min 04 s`` or ``9 s``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"

"""Training feedback: the loss log, the HTML page with current images and loss curves, and visdom."""

from __future__ import annotations

import argparse
import socket
import time
import warnings
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlparse

import torch

from instagan.reporting import page
from instagan.reporting.plot import loss_curves_svg
from instagan.util.images import save_image, tensor2im


def _visdom_client(opt: argparse.Namespace):
    """A visdom client when --display_id > 0 and a server answers; otherwise None, after one warning."""
    if opt.display_id <= 0:
        return None
    host = urlparse(opt.display_server).hostname or opt.display_server
    reason = None
    try:
        import visdom
    except ImportError:
        reason = "visdom is not installed (see README: Display)"
    else:
        try:
            with socket.create_connection((host, opt.display_port), timeout=1.0):
                pass
        except OSError:
            reason = (
                f"no visdom server answers at {opt.display_server}:{opt.display_port} (start one with `python -m visdom.server`)"
            )
    if reason:
        warnings.warn(
            f"{reason}; training goes on without it (the HTML page is still written; --display_id 0 silences this)", stacklevel=3
        )
        return None
    return visdom.Visdom(server=opt.display_server, port=opt.display_port, env=opt.display_env, raise_exceptions=False)


class Visualizer:
    def __init__(self, opt: argparse.Namespace) -> None:
        self.opt = opt
        self.run_dir = Path(opt.checkpoints_dir) / opt.name
        self.web_dir = self.run_dir / "web"
        self.log_path = self.run_dir / "loss_log.txt"
        self.use_html = opt.isTrain and not opt.no_html
        self.vis = _visdom_client(opt)
        self.history: dict[str, list] = {"x": [], "losses": []}
        self.last_visuals_epoch: int | None = None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            log.write(f"================ Training Loss ({time.strftime('%c')}) ================\n")

    # state for resuming, so that the curves continue
    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state: dict) -> None:
        self.history = state.get("history", self.history)

    def plot_current_losses(self, epoch: int, counter_ratio: float, losses: OrderedDict[str, float]) -> None:
        self.history["x"].append(epoch + counter_ratio)
        self.history["losses"].append(dict(losses))
        if self.vis is not None:
            names = list(losses)
            x = torch.tensor(self.history["x"]).unsqueeze(1).repeat(1, len(names))
            y = torch.tensor([[h.get(n, 0.0) for n in names] for h in self.history["losses"]])
            self.vis.line(
                X=x,
                Y=y,
                opts={"title": f"{self.opt.name} loss over time", "legend": names, "xlabel": "epoch", "ylabel": "loss"},
                win=self.opt.display_id,
            )

    def format_losses(self, epoch: int, iters: int, losses: OrderedDict[str, float], t_comp: float, t_data: float) -> str:
        message = f"(epoch: {epoch}, iters: {iters}, time: {t_comp:.3f}, data: {t_data:.3f}) "
        message += " ".join(f"{k}: {v:.3f}" for k, v in losses.items())
        with self.log_path.open("a") as log:
            log.write(message + "\n")
        return message

    def display_current_results(self, visuals: OrderedDict[str, torch.Tensor], epoch: int, save_result: bool) -> None:
        """Show the current images in visdom and, when save_result, write them to the HTML page."""
        if self.vis is not None:
            images = [torch.from_numpy(tensor2im(v)).permute(2, 0, 1) for v in visuals.values()]
            self.vis.images(images, nrow=self.opt.display_ncols, win=self.opt.display_id + 1, opts={"title": "images"})
        if self.use_html and save_result:
            for label, image in visuals.items():
                save_image(self.web_dir / "images" / f"epoch{epoch:03d}_{label}.png", tensor2im(image))
            self.last_visuals_epoch = epoch
            self.labels = list(visuals)
            self.write_page(epoch)

    def write_page(self, epoch: int) -> Path | None:
        """Rewrite web/index.html: the loss curves, then the saved images, newest epoch first."""
        if not self.use_html:
            return None
        doc = page.HTML(self.web_dir, f"Experiment name = {self.opt.name}")
        doc.add_header(f"{self.opt.name}: {self.opt.model}, epoch {epoch}")
        losses = self.history["losses"]
        if losses:
            names = list(losses[-1])
            doc.add_header("Losses")
            doc.add_raw(loss_curves_svg(self.history["x"], {n: [h.get(n, 0.0) for h in losses] for n in names}))
        saved = sorted({int(p.name[5:8]) for p in (self.web_dir / "images").glob("epoch*_*.png")}, reverse=True)
        for n in saved:
            files = sorted((self.web_dir / "images").glob(f"epoch{n:03d}_*.png"), key=self._order)
            doc.add_header(f"epoch [{n}]")
            names = [f.name for f in files]
            doc.add_images(names, [f.stem.split("_", 1)[1] for f in files], names, width=self.opt.display_winsize)
        return doc.save()

    def _order(self, path: Path) -> int:
        label = path.stem.split("_", 1)[1]
        labels = getattr(self, "labels", [])
        return labels.index(label) if label in labels else len(labels)

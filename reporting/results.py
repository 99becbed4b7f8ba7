"""Writing test.py's translated images and its index.html."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from instagan.reporting import page
from instagan.util import instance_set
from instagan.util.cli import UserError
from instagan.util.images import save_image, tensor2im

# columns of one result row, per direction src -> tgt
ROW = ("real_{s}_img", "real_{s}_seg", "fake_{t}_img", "fake_{t}_seg", "rec_{s}_img", "rec_{s}_seg")


class ResultsWriter:
    """Saves, per translated sample, ``<stem>_<visual>.png`` for every visual, the per-instance input and
    translated masks as ``<stem>_real_<s>_ins<k>.png`` / ``<stem>_fake_<t>_ins<k>.png``, and one page row."""

    def __init__(self, web_dir: Path, title: str, aspect_ratio: float = 1.0, width: int = 256) -> None:
        self.page = page.HTML(web_dir, title)
        self.img_dir = self.page.img_dir
        self.aspect_ratio = aspect_ratio
        self.width = width
        self.count = 0

    def add_batch(self, model) -> int:
        """Write every sample of the model's current batch; returns how many rows were written."""
        visuals = model.get_current_visuals()
        written = 0
        for src, tgt, paths in model.result_directions():
            names = [n.format(s=src, t=tgt) for n in ROW]
            if f"fake_{tgt}_img" not in visuals:
                continue
            real_segs = getattr(model, f"real_{src}_segs", None)
            fake_segs = getattr(model, f"fake_{tgt}_segs", None)
            for b, path in enumerate(paths):
                stem = Path(path).stem
                files = []
                for name in names:
                    if name in visuals:
                        file = f"{stem}_{name}.png"
                        save_image(self.img_dir / file, tensor2im(visuals[name][b]), self.aspect_ratio)
                        files.append((file, name))
                if real_segs is not None and fake_segs is not None:
                    self._save_instances(stem, src, tgt, real_segs[b], fake_segs[b])
                self.page.add_header(f"{stem} ({src} -> {tgt})")
                self.page.add_images([f for f, _ in files], [n for _, n in files], [f for f, _ in files], self.width)
                written += 1
        self.count += written
        return written

    def _save_instances(self, stem: str, src: str, tgt: str, real: torch.Tensor, fake: torch.Tensor) -> None:
        keep = instance_set.nonempty(real.unsqueeze(0))[0]
        for k in keep.nonzero(as_tuple=True)[0].tolist():
            save_image(self.img_dir / f"{stem}_real_{src}_ins{k}.png", tensor2im(real[k : k + 1]), self.aspect_ratio)
            save_image(self.img_dir / f"{stem}_fake_{tgt}_ins{k}.png", tensor2im(fake[k : k + 1]), self.aspect_ratio)

    def save(self) -> Path:
        return self.page.save()


class FreshFolder:
    """A results folder that appears whole: written into a hidden sibling, moved into place by ``commit``.

    An existing folder with results is refused unless ``overwrite``; then it is replaced only once the new results
    are complete, so an interrupted run leaves the old results as they were and never a mix of two runs.
    Use as a context manager: leaving it without ``commit`` (an error, Ctrl-C) deletes the partial folder.
    """

    def __init__(self, final: Path, overwrite: bool) -> None:
        self.final = Path(final)
        if self.final.is_dir() and any(self.final.iterdir()) and not overwrite:
            raise UserError(
                f"{self.final} already holds results: pass --overwrite to replace them, or choose another "
                "--results_dir, --name or --phase"
            )
        self.partial = self.final.parent / f".{self.final.name}.partial"

    def __enter__(self) -> FreshFolder:
        shutil.rmtree(self.partial, ignore_errors=True)  # left by an interrupted run
        self.partial.mkdir(parents=True)
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)

    def commit(self) -> Path:
        old = self.final.parent / f".{self.final.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if self.final.exists():
            self.final.rename(old)
        self.partial.rename(self.final)
        shutil.rmtree(old, ignore_errors=True)
        return self.final

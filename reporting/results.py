"""test.py's results folder: the images of every translation, ``results.json`` (what each file is) and ``index.html``.

``results.json`` lists, per translated sample, its direction, its source file and the files written for it: the
source image and masks, the translated image and masks, the reconstruction, and each instance's input and translated
mask. evaluate.py and the page read it, never file-name patterns; ``read_manifest`` reads folders written before
manifests existed by their file names, in this one place (``_from_names``).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from instagan.models.two_domain_model import Translation
from instagan.reporting import page
from instagan.util import instance_set
from instagan.util.cli import UserError
from instagan.util.files import FolderLock, StagedFolder, atomic_write_bytes, atomic_write_text
from instagan.util.images import outlines, save_image, tensor2im

MANIFEST = "results.json"
# what a results folder may hold beside it, shown on its index page (scripts/demo_shapes.py writes both)
DEMO_RECORD, OVERVIEW = "demo.json", "overview.png"
PER_PAGE = 50  # translated samples per page: a page of every sample of a test split would hold thousands of images
# file names by role, as CycleGAN named its visuals (and as earlier versions of this project wrote them)
NAMES = {
    "source": "{stem}_real_{s}_img.png",
    "source_masks": "{stem}_real_{s}_seg.png",
    "translated": "{stem}_fake_{t}_img.png",
    "translated_masks": "{stem}_fake_{t}_seg.png",
    "reconstructed": "{stem}_rec_{s}_img.png",
    "reconstructed_masks": "{stem}_rec_{s}_seg.png",
    "steps": "{stem}_fake_{t}_steps.png",
}
INSTANCE_NAMES = {"source": "{stem}_real_{s}_ins{k}.png", "translated": "{stem}_fake_{t}_ins{k}.png"}
# the image as it stood after each sequential step but the last (which is "translated"), role "after_step_<k>"
AFTER_STEP_NAME = "{stem}_fake_{t}_after_step{k}.png"
UNTRANSLATED_NAME = "{stem}_real_{s}_left{k}.png"
COLUMNS = ("source", "source_masks", "translated", "translated_masks", "steps", "reconstructed", "reconstructed_masks")
# the outline colours of the "steps" image: the instances of the first sequential step, the second, ...; and the
# instances beyond --ins_max, which were not translated
STEP_COLOURS = ((230, 25, 75), (0, 110, 255), (20, 170, 60), (255, 140, 0), (150, 50, 200), (0, 190, 190))
STEP_NAMES = ("red", "blue", "green", "orange", "purple", "cyan")
UNTRANSLATED_COLOUR, UNTRANSLATED_COLOUR_NAME = (0, 0, 0), "black"


def steps_legend(steps: int) -> str:
    """What the outline colours of the "steps" images mean."""
    named = [f"step {k + 1} {STEP_NAMES[k % len(STEP_NAMES)]}" for k in range(steps)]
    return ("steps: the translated image with each translated instance outlined in the colour of the sequential step "
            f"that translated it ({', '.join(named)}); instances not translated (beyond --ins_max) in "
            f"{UNTRANSLATED_COLOUR_NAME}.")  # fmt: skip


@dataclass
class Sample:
    """One translated image in a results folder; paths are relative to the folder."""

    direction: str  # "A->B"
    source_file: str
    stem: str
    images: dict[str, str]  # role (see NAMES) -> path
    # per instance of the source image: {"source": path, "translated": path, "step": the sequential step that translated
    # it, from 1}; an instance beyond --ins_max has no "translated" and its step is None (folders written before steps
    # were recorded have no "step")
    instances: list[dict] = field(default_factory=list)

    @property
    def src(self) -> str:
        return self.direction[0]

    @property
    def tgt(self) -> str:
        return self.direction[-1]


class ResultsWriter:
    """Writes every translation of a test pass into ``folder`` and, at ``save``, its manifest and page."""

    def __init__(self, folder: Path, title: str, aspect_ratio: float = 1.0, width: int = 256) -> None:
        self.folder, self.title, self.aspect_ratio, self.width = Path(folder), title, aspect_ratio, width
        (self.folder / "images").mkdir(parents=True, exist_ok=True)
        self.samples: list[Sample] = []

    @property
    def count(self) -> int:
        return len(self.samples)

    def _save(self, name: str, image: torch.Tensor | np.ndarray) -> str:
        array = image if isinstance(image, np.ndarray) else tensor2im(image)
        save_image(self.folder / "images" / name, array, self.aspect_ratio)
        return f"images/{name}"

    def add(self, translations: list[Translation]) -> int:
        """Write the images of a batch's translations; returns how many samples were written."""
        written = 0
        done = {(s.direction, s.source_file) for s in self.samples}
        for t in translations:
            with_masks = t.source_masks.shape[1] > 0
            left = t.untranslated_masks if t.untranslated_masks is not None else t.source_masks[:, :0]
            for b, path in enumerate(t.paths):
                if (f"{t.src}->{t.tgt}", str(path)) in done:  # a domain shorter than the other repeats its images
                    continue
                done.add((f"{t.src}->{t.tgt}", str(path)))
                stem, names = Path(path).stem, {"s": t.src, "t": t.tgt}
                tensors = {"source": t.source, "translated": t.translated, "reconstructed": t.reconstructed}
                if with_masks:
                    tensors.update(source_masks=instance_set.merge(t.source_masks), reconstructed_masks=instance_set.merge(
                        t.reconstructed_masks), translated_masks=instance_set.merge(t.translated_masks))  # fmt: skip
                images = {role: self._save(NAMES[role].format(stem=stem, **names), tensors[role][b]) for role in COLUMNS
                          if role in tensors}  # fmt: skip
                instances, drawn, last_step = [], [], 0
                for k in instance_set.nonempty(t.source_masks[b : b + 1])[0].nonzero(as_tuple=True)[0].tolist():
                    pair = {"source": t.source_masks[b, k : k + 1], "translated": t.translated_masks[b, k : k + 1]}
                    entry = {role: self._save(INSTANCE_NAMES[role].format(stem=stem, k=k, **names), mask)
                             for role, mask in pair.items()}  # fmt: skip
                    step = t.slot_steps[k] if k < len(t.slot_steps) else None
                    instances.append({**entry, "step": None if step is None else step + 1})
                    last_step = max(last_step, 0 if step is None else step)
                    colour = UNTRANSLATED_COLOUR if step is None else STEP_COLOURS[step % len(STEP_COLOURS)]
                    drawn.append((t.translated_masks[b, k], colour))
                for k in instance_set.nonempty(left[b : b + 1])[0].nonzero(as_tuple=True)[0].tolist():
                    name = UNTRANSLATED_NAME.format(stem=stem, k=k, **names)
                    instances.append({"source": self._save(name, left[b, k : k + 1]), "step": None})
                    drawn.append((left[b, k], UNTRANSLATED_COLOUR))
                for k in range(min(last_step, len(t.step_images))):  # the steps before the sample's last
                    name = AFTER_STEP_NAME.format(stem=stem, k=k + 1, **names)
                    images[f"after_step_{k + 1}"] = self._save(name, t.step_images[k][b])
                if with_masks:
                    steps = outlines(t.translated[b], [m for m, _ in drawn], [c for _, c in drawn])
                    images["steps"] = self._save(NAMES["steps"].format(stem=stem, **names), steps)
                self.samples.append(Sample(f"{t.src}->{t.tgt}", str(path), stem, images, instances))
                written += 1
        return written

    def save(self, options: dict | None = None) -> Path:
        """Write ``results.json`` and ``index.html``; returns the page."""
        manifest = {"format": 1, "title": self.title, "options": options or {}, "samples": [asdict(s) for s in self.samples]}
        atomic_write_text(self.folder / MANIFEST, json.dumps(manifest, indent=1) + "\n")
        return write_page(self.folder, self.samples, self.title, width=self.width)


def read_manifest(folder: Path) -> tuple[str, list[Sample]]:
    """The title and samples of a results folder: from its ``results.json``, or from its file names (older folders)."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        return folder.name, _from_names(folder)
    try:
        manifest = json.loads(path.read_text())
        samples = [Sample(**s) for s in manifest["samples"]]
        for s in samples:
            missing = [role for role in ("source", "translated") if role not in s.images]
            missing += [f"instance {k}: source" for k, pair in enumerate(s.instances) if "source" not in pair]
            if missing:
                raise KeyError(f"sample {s.stem} ({s.direction}) lacks {', '.join(missing)}")
            files = [*s.images.values(), *(pair[r] for pair in s.instances for r in ("source", "translated") if r in pair)]
            outside = [f for f in files if not _inside(f)]
            if outside:
                raise UserError(f"{path} names a file outside its folder ({outside[0]}): its files are read from the folder "
                                "only; run test.py again with --overwrite")  # fmt: skip
        return manifest.get("title", folder.name), samples
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise UserError(f"{path} is damaged ({' '.join(str(err).split())}): run test.py again with --overwrite") from err


def _inside(file: object) -> bool:
    """Whether a path of a manifest stays inside its folder: relative, with no ``..``."""
    if not isinstance(file, str):
        raise TypeError(f"a file of a sample is {file!r}, not a path")
    path = Path(file)
    return not path.is_absolute() and ".." not in path.parts and not path.drive


def _from_names(folder: Path) -> list[Sample]:
    """A results folder of an earlier version, read by the file names it used (NAMES, INSTANCE_NAMES)."""
    images, samples = folder / "images", []
    for src, tgt in (("A", "B"), ("B", "A")):
        suffix = NAMES["translated"].format(stem="", s=src, t=tgt)
        for file in sorted(images.glob(f"*{suffix}")):
            stem, names = file.name[: -len(suffix)], {"s": src, "t": tgt}
            found = {role: f"images/{pattern.format(stem=stem, **names)}" for role, pattern in NAMES.items()}
            found = {role: p for role, p in found.items() if (folder / p).is_file()}
            instances = []
            for source in sorted(images.glob(INSTANCE_NAMES["source"].format(stem=stem, k="*", **names))):
                k = source.stem.rsplit("_ins", 1)[1]
                translated = images / INSTANCE_NAMES["translated"].format(stem=stem, k=k, **names)
                instances.append({"source": f"images/{source.name}", "translated": f"images/{translated.name}"})
            samples.append(Sample(f"{src}->{tgt}", "", stem, found, instances))
    return samples


def write_page(folder: Path, samples: list[Sample], title: str, metrics: dict | None = None, width: int = 256,
               per_page: int = PER_PAGE) -> Path:  # fmt: skip
    """The pages of a results folder. ``index.html``: what the folder holds beside the translations (the targets of
    ``demo.json``, ``overview.png``), the metrics (if any, as ``evaluation.scoring.page_metrics`` gives them), then the
    first ``per_page`` translated samples; ``page2.html``, ... the next. A row of images per sample, A -> B first, each
    direction by file name; every page links to the others. Returns the index."""
    folder = Path(folder)
    ordered = sorted(samples, key=lambda s: (s.direction, s.stem))  # each direction's images in order
    chunks = [ordered[k : k + per_page] for k in range(0, len(ordered), per_page)] or [[]]
    names = ["index.html", *(f"page{k + 1}.html" for k in range(1, len(chunks)))]
    steps = max((i.get("step") or 0 for s in samples for i in s.instances), default=0)
    for number, (name, chunk) in enumerate(zip(names, chunks)):
        doc = page.HTML(folder, title if number == 0 else f"{title}: page {number + 1} of {len(chunks)}")
        if number == 0:
            _summary(doc, folder, metrics)
        else:
            doc.add_links([("index.html", "index.html")], before="metrics and the first samples:")
        doc.add_header("Translations")
        if any("steps" in s.images for s in samples):
            doc.add_text(steps_legend(steps))
        pages = f"{len(ordered)} samples on {len(chunks)} pages of {per_page}:"
        if len(chunks) > 1:
            doc.add_links(_navigation(names, chunks, number), before=pages)
        for s in chunk:
            doc.add_header(f"{s.stem} ({s.src} -> {s.tgt})")
            after = sorted((r for r in s.images if r.startswith("after_step_")), key=lambda r: int(r.rsplit("_", 1)[1]))
            roles = [*COLUMNS[:2], *after, *COLUMNS[2:]]  # the image after each step, then the translation
            files = [(s.images[role], role) for role in roles if role in s.images]
            images = [Path(f).name for f, _ in files]
            doc.add_images(images, [role for _, role in files], images, width)
        if len(chunks) > 1:
            doc.add_links(_navigation(names, chunks, number), before=pages)
        doc.save(name)
    for stale in folder.glob("page*.html"):  # of an earlier write with more samples
        if stale.name not in names and re.fullmatch(r"page\d+\.html", stale.name):
            stale.unlink()
    return folder / "index.html"


def _navigation(names: list[str], chunks: list[list[Sample]], here: int) -> list[tuple[str, str | None]]:
    """The links between the pages: previous, one per page (named by its first and last sample), next."""
    links = [("previous", names[here - 1])] if here else []
    for k, (name, chunk) in enumerate(zip(names, chunks)):
        first, last = chunk[0], chunk[-1]
        links.append((f"{k + 1} ({first.direction} {first.stem} to {last.direction} {last.stem})", None if k == here else name))
    return links + ([("next", names[here + 1])] if here + 1 < len(names) else [])


def _summary(doc: page.HTML, folder: Path, metrics: dict | None) -> None:
    """The top of the index: the demo's targets and verdict (``demo.json``), the overview picture, the metrics."""
    if (folder / DEMO_RECORD).is_file():
        record = json.loads((folder / DEMO_RECORD).read_text())
        targets, met = record.get("targets", {}), record.get("met", {})
        doc.add_header("Targets")
        rows = [[name, "-" if value is None else str(value), " ".join(map(str, targets.get(name, ["-"]))),
                 "-" if name not in met else "met" if met[name] else "NOT met"]
                for name, value in record.get("values", {}).items()]  # fmt: skip
        doc.add_table(["A -> B", "value", "target", "verdict"], rows)
        verdict = "all targets met" if met and all(met.values()) else f"{sum(met.values())} of {len(met)} targets met"
        smoke = " (a smoke run with tiny settings: not expected to meet them)" if record.get("quick") else ""
        minutes, seconds = divmod(round(record.get("seconds", {}).get("total", 0)), 60)
        took = f"; the demo took {minutes} min {seconds} s" if minutes or seconds else ""
        doc.add_text(f"The demo (seed {record.get('seed')}{took}): {verdict}{smoke}. value: over the test images; the "
                     "metrics below give their intervals.")  # fmt: skip
    if (folder / OVERVIEW).is_file():
        doc.add_header("Overview")
        with Image.open(folder / OVERVIEW) as picture:
            shown = picture.width
        doc.add_picture(OVERVIEW, f"{OVERVIEW}: the first samples of each direction, one a row", shown)
    if metrics:
        doc.add_header("Metrics")
        for note in metrics.get("notes", []):
            doc.add_text(note)
        for section in metrics["sections"]:
            doc.add_header(section["title"], level=4)
            doc.add_table(section["header"], section["rows"])
            for note in section["notes"]:
                doc.add_text(note)


def overview(
    folder: Path, out: Path, per_direction: int = 3, roles: tuple[str, ...] = ("source", "steps"), scale: int = 3
) -> Path:
    """One picture of a results folder: for the first ``per_direction`` samples of each direction, its images of
    ``roles`` side by side (by default the input and the translation with each instance outlined in its step's
    colour), one sample per row, A -> B first, enlarged ``scale`` times without smoothing."""
    _, samples = read_manifest(folder)
    rows = []
    for direction in sorted({s.direction for s in samples}):
        chosen = sorted((s for s in samples if s.direction == direction), key=lambda s: s.stem)[:per_direction]
        for sample in chosen:
            parts = [Image.open(folder / sample.images[r]).convert("RGB") for r in roles if r in sample.images]
            rows.append(np.concatenate([np.asarray(p) for p in parts], axis=1))
    if not rows:
        raise UserError(f"{folder} holds no translations to show")
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]  # a white gap
    sheet = np.concatenate(padded)[:-2]
    picture = Image.fromarray(sheet).resize((sheet.shape[1] * scale, sheet.shape[0] * scale), Image.NEAREST)
    buffer = BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    atomic_write_bytes(Path(out), buffer.getvalue())
    return Path(out)


class FreshFolder(StagedFolder):
    """A results folder that appears whole (``StagedFolder``): written into a hidden sibling, moved into place by
    ``commit``. An existing folder with results is refused unless ``overwrite``; then it is replaced only once the new
    results are complete, so an interrupted run leaves the old results as they were and never a mix of two runs.
    """

    def __init__(self, final: Path, overwrite: bool, elsewhere: str = "--results_dir, --name or --phase") -> None:
        super().__init__(final)
        # one writer at a time, from the check to the commit; what crashed writers left is cleared under the lock
        self.lock = FolderLock(self.final.parent / f".{self.final.name}.lock", str(self.final),
                               f"wait for it to finish, or choose another {elsewhere}").acquire()  # fmt: skip
        self.remove_stale()
        if self.final.is_dir() and any(self.final.iterdir()) and not overwrite:
            self.lock.release()
            raise UserError(
                f"{self.final} already holds results: pass --overwrite to replace them, or choose another {elsewhere}"
            )

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self.lock.release()

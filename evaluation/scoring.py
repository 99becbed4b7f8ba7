"""Scoring a results folder of test.py: what evaluate.py computes, for each direction of translation.

A metric that one translated image gives on its own (context error, mask shape, ...) is one row of ``PER_IMAGE``:
its column, the note the results page prints, and the function of one ``Image``; adding a metric is adding a row.
The judge's classification score, the scores per sequential step and the feature distances look at all the images of
a direction together and are computed in ``score_direction``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from instagan.data.image_folder import index_masks, make_dataset, read_image, read_mask
from instagan.evaluation import inception, metrics
from instagan.evaluation.judge import Ensemble, crop, folder_crops
from instagan.util.images import from_uint8

NOT_TRANSLATED = "not translated"  # the step of an instance beyond --ins_max
REAL_LIMIT = 500  # real images per folder for the judge's accuracy and the distances


class Sample(Protocol):
    """One translated image of a results folder, as ``reporting.results.read_manifest`` lists it."""

    direction: str  # "A->B"
    stem: str
    images: dict[str, str]  # role -> path in the folder: "source", "translated", ...
    instances: list[dict]  # per instance of the source image: "source", "translated" (absent if not), "step"

    @property
    def src(self) -> str: ...


def _image(path: Path) -> torch.Tensor:
    return from_uint8(read_image(path))


def _mask(path: Path, size: tuple[int, int]) -> torch.Tensor:
    return from_uint8(read_mask(path, size))


def _resized_mask(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """A data-set mask resized (bicubic, as the loader does) to an output's size."""
    raw = read_image(path)[:1].float()[None]
    resized = torch.nn.functional.interpolate(raw, size=size, mode="bicubic", antialias=True, align_corners=False)
    return from_uint8(resized[0, 0].clamp(0, 255))


@dataclass
class Image:
    """One source image and its translation, read once from a results folder.

    ``translated_from``: the masks of the instances that were translated, ``translated_to`` their translations (same
    order), ``left``: the instances beyond --ins_max, not translated. An image-only model (CycleGAN) has no instance
    pairs: ``translated_from`` then holds the data set's masks (where the instances were) and ``has_instances`` is
    False. ``bodies``: each translation binarized, without its specks (which would set its bounding box)."""

    source: torch.Tensor
    output: torch.Tensor
    has_instances: bool
    translated_from: list[torch.Tensor]
    translated_to: list[torch.Tensor]
    left: list[torch.Tensor]
    steps: list[int | None]  # the sequential step that translated each instance of translated_from
    binary: list[torch.Tensor]
    bodies: list[torch.Tensor]
    right_shape: list[bool]

    @classmethod
    def read(cls, folder: Path, sample: Sample, dataset_masks: dict, target_shape: str) -> Image:
        source, output = _image(folder / sample.images["source"]), _image(folder / sample.images["translated"])
        size = tuple(source.shape[1:])
        if sample.instances:  # InstaGAN: the instances it translated, and their translations
            done = [pair for pair in sample.instances if pair.get("translated")]
            left = [_mask(folder / pair["source"], size) for pair in sample.instances if not pair.get("translated")]
            before = [_mask(folder / pair["source"], size) for pair in done]
            after = [_mask(folder / pair["translated"], size) for pair in done]
            steps = [pair.get("step") for pair in done]
        else:  # an image-only model: the data set's masks mark where the instances were
            before = [_resized_mask(p, size) for p in dataset_masks.get(sample.stem, [])]
            after, left, steps = [], [], [None] * len(before)
        binary = [metrics.binarize(m) for m in after]
        bodies = [metrics.without_specks(m) for m in binary]
        right = [metrics.shape_of(b) == target_shape for b in bodies]
        return cls(source, output, bool(sample.instances), before, after, left, steps, binary, bodies, right)

    @property
    def instances(self) -> int:
        """Every instance of the source image, translated or not."""
        return len(self.translated_from) + len(self.left)

    def judged(self) -> list[tuple[torch.Tensor, int | str | None, bool | None]]:
        """What the judge looks at: each instance's region in the output (where it was and where it went), with its
        step and whether its mask has the target shape; an instance left untranslated counts as the wrong shape."""
        if not self.has_instances:
            return [(metrics.binarize(m), None, None) for m in self.translated_from]
        moved = [(metrics.binarize(a) | b, step, right) for a, b, step, right in
                 zip(self.translated_from, self.bodies, self.steps, self.right_shape)]  # fmt: skip
        return moved + [(metrics.binarize(m), NOT_TRANSLATED, False) for m in self.left]


PerImageValue = Callable[[Image], float | tuple[float, float] | None]


@dataclass(frozen=True)
class PerImage:
    """A metric that each image gives alone: a value (a mean over the images), or (numerator, denominator) for a
    ratio over the images' instances, or None where it does not apply (skipped)."""

    column: str
    note: str
    value: PerImageValue


def _specks(image: Image) -> tuple[float, float] | None:
    if not image.has_instances:
        return None
    return sum(not torch.equal(b, m) for b, m in zip(image.bodies, image.binary)), image.instances


PER_IMAGE = (
    PerImage("mask_shape_accuracy",
             f"the fraction of translated masks whose body (without specks, parts of fewer than {metrics.SPECK_PIXELS} "
             "pixels) has the target domain's shape",
             lambda im: (sum(im.right_shape), im.instances) if im.has_instances else None),
    PerImage("masks_with_specks", "the fraction of translated masks that have specks", _specks),
    PerImage("context_error", "the mean absolute change in [-1, 1] outside the instances (before and after)",
             lambda im: metrics.context_error(im.source, im.output, im.translated_from + im.left + im.translated_to)),
    PerImage("instances_kept", "the fraction of translated instances whose mask did not vanish",
             lambda im: metrics.instances_kept(im.translated_from, im.translated_to) if im.has_instances else None),
    PerImage("instances_translated", "the fraction of each image's instances that were translated (--ins_max)",
             lambda im: len(im.translated_from) / im.instances if im.has_instances else None),
)  # fmt: skip


def aggregate(metric: PerImage, images: list[Image]) -> dict | None:
    values = [v for v in map(metric.value, images) if v is not None]
    if not values:
        return None
    if isinstance(values[0], tuple):
        return metrics.estimate([v[0] for v in values], [v[1] for v in values])
    return metrics.estimate(values)


def target_shape(dataroot: Path, domain: str, limit: int = 200) -> str:
    """``box`` or ``round``: the usual shape of a domain's training masks (by mean fill ratio)."""
    ratios = []
    for paths in list(index_masks(dataroot / f"train{domain}_seg").values())[:limit]:
        for p in paths:
            mask = read_image(p)[0] > 127
            if mask.sum() >= metrics.MIN_INSTANCE_PIXELS:
                ratios.append(metrics.fill_ratio(mask))
    if not ratios:
        return "unknown"
    return "box" if sum(ratios) / len(ratios) >= metrics.ROUND_BOX_THRESHOLD else "round"


class RealCrops:
    """The instance crops of a data set's real images of one phase, per domain, cut once."""

    def __init__(self, dataroot: Path, phase: str, limit: int = REAL_LIMIT) -> None:
        self.dataroot, self.phase, self.limit = dataroot, phase, limit
        self._crops: dict[str, tuple[torch.Tensor, list[int]]] = {}

    def folder(self, domain: str) -> Path:
        return self.dataroot / f"{self.phase}{domain}"

    def __call__(self, domain: str) -> tuple[torch.Tensor, list[int]]:
        if domain not in self._crops:
            self._crops[domain] = folder_crops(self.folder(domain), self.limit)
        return self._crops[domain]


def _per_image(values: torch.Tensor, owners: torch.Tensor, images: int) -> torch.Tensor:
    """(..., N) values of instances -> (..., images) their means per image (nan for an image without instances)."""
    sums = torch.zeros(*values.shape[:-1], images, dtype=torch.float64).index_add_(-1, owners, values.double())
    counts = torch.zeros(images, dtype=torch.float64).index_add_(0, owners, torch.ones(len(owners), dtype=torch.float64))
    return sums / counts


def judge_instances(
    judge: Ensemble, crops: list[torch.Tensor], owners: list[int], images: int, tgt: str
) -> tuple[dict, torch.Tensor]:
    """The classification score: for each image, the fraction of (member, instance) verdicts that put its instances in
    the target domain; averaged over the images, with a bootstrap interval and each member's score. Also returns each
    instance's share of members that put it in the target domain, (instances,)."""
    probs = judge.member_probs_B(torch.stack(crops) if crops else torch.empty(0))
    votes = (probs > 0.5) if tgt == "B" else (probs <= 0.5)  # (members, instances)
    per_image = _per_image(votes, torch.tensor(owners, dtype=torch.long), images)  # (members, images)
    members = per_image.nanmean(dim=1)
    score = {
        **metrics.estimate(per_image.mean(dim=0).tolist()),
        "members": [round(float(m), 4) for m in members],
        "members_std": round(float(members.std()), 4) if len(members) > 1 else 0.0,
    }
    return score, votes.double().mean(dim=0)


def by_step(steps: list, right_domain: torch.Tensor, right_shape: list[bool | None]) -> dict:
    """Scores of the instances grouped by the sequential step that translated them ("1", "2", ...; "not translated"
    for those beyond --ins_max): how many, their classification score (share of the judge's verdicts for the target
    domain) and mask shape accuracy, each over the instances with a bootstrap interval."""
    out = {}
    keys = sorted({s for s in steps if isinstance(s, int)}) + ([NOT_TRANSLATED] if NOT_TRANSLATED in steps else [])
    for key in keys:
        chosen = [i for i, s in enumerate(steps) if s == key]
        shapes = [float(right_shape[i]) for i in chosen if right_shape[i] is not None]
        out[str(key)] = {"instances": len(chosen), "classification_score": metrics.estimate(right_domain[chosen].tolist()),
                         "mask_shape_accuracy": metrics.estimate(shapes) if shapes else None}  # fmt: skip
    return out


def score_direction(folder: Path, samples: list[Sample], tgt: str, judge: Ensemble, real: RealCrops,
                    inception_weights: Path | None) -> dict | None:  # fmt: skip
    """The metrics of one direction's samples (read from the results folder's manifest).

    With instances, every instance of a source image counts: one that was not translated (beyond ``--ins_max``) is
    judged as it stands in the output, and its mask shape counts as wrong."""
    if not samples:
        return None
    shape = target_shape(real.dataroot, tgt)
    dataset_masks = index_masks(real.dataroot / f"{real.phase}{samples[0].src}_seg")
    images = [Image.read(folder, sample, dataset_masks, shape) for sample in samples]
    crops, owners, steps, shapes = [], [], [], []  # per judged instance: its crop, image, step, shape verdict
    for i, image in enumerate(images):
        for region, step, right_shape in image.judged():  # the judge sees each instance where it was and went
            piece = crop(image.output, region)
            if piece is not None:
                crops.append(piece)
                owners.append(i)
                steps.append(step)
                shapes.append(right_shape)
    classification, right_domain = judge_instances(judge, crops, owners, len(images), tgt)
    report = {"images": len(images), "classification_score": classification, "target_shape": shape}
    report.update({metric.column: aggregate(metric, images) for metric in PER_IMAGE})
    if any(isinstance(s, int) for s in steps):
        report["by_step"] = by_step(steps, right_domain, shapes)
    if real.folder(tgt).is_dir():
        real_crops, _ = real(tgt)
        if crops and len(real_crops) > 1:
            distances = metrics.feature_distances(judge.features(real_crops), judge.features(torch.stack(crops)))
            report["classifier_fd"], report["classifier_kd"] = distances["fd"], distances["kd"]
        if inception_weights is not None:
            real_images = torch.stack([_image(p) for p in make_dataset(real.folder(tgt), REAL_LIMIT)])
            report.update(inception.distances(real_images, torch.stack([im.output for im in images]), inception_weights))
    return report


def classifier_accuracy(judge: Ensemble, real: RealCrops) -> dict | None:
    """How often the judge is right on the real images of the phase (both domains), scored as translations are:
    per instance for each member, and per image (the majority of its instances' verdicts) for each member and for
    the ensemble."""
    per_instance, per_image, ensemble, total, instances = [], [], [], 0, 0
    for domain in ("A", "B"):
        if not real.folder(domain).is_dir():
            return None
        crops, owners = real(domain)
        if not owners:
            return None
        votes = (judge.member_probs_B(crops) > 0.5) == (domain == "B")  # right verdicts, (members, instances)
        right = _per_image(votes, torch.tensor(owners), max(owners) + 1)
        per_instance.append(votes.double().sum(dim=1))
        per_image.append((right > 0.5).double().nansum(dim=1))
        ensemble.append(float((right.mean(dim=0) > 0.5).double().nansum()))
        total += int((~right[0].isnan()).sum())
        instances += len(owners)
    by_instance = sum(per_instance) / instances
    by_image = sum(per_image) / total
    return {"images": total, "instances": instances, "min": round(float(by_image.min()), 4),
            "max": round(float(by_image.max()), 4), "ensemble": round(sum(ensemble) / total, 4),
            "per_instance_min": round(float(by_instance.min()), 4)}  # fmt: skip


def score_directions(folder: Path, samples: list[Sample], judge: Ensemble, real: RealCrops,
                     inception_weights: Path | None) -> dict[str, dict]:  # fmt: skip
    """The metrics of each direction ("A->B", "B->A") that the results folder holds."""
    directions = {}
    for src, tgt in (("A", "B"), ("B", "A")):
        # each source image once (results written before test.py skipped repeats list a shorter domain's images again)
        chosen, seen = [], set()
        for sample in samples:
            if sample.direction == f"{src}->{tgt}" and sample.stem not in seen:
                seen.add(sample.stem)
                chosen.append(sample)
        scores = score_direction(folder, chosen, tgt, judge, real, inception_weights)
        if scores:
            directions[f"{src}->{tgt}"] = scores
    return directions


def cell(value) -> str:
    """A metric as the page and the console print it: value [interval]."""
    if isinstance(value, dict):
        if value.get("value") is None:
            return "-"
        return f"{value['value']} [{value['ci95'][0]}, {value['ci95'][1]}]"
    return "-" if value is None else str(value)


def columns() -> tuple[str, ...]:
    """The results table's columns: the direction metrics around the ``PER_IMAGE`` ones."""
    return ("images", "classification_score", *(m.column for m in PER_IMAGE), "classifier_fd", "classifier_kd", "fid", "kid")


def page_metrics(results: dict) -> dict:
    """The metrics as the results page shows them: a table and notes."""
    header = ["direction", *columns()]
    rows = [[direction] + [cell(values.get(c)) for c in columns()] for direction, values in results["directions"].items()]
    judge = results["classifier"]
    accuracy = judge["accuracy_real"] or {"min": "-", "max": "-"}
    notes = [
        "value [95% bootstrap interval over the test images].",
        f"classification_score: the fraction of translated instances that {judge['members']} independently trained "
        f"classifiers assign to the target domain; they are right on {accuracy['min']} to {accuracy['max']} of the real "
        f"{results['phase']} images. classifier_fd / classifier_kd: Frechet and kernel distances between the "
        "classifiers' features of translated and real instances (not FID/KID, which need Inception features).",
        *(f"{metric.column}: {metric.note}." for metric in PER_IMAGE),
        f"FID/KID with Inception: {results['fid_inception']}.",
    ]
    tables = [(header, rows)]
    steps = [(direction, step, values) for direction, scores in results["directions"].items()
             for step, values in scores.get("by_step", {}).items()]  # fmt: skip
    if steps:
        tables.append((["direction", "step", "instances", "classification_score", "mask_shape_accuracy"],
                       [[d, step, str(v["instances"]), cell(v["classification_score"]), cell(v["mask_shape_accuracy"])]
                        for d, step, v in steps]))  # fmt: skip
        notes.append("By step: the instances translated in each sequential step of --ins_per instances (1 = the first, "
                     "on the source image; later steps start from the image translated so far), and those beyond "
                     "--ins_max that were not translated; scores over instances.")  # fmt: skip
    return {"tables": tables, "notes": notes}

"""Scoring a results folder of test.py: what evaluate.py computes, for each direction of translation.

A metric that one translated image gives on its own (context error, mask shape, ...) is one row of ``PER_IMAGE``:
its column, the note the results page prints, and the function of one ``Image``; adding a metric is adding a row.
Rows of the group ``GROUND_TRUTH`` compare the translation with its ideal, where the data set has one
(``ground_truth``). The judge's classification score, the scores per sequential step, realism (``realism``) and the
feature distances look at all the images of a direction together and are computed in ``score_direction``.

Only the instances that were translated count in the instance metrics; those beyond --ins_max are reported on their
own (the step "not translated"). The metrics that only the shapes data set gives meaning to (``SHAPES_ONLY``: the
mask shape, which a fill ratio tells on boxes and discs alone, and the ground truth, which needs the ideal
translations) are scored where the data set is the shapes data (``is_shapes_data``: it holds the ideal translations)
and left out elsewhere (COCO, MHP, your photos).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from instagan.data.image_folder import index_masks, make_dataset, read_image, read_mask
from instagan.evaluation import ground_truth, inception, metrics, realism
from instagan.evaluation.ground_truth import IdealFolder, Truth
from instagan.evaluation.judge import (
    CLASSES,
    NEITHER,
    Ensemble,
    blurred,
    crop,
    fingerprint,
    folder_crops,
    folder_images,
    one_thread,
)
from instagan.reporting.results import Sample
from instagan.util import instance_set
from instagan.util.files import atomic_write_text
from instagan.util.images import from_uint8
from instagan.util.progress import progress_bar

NOT_TRANSLATED = "not translated"  # the step of an instance beyond --ins_max
REAL_LIMIT = 500  # real images per folder for the judge's accuracy and the distances
GROUND_TRUTH = "ground truth"  # the group of the per-image metrics that need the ideal translation
BACKGROUND_PATCHES = 2  # per image, for the realism of backgrounds
PROBE_BLURS = (1, 2, 3)  # pixels: the real instances blurred for the judge's probes


def is_shapes_data(dataroot: Path) -> bool:
    """Whether the data set is the shapes data: its builder writes the ideal translations of its test split
    (``testA_ideal``, docs/datasets.md), which no other data set has."""
    return any((Path(dataroot) / f"test{domain}{ground_truth.IDEAL}").is_dir() for domain in "AB")


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
class Judged:
    """An instance as the judge sees it: its region in the output (where it was and where it went), its step (from 1;
    NOT_TRANSLATED beyond --ins_max; None for an image-only model) and whether its mask has the target shape."""

    region: torch.Tensor
    step: int | str | None
    right_shape: bool | None


@dataclass
class Image:
    """One source image and its translation, read once from a results folder.

    ``translated_from``: the masks of the instances that were translated, ``translated_to`` their translations (same
    order), ``left``: the instances beyond --ins_max, not translated. An image-only model (CycleGAN) has no instance
    pairs: ``translated_from`` then holds the data set's masks (where the instances were) and ``has_instances`` is
    False. ``bodies``: each translation binarized, without its specks (which would set its bounding box).
    ``after_step``: the image after each sequential step before the last (by step, from 1). ``truth``: the ideal
    translation, where the data set has one."""

    source: torch.Tensor
    output: torch.Tensor
    has_instances: bool
    translated_from: list[torch.Tensor]
    translated_to: list[torch.Tensor]
    left: list[torch.Tensor]
    steps: list[int | None]  # the sequential step that translated each instance of translated_from
    binary: list[torch.Tensor]
    bodies: list[torch.Tensor]
    right_shape: list[bool | None]  # None: the data set has no target shape
    after_step: dict[int, torch.Tensor]
    truth: Truth | None = None

    @classmethod
    def read(cls, folder: Path, sample: Sample, dataset_masks: dict, target_shape: str,
             ideal: IdealFolder | None = None) -> Image:  # fmt: skip
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
        right = [metrics.shape_of(b) == target_shape if target_shape != "unknown" else None for b in bodies]
        after_step = {int(role.rsplit("_", 1)[1]): _image(folder / path) for role, path in sample.images.items()
                      if role.startswith("after_step_")}  # fmt: skip
        truth = ideal.truth(sample.source_file or f"{sample.stem}.png", source, before, left) if ideal else None
        return cls(source, output, bool(sample.instances), before, after, left, steps, binary, bodies, right, after_step,
                   truth)  # fmt: skip

    @property
    def instances(self) -> int:
        """Every instance of the source image, translated or not."""
        return len(self.translated_from) + len(self.left)

    def step_image(self, step: int | str | None) -> torch.Tensor:
        """The image as it stood after a sequential step (the output for the last step, or without steps)."""
        return self.after_step.get(step, self.output) if isinstance(step, int) else self.output

    def judged(self) -> list[Judged]:
        """The translated instances as the judge sees them, then the untranslated ones (as they stand in the output;
        their shape counts as wrong)."""
        if not self.has_instances:
            return [Judged(metrics.binarize(m), None, None) for m in self.translated_from]
        moved = [Judged(metrics.binarize(a) | b, step, right) for a, b, step, right in
                 zip(self.translated_from, self.bodies, self.steps, self.right_shape)]  # fmt: skip
        return moved + [Judged(metrics.binarize(m), NOT_TRANSLATED, False) for m in self.left]

    def occupied(self) -> torch.Tensor:
        """Every pixel near an instance, before or after translation (grown by a pixel): no background patch there."""
        masks = [metrics.binarize(m) for m in self.translated_from + self.left] + self.binary
        masks += self.truth.masks if self.truth is not None else []
        union = torch.zeros(self.output.shape[1:], dtype=torch.bool)
        for m in masks:
            union |= m
        return instance_set.dilate(union, 1)


PerImageValue = Callable[[Image], float | tuple[float, float] | None]


def _truth(value: Callable[[Image, Truth], float | tuple[float, float] | None]) -> PerImageValue:
    """A per-image metric of the ground truth: None for an image without an ideal."""
    return lambda image: None if image.truth is None else value(image, image.truth)


def _mask_iou(image: Image, truth: Truth) -> tuple[float, float] | None:
    if not image.has_instances or not image.translated_to:
        return None
    return sum(ground_truth.iou(b, m) for b, m in zip(image.binary, truth.masks)), len(truth.masks)


def _agreement(image: Image, truth: Truth) -> float | None:
    if not image.has_instances:
        return None
    shown = ground_truth.drawn(image.output, truth)
    if shown is None:
        return None
    masks = image.binary + [metrics.binarize(m) for m in image.left]
    union = torch.zeros_like(shown)
    for m in masks:
        union |= m
    return ground_truth.iou(union, shown)


@dataclass(frozen=True)
class PerImage:
    """A metric that each image gives alone: a value (a mean over the images), or (numerator, denominator) for a
    ratio over the images' instances, or None where it does not apply (skipped). ``group`` names the table it is
    shown in; ``shapes_only``: it means something on the shapes data alone (every row of the ground truth does)."""

    column: str
    note: str
    value: PerImageValue
    group: str = "main"
    shapes_only: bool = False

    def applies(self, shapes: bool) -> bool:
        """Whether it is scored on a data set that is (``shapes``) or is not the shapes data."""
        return shapes or not (self.shapes_only or self.group == GROUND_TRUTH)


def _specks(image: Image) -> tuple[float, float] | None:
    if not image.has_instances or not image.translated_to:
        return None
    return sum(not torch.equal(b, m) for b, m in zip(image.bodies, image.binary)), len(image.translated_to)


def _shapes(image: Image) -> tuple[float, float] | None:
    if not image.has_instances or not image.translated_to or None in image.right_shape:
        return None
    return sum(image.right_shape), len(image.translated_to)


PER_IMAGE = (
    PerImage("mask_shape_accuracy",
             f"the fraction of translated masks whose body (without specks, parts of fewer than {metrics.SPECK_PIXELS} "
             "pixels) has the target domain's shape, by its fill ratio alone (shapes data only)",
             _shapes, shapes_only=True),
    PerImage("masks_with_specks", "the fraction of translated masks that have specks", _specks),
    PerImage("context_error", "the mean absolute change in [-1, 1] outside the instances (before and after), "
             "each grown by 2 pixels",
             lambda im: metrics.context_error(im.source, im.output, im.translated_from + im.left + im.translated_to)),
    PerImage("instances_kept", "the fraction of translated instances whose mask did not vanish",
             lambda im: metrics.instances_kept(im.translated_from, im.translated_to) if im.has_instances else None),
    PerImage("instances_translated", "the fraction of each image's instances that were translated (--ins_max)",
             lambda im: len(im.translated_from) / im.instances if im.has_instances else None),
    PerImage("mask_iou", "intersection over union of each translated mask with its ideal mask, over the translated "
             "instances", _truth(_mask_iou), GROUND_TRUTH),
    PerImage("instance_psnr", "PSNR (dB, images in [0, 1], at most 60) against the ideal, over the pixels a translated "
             "instance covers in the source or the ideal", _truth(lambda im, t: ground_truth.psnr(im.output, t.image,
             t.instance_region())), GROUND_TRUTH),
    PerImage("instance_error", "the mean absolute difference in [-1, 1] from the ideal over the same pixels",
             _truth(lambda im, t: ground_truth.error(im.output, t.image, t.instance_region())), GROUND_TRUTH),
    PerImage("background_psnr", "PSNR against the ideal outside every instance of the source and of the ideal, "
             "a region that no mask can shrink", _truth(lambda im, t: ground_truth.psnr(im.output, t.image,
             t.background_region())), GROUND_TRUTH),
    PerImage("background_error", "the mean absolute difference in [-1, 1] from the ideal over the same pixels",
             _truth(lambda im, t: ground_truth.error(im.output, t.image, t.background_region())), GROUND_TRUTH),
    PerImage("image_psnr", "PSNR of the whole image against the ideal", _truth(lambda im, t: ground_truth.psnr(
             im.output, t.image)), GROUND_TRUTH),
    PerImage("image_ssim", "structural similarity (SSIM) of the whole image with the ideal",
             _truth(lambda im, t: ground_truth.ssim(im.output, t.image)), GROUND_TRUTH),
    PerImage("mask_agreement", "intersection over union of the translated masks (and those left untranslated) with "
             "the instances as drawn in the translated image (the pixels that differ from the background alone by more "
             "than half the ideal instances' contrast)", _truth(_agreement), GROUND_TRUTH),
)  # fmt: skip


def aggregate(metric: PerImage, images: list[Image]) -> dict | None:
    values = [v for v in map(metric.value, images) if v is not None]
    if not values:
        return None
    if isinstance(values[0], tuple):
        return metrics.estimate([v[0] for v in values], [v[1] for v in values])
    return metrics.estimate(values)


def target_shape(dataroot: Path, domain: str, limit: int = 200) -> str:
    """``box`` or ``round``: the usual shape of a domain's training masks (by mean fill ratio; on the shapes data,
    where a fill ratio tells boxes from discs); ``unknown`` without masks."""
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
    """The instance crops and background patches of a data set's real images of one phase, per domain, cut once;
    their realism floors and the judge's answers on probes, computed once per data set (and judge) and kept in
    ``floor_cache`` (a JSON file)."""

    def __init__(self, dataroot: Path, phase: str, limit: int = REAL_LIMIT, floor_cache: Path | None = None) -> None:
        self.dataroot, self.phase, self.limit, self.floor_cache = dataroot, phase, limit, floor_cache
        self._crops: dict[str, tuple[torch.Tensor, list[int]]] = {}
        self._backgrounds: dict[str, torch.Tensor] = {}

    def folder(self, domain: str) -> Path:
        return self.dataroot / f"{self.phase}{domain}"

    def __call__(self, domain: str) -> tuple[torch.Tensor, list[int]]:
        if domain not in self._crops:
            self._crops[domain] = folder_crops(self.folder(domain), self.limit)
        return self._crops[domain]

    def backgrounds(self, domain: str) -> torch.Tensor:
        """(N, 3, CROP, CROP): patches of the real images that show no instance (``realism.background_patches``)."""
        if domain not in self._backgrounds:
            generator, patches = torch.Generator().manual_seed(0), []
            for image, masks in folder_images(self.folder(domain), self.limit):
                union = torch.zeros(image.shape[1:], dtype=torch.bool)
                for m in masks:
                    union |= m
                patches += realism.background_patches(image, instance_set.dilate(union, 1), BACKGROUND_PATCHES, generator)
            self._backgrounds[domain] = torch.stack(patches) if patches else torch.empty(0)
        return self._backgrounds[domain]

    def real(self, kind: str, domain: str) -> torch.Tensor:
        """The domain's real ``instances`` (crops) or ``backgrounds`` (patches)."""
        return self(domain)[0] if kind == "instances" else self.backgrounds(domain)

    def _floor_key(self, kind: str, domain: str, splits: int) -> str:
        return f"{kind}:{splits}:{realism.STEPS}:{BACKGROUND_PATCHES}:{fingerprint([self.folder(domain)], self.limit, 0, 0)}"

    def probes(self, judge: Ensemble) -> dict | None:
        """``judge_probes``, computed once per judge and data set and kept with the floors (a judge of unknown
        fingerprint is probed every time)."""
        if not all(self.folder(domain).is_dir() for domain in "AB"):
            return None
        cached = self._cache() if judge.fingerprint else {}
        real = fingerprint([self.folder(domain) for domain in "AB"], self.limit, 0, 0)
        key = f"probes:{PROBE_BLURS}:{BACKGROUND_PATCHES}:{judge.fingerprint}:{real}"
        if key in cached:
            return cached[key]
        found = judge_probes(judge, self)
        if judge.fingerprint:
            self._keep(key, found)
        return found

    def _cache(self) -> dict:
        if self.floor_cache is not None and self.floor_cache.is_file():
            try:
                return json.loads(self.floor_cache.read_text())
            except (ValueError, OSError):
                pass  # damaged: computed again and rewritten
        return {}

    def cached_floor(self, kind: str, domain: str, splits: int) -> tuple[bool, dict | None]:
        """Whether ``realism.floor`` of the domain's real ``instances`` or ``backgrounds`` is cached, and its value."""
        cached = self._cache()
        key = self._floor_key(kind, domain, splits)
        return key in cached, cached.get(key)

    def keep_floor(self, kind: str, domain: str, splits: int, value: dict | None) -> None:
        """Cache a floor that ``cached_floor`` did not have."""
        self._keep(self._floor_key(kind, domain, splits), value)

    def _keep(self, key: str, value: dict | None) -> None:
        if self.floor_cache is None:
            return
        cached = self._cache()
        cached[key] = value
        try:
            atomic_write_text(self.floor_cache, json.dumps(cached, indent=1) + "\n")
        except OSError as err:
            warnings.warn(f"the realism floors and probes could not be cached at {self.floor_cache} ({err.strerror})",
                          stacklevel=2)  # fmt: skip


def _per_image(values: torch.Tensor, owners: torch.Tensor, images: int) -> torch.Tensor:
    """(..., N) values of instances -> (..., images) their means per image (nan for an image without instances)."""
    sums = torch.zeros(*values.shape[:-1], images, dtype=torch.float64).index_add_(-1, owners, values.double())
    counts = torch.zeros(images, dtype=torch.float64).index_add_(0, owners, torch.ones(len(owners), dtype=torch.float64))
    return sums / counts


def _share(votes: torch.Tensor, owners: list[int], images: int) -> dict:
    """Per image, the share of (member, instance) ``votes`` (M, N) that are True; averaged over the images with a
    bootstrap interval, and each member's mean."""
    per_image = _per_image(votes, torch.tensor(owners, dtype=torch.long), images)  # (members, images)
    members = per_image.nanmean(dim=1)
    return {
        **metrics.estimate(per_image.mean(dim=0).tolist()),
        "members": [round(float(m), 4) for m in members],
        "members_std": round(float(members.std()), 4) if len(members) > 1 else 0.0,
    }


def judge_instances(
    judge: Ensemble, crops: list[torch.Tensor], owners: list[int], images: int, tgt: str
) -> tuple[dict, dict, torch.Tensor]:
    """The classification score: for each image, the fraction of (member, instance) verdicts that put its instances in
    the target domain; averaged over the images, with a bootstrap interval and each member's score. The same for the
    verdicts ``neither`` (the instance is no instance of either domain). Also returns each instance's share of members
    that put it in the target domain, (instances,)."""
    verdicts = judge.member_votes(torch.stack(crops) if crops else torch.empty(0))  # (members, instances)
    right = verdicts == CLASSES.index(tgt)
    return _share(right, owners, images), _share(verdicts == NEITHER, owners, images), right.double().mean(dim=0)


def by_step(steps: list, right_domain: torch.Tensor, right_after_step: torch.Tensor, right_shape: list[bool | None],
            ious: list[float | None], shapes: bool = True) -> dict:  # fmt: skip
    """Scores of the instances grouped by the sequential step that translated them ("1", "2", ...; "not translated"
    for those beyond --ins_max): how many; their classification score (share of the judge's verdicts for the target
    domain) on the final image and on the image as it stood after their step; on the ``shapes`` data, their mask
    shape accuracy and mask IoU with the ideal; each over the instances with a bootstrap interval."""
    out = {}
    keys = sorted({s for s in steps if isinstance(s, int)}) + ([NOT_TRANSLATED] if NOT_TRANSLATED in steps else [])
    for key in keys:
        chosen = [i for i, s in enumerate(steps) if s == key]
        right = [float(right_shape[i]) for i in chosen if right_shape[i] is not None]
        overlaps = [ious[i] for i in chosen if ious[i] is not None]
        out[str(key)] = {
            "instances": len(chosen),
            "classification_score": metrics.estimate(right_domain[chosen].tolist()),
            "classification_after_step": metrics.estimate(right_after_step[chosen].tolist()),
        }
        if shapes:
            out[str(key)]["mask_shape_accuracy"] = metrics.estimate(right) if right and key != NOT_TRANSLATED else None
            out[str(key)]["mask_iou"] = metrics.estimate(overlaps) if overlaps else None
    return out


def realism_scores(images: list[Image], crops: list[torch.Tensor], real: RealCrops, tgt: str, splits: int) -> dict:
    """The classifier two-sample tests of a direction (``realism``): translated instances against the real ones of
    the target domain, translated backgrounds against real ones, each with its real-against-real floor."""
    if splits < 1:
        return {}
    generator, patches = torch.Generator().manual_seed(0), []
    for image in images:
        patches += realism.background_patches(image.output, image.occupied(), BACKGROUND_PATCHES, generator)
    fake = {"instances": torch.stack(crops) if crops else torch.empty(0),
            "backgrounds": torch.stack(patches) if patches else torch.empty(0)}  # fmt: skip
    tests, floors = {}, {}
    for kind in ("instances", "backgrounds"):
        tests[kind] = (real.real(kind, tgt), fake[kind])
        known, floors[kind] = real.cached_floor(kind, tgt, splits)
        if not known:  # computed beside the tests, all on the cores at once
            tests[f"{kind}_floor"] = realism.halves(real.real(kind, tgt))
    with progress_bar(desc=f"realism of the translations to {tgt}", unit="classifier") as progress:
        found = realism.accuracies(tests, splits, progress=progress)
    for kind in ("instances", "backgrounds"):
        if f"{kind}_floor" in found:
            floors[kind] = found[f"{kind}_floor"]
            real.keep_floor(kind, tgt, splits, floors[kind])
    return {"instances": found["instances"], "instances_floor": floors["instances"],
            "backgrounds": found["backgrounds"], "backgrounds_floor": floors["backgrounds"]}  # fmt: skip


def _direction(folder: Path, samples: list[Sample], tgt: str, judge: Ensemble, real: RealCrops,
               options: dict | None, realism_splits: int, shapes: bool) -> tuple[dict, list[torch.Tensor]]:  # fmt: skip
    """``score_direction`` without FID/KID with Inception; also the translated images."""
    shape = target_shape(real.dataroot, tgt) if shapes else "unknown"
    src = samples[0].src
    dataset_masks = index_masks(real.dataroot / f"{real.phase}{src}_seg")
    ideal = IdealFolder(real.dataroot, real.phase, src, options) if shapes and options is not None else None
    ideal = ideal if ideal is not None and ideal.available else None
    images = [Image.read(folder, sample, dataset_masks, shape, ideal) for sample in samples]
    crops, step_crops, owners, steps, right_shapes, ious = [], [], [], [], [], []  # per judged instance
    left_crops, left_owners = [], []
    for i, image in enumerate(images):
        overlaps = [ground_truth.iou(b, m) for b, m in zip(image.binary, image.truth.masks)] if image.truth else []
        for k, judged in enumerate(image.judged()):  # the judge sees each instance where it was and went
            piece = crop(image.output, judged.region)
            if piece is None:
                continue
            if judged.step == NOT_TRANSLATED:
                left_crops.append(piece)
                left_owners.append(i)
                continue
            crops.append(piece)
            step_crops.append(crop(image.step_image(judged.step), judged.region))
            owners.append(i)
            steps.append(judged.step)
            right_shapes.append(judged.right_shape)
            ious.append(overlaps[k] if k < len(overlaps) else None)
    classification, neither, right_domain = judge_instances(judge, crops, owners, len(images), tgt)
    report = {"images": len(images), "classification_score": classification, "judged_neither": neither}
    if shapes:
        report.update(target_shape=shape, ground_truth=sum(im.truth is not None for im in images))
    report.update({metric.column: aggregate(metric, images) for metric in PER_IMAGE if metric.applies(shapes)})
    if any(isinstance(s, int) for s in steps) or left_crops:
        _, _, right_after = judge_instances(judge, step_crops, owners, len(images), tgt)
        _, _, right_left = judge_instances(judge, left_crops, left_owners, len(images), tgt)
        everything = steps + [NOT_TRANSLATED] * len(left_crops)
        report["by_step"] = by_step(everything, torch.cat([right_domain, right_left]),
                                    torch.cat([right_after, right_left]), right_shapes + [None] * len(left_crops),
                                    ious + [None] * len(left_crops), shapes)  # fmt: skip
    if real.folder(tgt).is_dir():
        report["realism"] = realism_scores(images, crops, real, tgt, realism_splits)
        real_crops, _ = real(tgt)
        if len(crops) > 1 and len(real_crops) > 1:  # a covariance needs two samples of each
            distances = metrics.feature_distances(judge.features(real_crops), judge.features(torch.stack(crops)))
            report["classifier_fd"], report["classifier_kd"] = distances["fd"], distances["kd"]
    return report, [image.output for image in images]


def score_direction(folder: Path, samples: list[Sample], tgt: str, judge: Ensemble, real: RealCrops,
                    inception_weights: Path | None, options: dict | None = None, realism_splits: int = 0,
                    shapes: bool = False) -> dict | None:  # fmt: skip
    """The metrics of one direction's samples (read from the results folder's manifest; ``options``: its test
    options, which say how the source images were read, for the ground truth), with those of ``SHAPES_ONLY`` where the
    data set is the ``shapes`` data.

    Every instance of a source image is listed; the instance metrics count the translated ones, and those beyond
    ``--ins_max`` are scored on their own."""
    if not samples:
        return None
    with one_thread():  # small tensors: one thread each, and the cores for the classifiers side by side
        report, outputs = _direction(folder, samples, tgt, judge, real, options, realism_splits, shapes)
    real_files = make_dataset(real.folder(tgt), REAL_LIMIT) if real.folder(tgt).is_dir() else []
    if inception_weights is not None and len(outputs) > 1 and len(real_files) > 1:
        real_images = torch.stack([_image(p) for p in real_files])
        report.update(inception.distances(real_images, torch.stack(outputs), inception_weights))
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
        votes = judge.member_votes(crops) == CLASSES.index(domain)  # right verdicts, (members, instances)
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


def judge_probes(judge: Ensemble, real: RealCrops) -> dict | None:
    """What the judge answers on probes made from the real images of the phase: each domain's instances blurred by
    ``PROBE_BLURS`` pixels, and patches of background alone; per probe, the share of (member, crop) verdicts for
    each class."""
    probes: dict[str, torch.Tensor] = {}
    for domain in ("A", "B"):
        if not real.folder(domain).is_dir():
            return None
        pictures = folder_images(real.folder(domain), real.limit)
        probes[f"{domain} as they are"] = real(domain)[0]
        for sigma in PROBE_BLURS:
            pieces = [crop(blurred(image, sigma), m) for image, masks in pictures for m in masks]
            probes[f"{domain} blurred {sigma} px"] = torch.stack([c for c in pieces if c is not None])
    probes["background alone"] = torch.cat([real.backgrounds(domain) for domain in ("A", "B")])
    out = {}
    for name, crops in probes.items():
        if len(crops) == 0:
            continue
        votes = judge.member_votes(crops)
        out[name] = {"crops": len(crops), **{c: round(float((votes == i).double().mean()), 4) for i, c in enumerate(CLASSES)}}
    return out


def score_directions(folder: Path, samples: list[Sample], judge: Ensemble, real: RealCrops,
                     inception_weights: Path | None, options: dict | None = None, realism_splits: int = 0,
                     shapes: bool = False) -> dict[str, dict]:  # fmt: skip
    """The metrics of each direction ("A->B", "B->A") that the results folder holds."""
    directions = {}
    for src, tgt in (("A", "B"), ("B", "A")):
        # each source image once (results written before test.py skipped repeats list a shorter domain's images again)
        chosen, seen = [], set()
        for sample in samples:
            if sample.direction == f"{src}->{tgt}" and sample.stem not in seen:
                seen.add(sample.stem)
                chosen.append(sample)
        scores = score_direction(folder, chosen, tgt, judge, real, inception_weights, options, realism_splits, shapes)
        if scores:
            directions[f"{src}->{tgt}"] = scores
    return directions


def cell(value) -> str:
    """A metric as the page and the console print it: value [interval], or value ± spread for a realism test."""
    if isinstance(value, dict):
        if value.get("value") is None:
            return "-"
        if "ci95" not in value:
            return f"{value['value']} ± {value['std']}"
        return f"{value['value']} [{value['ci95'][0]}, {value['ci95'][1]}]"
    return "-" if value is None else str(value)


def columns(group: str = "main", shapes: bool = True) -> tuple[str, ...]:
    """The columns of a results table: the main one has the direction metrics around the ``PER_IMAGE`` ones of its
    group (those that apply to the ``shapes`` data or to any other); the ground truth's, its own."""
    own = tuple(m.column for m in PER_IMAGE if m.group == group and m.applies(shapes))
    if group == GROUND_TRUTH:
        return ("ground_truth", *own)
    return ("images", "classification_score", "judged_neither", *own, "classifier_fd", "classifier_kd", "fid", "kid")


REALISM = ("instances", "instances_floor", "backgrounds", "backgrounds_floor")
STEP_COLUMNS = ("instances", "classification_score", "classification_after_step", "mask_shape_accuracy", "mask_iou")
SHAPES_ONLY_STEP_COLUMNS = ("mask_shape_accuracy", "mask_iou")


def step_columns(shapes: bool = True) -> tuple[str, ...]:
    return STEP_COLUMNS if shapes else tuple(c for c in STEP_COLUMNS if c not in SHAPES_ONLY_STEP_COLUMNS)


def by_metric(directions: dict, names: tuple[str, ...], part: str = "") -> tuple[list[str], list[list[str]]]:
    """A table of one row per metric and one column per direction (narrow, however many metrics there are); ``part``
    names the sub-dictionary of each direction's scores the metrics are in (``realism``)."""
    scores = {d: (v.get(part) or {}) if part else v for d, v in directions.items()}
    return ["metric", *directions], [[name, *(cell(s.get(name)) for s in scores.values())] for name in names]


def page_metrics(results: dict) -> dict:
    """The metrics as the results page shows them: notes on them all, then sections, each a titled table with its
    notes (``{"notes": [...], "sections": [{"title", "header", "rows", "notes"}, ...]}``)."""
    directions = results["directions"]
    shapes = results.get("data", "shapes") == "shapes"
    judge = results["classifier"]
    accuracy = judge["accuracy_real"] or {"min": "-", "max": "-"}
    sections = []

    def section(title: str, table: tuple[list[str], list[list[str]]], notes: list[str]) -> None:
        sections.append({"title": title, "header": table[0], "rows": table[1], "notes": notes})

    notes = [
        f"classification_score: the fraction of translated instances that {judge['members']} independently trained "
        f"classifiers assign to the target domain (each chooses A, B or neither); they are right on {accuracy['min']} "
        f"to {accuracy['max']} of the real {results['phase']} images. judged_neither: the fraction they find to be no "
        "instance of either domain (blurred, smeared, erased). classifier_fd / classifier_kd: Frechet and kernel "
        "distances between the classifiers' features of translated and real instances (not FID/KID, which need "
        "Inception features; the classifiers learned to overlook mild blur and noise).",
        *(f"{metric.column}: {metric.note}." for metric in PER_IMAGE if metric.group == "main" and metric.applies(shapes)),
        f"FID/KID with Inception: {results['fid_inception']}.",
        *results.get("skipped", []),
    ]
    if results.get("paste_background"):
        notes.append("These translations were written with --paste_background: outside the instances (grown by "
                     "--paste_radius) every pixel is the source's, so the context error and the background scores "
                     "are those of the source image by construction, not the generator's.")  # fmt: skip
    section("Scores", by_metric(directions, columns(shapes=shapes)), notes)
    if any(v.get("ground_truth") for v in directions.values()):
        section("Against the ideal translation", by_metric(directions, columns(GROUND_TRUTH)),
                ["The translations against the ideal ones the data set holds (ground_truth: the images with an ideal; "
                 "instances beyond --ins_max stay as they were in the ideal).",
                 *(f"{metric.column}: {metric.note}." for metric in PER_IMAGE if metric.group == GROUND_TRUTH)])  # fmt: skip
    if any(v.get("realism") for v in directions.values()):
        section("Realism", by_metric(directions, REALISM, "realism"),
                ["The accuracy of a small CNN trained on half of the real and half of the translated crops to tell "
                 "them apart, scored on the other halves (mean ± spread over random splits): 0.5 means they cannot be "
                 "told apart, 1.0 that every translation gives itself away. instances: the translated instances "
                 "against the target domain's real ones; backgrounds: patches that show no instance; _floor: the same "
                 "test on two halves of the real crops."])  # fmt: skip
    steps = [(d, step, v) for d, scores in directions.items() for step, v in scores.get("by_step", {}).items()]
    if steps:
        chosen = step_columns(shapes)
        section("By sequential step", (["direction", "step", *chosen],
                                       [[d, step, *(cell(v.get(c)) for c in chosen)] for d, step, v in steps]),
                ["The instances translated in each sequential step of --ins_per instances (1 = the first, on the "
                 "source image; later steps start from the image translated so far), and those beyond --ins_max that "
                 "were not translated; scores over instances. classification_after_step: judged on the image as it "
                 "stood after the instance's step."])  # fmt: skip
    if judge.get("probes"):
        section("The judge's probes", (["probe", "crops", *CLASSES], [[name, str(v["crops"]), *(str(v[c]) for c in CLASSES)]
                                                                     for name, v in judge["probes"].items()]),
                ["What the judge answers (share of verdicts per class) on real instances as they are, blurred, and on "
                 "patches of background alone."])  # fmt: skip
    return {"notes": ["value [95% bootstrap interval over the test images]."], "sections": sections}

"""Score test.py's translations: domain classification, mask shape, context preservation, instances kept, and
distances between the translated and the real images (FID and KID with Inception when its weights are on disk, and
the same distances on the domain classifiers' features, always).

    python evaluate.py --results results/shapes_instagan/test_latest

Every number comes with a 95 % bootstrap interval (resampling the test images) and is deterministic: the same
results give the same numbers. metrics.json is written into the results folder and the table into its index.html.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

import torch

from instagan.data.image_folder import index_masks, make_dataset, read_image, read_mask
from instagan.evaluation import metrics
from instagan.evaluation.judge import Ensemble, crop, train_or_load
from instagan.evaluation.judge import folder_crops as _folder_crops
from instagan.options.base_options import Parser
from instagan.reporting.results import Sample, read_manifest, write_page
from instagan.util import cli
from instagan.util.cli import UserError
from instagan.util.files import atomic_write_text
from instagan.util.images import from_uint8, to_uint8

INCEPTION_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"  # what torch-fidelity loads for torchmetrics' FID


# the real images' instance crops, cut once per folder however often they are needed
folder_crops = functools.lru_cache(maxsize=None)(_folder_crops)


def _image(path: Path) -> torch.Tensor:
    return from_uint8(read_image(path))


def _mask(path: Path, size: tuple[int, int]) -> torch.Tensor:
    return from_uint8(read_mask(path, size))


def _resized_mask(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """A data-set mask resized (bicubic, as the loader does) to an output's size."""
    raw = read_image(path)[:1].float()[None]
    resized = torch.nn.functional.interpolate(raw, size=size, mode="bicubic", antialias=True, align_corners=False)
    return from_uint8(resized[0, 0].clamp(0, 255))


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


def inception_weights(path: str | None, required: bool) -> Path | None:
    """The Inception weights for FID: ``--fid_weights``, else torch hub's cache; None (or an error, if ``required``) when
    they are not on disk or torch-fidelity, which reads them, is not installed."""
    if importlib.util.find_spec("torch_fidelity") is None:
        if required or path:
            raise UserError("FID with Inception features needs torch-fidelity: pip install torch-fidelity (the [fid] extra)")
        return None
    candidate = Path(path) if path else Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS
    if candidate.is_file():
        return candidate
    if required or path:
        raise UserError(
            f"{candidate} not found: FID needs the Inception weights {INCEPTION_WEIGHTS} (from "
            "github.com/toshas/torch-fidelity/releases/tag/v0.2.0) there or at --fid_weights"
        )
    return None


def inception_distances(real: torch.Tensor, fake: torch.Tensor, weights: Path) -> dict[str, dict]:
    """FID and KID with the standard Inception features (torchmetrics and torch-fidelity), with bootstrap intervals."""
    from torchmetrics.image.fid import NoTrainInceptionV3

    net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"], feature_extractor_weights_path=str(weights))

    def features(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([net(to_uint8(x)) for x in images.split(32)])

    out = metrics.feature_distances(features(real), features(fake), resamples=20)
    return {"fid": out["fd"], "kid": out["kd"]}


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


NOT_TRANSLATED = "not translated"


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


def evaluate_direction(folder: Path, samples: list[Sample], tgt: str, judge: Ensemble, shape: str, dataroot: Path,
                       phase: str, weights: Path | None) -> dict | None:  # fmt: skip
    """The metrics of one direction's samples (read from the results folder's manifest).

    With instances, every instance of a source image counts: one that was not translated (beyond ``--ins_max``) is
    judged as it stands in the output, and its mask shape counts as wrong."""
    if not samples:
        return None
    src = samples[0].src
    dataset_masks = index_masks(dataroot / f"{phase}{src}_seg")
    fakes, ctx, kept, shape_right, shape_total, specks, crops, owners = [], [], [], [], [], [], [], []
    translated_share, steps, shapes = [], [], []  # per image; per judged instance (its step, its shape verdict)
    for i, sample in enumerate(samples):
        source, output = _image(folder / sample.images["source"]), _image(folder / sample.images["translated"])
        size = tuple(source.shape[1:])
        fakes.append(output)
        if sample.instances:  # InstaGAN: the instances it translated, and their translations
            done = [pair for pair in sample.instances if pair.get("translated")]
            left = [_mask(folder / pair["source"], size) for pair in sample.instances if not pair.get("translated")]
            inputs = [_mask(folder / pair["source"], size) for pair in done]
            outputs = [_mask(folder / pair["translated"], size) for pair in done]
            # a translated mask's body: without its specks, which would set its bounding box (see metrics.without_specks)
            masks = [metrics.binarize(m) for m in outputs]
            bodies = [metrics.without_specks(m) for m in masks]
            right = [metrics.shape_of(b) == shape for b in bodies]
            shape_right.append(sum(right))
            shape_total.append(len(outputs) + len(left))
            specks.append(sum(not torch.equal(b, m) for b, m in zip(bodies, masks)))  # metrics.has_specks, done once
            kept.append(metrics.instances_kept(inputs, outputs))
            translated_share.append(len(done) / len(sample.instances))
            regions = [metrics.binarize(a) | b for a, b in zip(inputs, bodies)] + [metrics.binarize(m) for m in left]
            judged = [(pair.get("step"), r) for pair, r in zip(done, right)] + [(NOT_TRANSLATED, False)] * len(left)
            inputs = inputs + left
        else:  # an image-only model: the data set's masks mark where the instances were
            inputs, outputs = [_resized_mask(p, size) for p in dataset_masks.get(sample.stem, [])], []
            regions = [metrics.binarize(m) for m in inputs]
            judged = [(None, None)] * len(regions)
        ctx.append(metrics.context_error(source, output, inputs + outputs))
        for region, (step, right_shape) in zip(regions, judged):  # the judge sees each instance where it was and went
            piece = crop(output, region)
            if piece is not None:
                crops.append(piece)
                owners.append(i)
                steps.append(step)
                shapes.append(right_shape)
    classification, right_domain = judge_instances(judge, crops, owners, len(samples), tgt)
    report = {
        "images": len(samples),
        "classification_score": classification,
        "mask_shape_accuracy": metrics.estimate(shape_right, shape_total) if shape_total else None,
        "masks_with_specks": metrics.estimate(specks, shape_total) if shape_total else None,
        "target_shape": shape,
        "context_error": metrics.estimate(ctx),
        "instances_kept": metrics.estimate(kept) if kept else None,
        "instances_translated": metrics.estimate(translated_share) if translated_share else None,
    }
    if any(isinstance(s, int) for s in steps):
        report["by_step"] = by_step(steps, right_domain, shapes)
    real_folder = dataroot / f"{phase}{tgt}"
    if real_folder.is_dir():
        real_crops, _ = folder_crops(real_folder, 500)
        if crops and len(real_crops) > 1:
            distances = metrics.feature_distances(judge.features(real_crops), judge.features(torch.stack(crops)))
            report["classifier_fd"], report["classifier_kd"] = distances["fd"], distances["kd"]
        if weights is not None:
            real = torch.stack([_image(p) for p in make_dataset(real_folder, 500)])
            report.update(inception_distances(real, torch.stack(fakes), weights))
    return report


def _cell(value) -> str:
    if isinstance(value, dict):
        if value.get("value") is None:
            return "-"
        return f"{value['value']} [{value['ci95'][0]}, {value['ci95'][1]}]"
    return "-" if value is None else str(value)


COLUMNS = ("images", "classification_score", "mask_shape_accuracy", "masks_with_specks", "context_error", "instances_kept",
           "instances_translated", "classifier_fd", "classifier_kd", "fid", "kid")  # fmt: skip


def page_metrics(results: dict) -> dict:
    """The metrics as the results page shows them: a table and notes."""
    header = ["direction", *COLUMNS]
    rows = [[direction] + [_cell(values.get(c)) for c in COLUMNS] for direction, values in results["directions"].items()]
    judge = results["classifier"]
    accuracy = judge["accuracy_real"] or {"min": "-", "max": "-"}
    notes = [
        "value [95% bootstrap interval over the test images].",
        f"classification_score: the fraction of translated instances that {judge['members']} independently trained "
        f"classifiers assign to the target domain; they are right on {accuracy['min']} to {accuracy['max']} of the real "
        f"{results['phase']} images. classifier_fd / classifier_kd: Frechet and kernel distances between the "
        "classifiers' features of translated and real instances (not FID/KID, which need Inception features).",
        f"mask_shape_accuracy: the fraction of translated masks whose body (without specks, parts of fewer than "
        f"{metrics.SPECK_PIXELS} pixels) has the target domain's shape; masks_with_specks: the fraction that have specks.",
        f"FID/KID with Inception: {results['fid_inception']}.",
    ]
    tables = [(header, rows)]
    steps = [(direction, step, values) for direction, scores in results["directions"].items()
             for step, values in scores.get("by_step", {}).items()]  # fmt: skip
    if steps:
        tables.append((["direction", "step", "instances", "classification_score", "mask_shape_accuracy"],
                       [[d, step, str(v["instances"]), _cell(v["classification_score"]), _cell(v["mask_shape_accuracy"])]
                        for d, step, v in steps]))  # fmt: skip
        notes.append("By step: the instances translated in each sequential step of --ins_per instances (1 = the first, "
                     "on the source image; later steps start from the image translated so far), and those beyond "
                     "--ins_max that were not translated; scores over instances.")  # fmt: skip
    return {"tables": tables, "notes": notes}


def classifier_accuracy(judge: Ensemble, dataroot: Path, phase: str, limit: int = 500) -> dict | None:
    """How often the judge is right on the real images of the phase (both domains), scored as translations are:
    per instance for each member, and per image (the majority of its instances' verdicts) for each member and for
    the ensemble."""
    per_instance, per_image, ensemble, total = [], [], [], 0
    for domain in ("A", "B"):
        folder = dataroot / f"{phase}{domain}"
        if not folder.is_dir():
            return None
        crops, owners = folder_crops(folder, limit)
        if not owners:
            return None
        images = max(owners) + 1
        votes = (judge.member_probs_B(crops) > 0.5) == (domain == "B")  # right verdicts, (members, instances)
        right = _per_image(votes, torch.tensor(owners), images)
        per_instance.append(votes.double().sum(dim=1))
        per_image.append((right > 0.5).double().nansum(dim=1))
        ensemble.append(float((right.mean(dim=0) > 0.5).double().nansum()))
        total += int((~right[0].isnan()).sum())
    instances = sum(len(folder_crops(dataroot / f"{phase}{d}", limit)[1]) for d in "AB")
    by_instance = sum(per_instance) / instances
    by_image = sum(per_image) / total
    return {"images": total, "instances": instances, "min": round(float(by_image.min()), 4),
            "max": round(float(by_image.max()), 4), "ensemble": round(sum(ensemble) / total, 4),
            "per_instance_min": round(float(by_instance.min()), 4)}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", required=True, help="a test.py results folder: results/<name>/<phase>_<epoch>")
    parser.add_argument("--dataroot", help="the data set (default: the one in the folder's test_opt.json)")
    parser.add_argument("--cache", help="classifier cache file (default: <dataroot>/domain_classifier.pth)")
    parser.add_argument("--classifier_steps", type=int, default=600, help="training steps of each classifier")
    parser.add_argument("--classifiers", type=int, default=5, help="independently seeded classifiers that judge")
    parser.add_argument("--fid", choices=("auto", "inception", "none"), default="auto",
                        help="FID/KID with Inception: auto (if its weights are on disk), inception (required), none")  # fmt: skip
    parser.add_argument("--fid_weights", help=f"path of {INCEPTION_WEIGHTS} (default: torch hub's checkpoints folder)")
    args = parser.parse_args(argv)
    for flag in ("classifier_steps", "classifiers"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} {getattr(args, flag)} must be at least 1")
    results_dir = Path(args.results)
    images = results_dir / "images"
    if not images.is_dir():
        raise FileNotFoundError(f"{images} not found: run test.py first and pass its results folder to --results")
    opt_file = results_dir / "test_opt.json"
    if not opt_file.is_file():
        raise UserError(
            f"{results_dir} is not a results folder of test.py (it has no test_opt.json): pass "
            "results/<name>/<phase>_<epoch>, not a training page"
        )
    test_opt = json.loads(opt_file.read_text())
    dataroot = Path(args.dataroot or test_opt.get("dataroot", ""))
    if test_opt.get("dataset_mode") == "single_seg" and not args.dataroot:
        dataroot = dataroot.parent
    if not (dataroot / "trainA").is_dir() or not (dataroot / "trainB").is_dir():
        raise FileNotFoundError(f"{dataroot} has no trainA and trainB for the classifier: pass the data set with --dataroot")
    phase = test_opt.get("phase", "test")
    weights = None if args.fid == "none" else inception_weights(args.fid_weights, required=args.fid == "inception")
    cache = Path(args.cache) if args.cache else dataroot / "domain_classifier.pth"
    judge = train_or_load(dataroot, cache, steps=args.classifier_steps, members=args.classifiers)
    report = {"results": str(results_dir), "dataroot": str(dataroot), "phase": phase, "directions": {}}
    report["classifier"] = {"members": len(judge.members), "steps": args.classifier_steps,
                            "accuracy_real": classifier_accuracy(judge, dataroot, phase)}  # fmt: skip
    if weights is not None:
        report["fid_inception"] = str(weights)
    elif args.fid == "none":
        report["fid_inception"] = "not computed: --fid none"
    elif importlib.util.find_spec("torch_fidelity") is None:
        report["fid_inception"] = "not computed: torch-fidelity is not installed (pip install torch-fidelity)"
    else:
        report["fid_inception"] = f"not computed: {INCEPTION_WEIGHTS} is not in torch hub's checkpoints folder (--fid_weights)"
    title, samples = read_manifest(results_dir)
    for src, tgt in (("A", "B"), ("B", "A")):
        # each source image once (results written before test.py skipped repeats list a shorter domain's images again)
        chosen, seen = [], set()
        for sample in samples:
            if sample.direction == f"{src}->{tgt}" and sample.stem not in seen:
                seen.add(sample.stem)
                chosen.append(sample)
        scores = evaluate_direction(results_dir, chosen, tgt, judge, target_shape(dataroot, tgt), dataroot, phase, weights)
        if scores:
            report["directions"][f"{src}->{tgt}"] = scores
    if not report["directions"]:
        raise FileNotFoundError(f"{results_dir} holds no translations: run test.py first")
    atomic_write_text(results_dir / "metrics.json", json.dumps(report, indent=2) + "\n")
    write_page(results_dir, samples, title, page_metrics(report))
    accuracy = report["classifier"]["accuracy_real"]
    if accuracy:
        print(f"classifiers right on {accuracy['min']}-{accuracy['max']} of the real {phase} images")
    for direction, scores in report["directions"].items():
        print(direction, " ".join(f"{k}={_cell(v)}" for k, v in scores.items() if k in COLUMNS))
        for step, values in scores.get("by_step", {}).items():
            print(
                f"  step {step}: {values['instances']} instances, classification_score="
                f"{_cell(values['classification_score'])} mask_shape_accuracy={_cell(values['mask_shape_accuracy'])}"
            )
    print(f"metrics written to {results_dir / 'metrics.json'}")
    return report


def entry() -> None:
    """The console command (instagan-evaluate)."""
    cli.run(main)


if __name__ == "__main__":
    entry()

"""A results folder of test.py scored as a whole: the data set it translated and what can be measured on it, the
judge, every direction's scores (``evaluation.scoring``), written as metrics.json and the results page, and said on
the console. evaluate.py parses its flags and calls ``evaluate``; scripts read ``Report``'s metrics.json."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from instagan.data import find_dataset_using_name
from instagan.evaluation import ground_truth, inception, realism, scoring
from instagan.evaluation.judge import one_thread, train_or_load
from instagan.models.run import read_options
from instagan.reporting.results import read_manifest, write_page
from instagan.util.cli import UserError
from instagan.util.files import atomic_write_text


@dataclass(frozen=True)
class Settings:
    """How to score (evaluate.py's flags): the data set (default: the one test.py read), the judge's cache, steps and
    members, FID/KID with Inception (``auto``, ``inception`` or ``none``) and the realism tests' splits."""

    dataroot: Path | None = None
    cache: Path | None = None
    classifier_steps: int = 600
    classifiers: int = 5
    fid: str = "auto"
    fid_weights: str | None = None
    realism_splits: int = realism.SPLITS


@dataclass
class Report:
    """metrics.json: where the translations are (``results``), the data set they came from, whether it is the shapes
    data (``data``: ``shapes``, scored against its ideal translations too, or ``photos``), the judge (its members,
    steps, accuracy on real images and probes), FID/KID's status, every direction's scores, the metrics left out
    because they mean nothing on this data set (``skipped``), and why FID/KID with Inception is missing where it is
    (``fid_skipped``)."""

    results: str
    dataroot: str
    phase: str
    data: str
    classifier: dict
    fid_inception: str
    paste_background: bool
    directions: dict[str, dict] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    fid_skipped: list[str] = field(default_factory=list)

    @property
    def shapes(self) -> bool:
        return self.data == "shapes"

    def as_json(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        """The console's summary: a line per direction, then its ground truth, realism and steps."""
        lines = []
        if self.paste_background:
            lines.append("note: written with --paste_background, so outside the instances every pixel is the source's: the "
                         "context error and the background scores are the source's, by construction")  # fmt: skip
        accuracy = self.classifier["accuracy_real"]
        if accuracy:
            lines.append(f"classifiers right on {accuracy['min']}-{accuracy['max']} of the real {self.phase} images")
        main, steps = scoring.columns(shapes=self.shapes), scoring.step_columns(self.shapes)[1:]
        for direction, scores in self.directions.items():
            lines.append(" ".join([direction, *(f"{k}={scoring.cell(v)}" for k, v in scores.items() if k in main)]))
            if scores.get("ground_truth"):
                truth = scoring.columns(scoring.GROUND_TRUTH)
                lines.append("  against the ideal: " + " ".join(f"{k}={scoring.cell(scores.get(k))}" for k in truth))
            if scores.get("realism"):
                lines.append("  realism (0.5: real-like): " + " ".join(f"{k}={scoring.cell(v)}"
                                                                       for k, v in scores["realism"].items()))  # fmt: skip
            for step, values in scores.get("by_step", {}).items():
                lines.append(f"  step {step}: {values['instances']} instances, " + " ".join(
                    f"{k}={scoring.cell(values.get(k))}" for k in steps))  # fmt: skip
        return lines + [f"not scored: {why}" for why in self.skipped] + self.fid_skipped


def test_options(results: Path) -> dict:
    """The options test.py wrote the results folder with (its test_opt.json)."""
    if not (results / "images").is_dir():
        raise FileNotFoundError(f"{results / 'images'} not found: run test.py first and pass its results folder to --results")
    path = results / "test_opt.json"
    if not path.is_file():
        raise UserError(f"{results} is not a results folder of test.py (it has no test_opt.json): pass "
                        "results/<name>/<phase>_<epoch>, not a training page")  # fmt: skip
    return read_options(path, "run test.py again with --overwrite")


def data_set(options: dict, given: Path | None) -> Path:
    """The data set the results came from: ``given``, or the one test.py read (``--dataroot`` through its data set
    mode, which may name one of the data set's folders); it must hold trainA and trainB, which the judge learns from."""
    mode = options.get("dataset_mode", "unaligned_seg")
    root = Path(given) if given else find_dataset_using_name(mode).data_set_root(options.get("dataroot", ""))
    if not (root / "trainA").is_dir() or not (root / "trainB").is_dir():
        raise FileNotFoundError(f"{root} has no trainA and trainB for the classifier: pass the data set with --dataroot")
    return root


def skipped_on_photos(dataroot: Path) -> list[str]:
    """What is not scored on a data set other than the shapes data, and why."""
    truth = ", ".join(m.column for m in scoring.PER_IMAGE if m.group == scoring.GROUND_TRUTH)
    shape_only = ", ".join(m.column for m in scoring.PER_IMAGE if m.shapes_only)
    return [f"{shape_only} (a fill ratio tells boxes from discs, not the shapes of photographed instances) and the "
            f"ground truth ({truth}): {dataroot} holds no ideal translations (testA_ideal, testB_ideal: the shapes data "
            "set's builder writes them)"]  # fmt: skip


def evaluate(results: str | Path, settings: Settings = Settings()) -> Report:
    """Score a results folder of test.py; writes its metrics.json and rewrites its page with the metrics."""
    results = Path(results)
    options = test_options(results)
    dataroot = data_set(options, settings.dataroot)
    phase = options.get("phase", "test")
    shapes = scoring.is_shapes_data(dataroot)
    weights = None if settings.fid == "none" else inception.weights(settings.fid_weights, required=settings.fid == "inception")
    cache = Path(settings.cache) if settings.cache else dataroot / "domain_classifier.pth"
    with one_thread():  # small tensors: one thread each, and the cores for the classifiers side by side
        judge = train_or_load(dataroot, cache, steps=settings.classifier_steps, members=settings.classifiers)
        real = scoring.RealCrops(dataroot, phase, floor_cache=cache.with_name(f"{cache.stem}_realism_floors.json"))
        classifier = {"members": len(judge.members), "steps": settings.classifier_steps,
                      "accuracy_real": scoring.classifier_accuracy(judge, real),
                      "probes": real.probes(judge)}  # fmt: skip
    report = Report(str(results), str(dataroot), phase, "shapes" if shapes else "photos", classifier,
                    inception.status(weights, settings.fid), bool(options.get("paste_background")),
                    skipped=[] if shapes else skipped_on_photos(dataroot))  # fmt: skip
    if shapes and not any((dataroot / f"{phase}{d}{ground_truth.IDEAL}").is_dir() for d in "AB"):
        report.skipped.append(f"the ground truth: the shapes data holds ideal translations of its test split only, not of "
                              f"{phase}A / {phase}B")  # fmt: skip
    title, samples = read_manifest(results)
    report.directions = scoring.score_directions(results, samples, judge, real, weights, options, settings.realism_splits,
                                                 shapes)  # fmt: skip
    if not report.directions:
        raise FileNotFoundError(f"{results} holds no translations: run test.py first")
    report.fid_skipped = fid_skipped(settings, weights, report, real)
    atomic_write_text(results / "metrics.json", json.dumps(report.as_json(), indent=2) + "\n")
    write_page(results, samples, title, scoring.page_metrics(report.as_json()))
    return report


def fid_skipped(settings: Settings, weights: Path | None, report: Report, real: scoring.RealCrops) -> list[str]:
    """Why FID/KID with Inception was not computed (for each direction where it was not), and what computes it."""
    skipped = "FID/KID with Inception skipped"
    if settings.fid == "none":
        return [f"{skipped}: --fid none (--fid auto computes them when torch-fidelity and its weights are there)"]
    if weights is None:
        if importlib.util.find_spec("torch_fidelity") is None:
            return [f"{skipped}: torch-fidelity is not installed (pip install torch-fidelity, or the [fid] extra)"]
        hub = Path(torch.hub.get_dir()) / "checkpoints"
        return [f"{skipped}: {inception.WEIGHTS} is not in {hub} (download it there from "
                "github.com/toshas/torch-fidelity/releases/tag/v0.2.0, or pass its path to --fid_weights)"]  # fmt: skip
    lines = []
    for direction, scores in report.directions.items():
        if "fid" in scores:
            continue
        if scores["images"] < 2:
            why = f"only {scores['images']} translated image, FID needs 2 or more (test.py --num_test)"
        else:
            why = f"it needs 2 or more real images of {direction[-1]} in {real.folder(direction[-1])}"
        lines.append(f"{skipped} for {direction}: {why}")
    return lines

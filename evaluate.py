"""Score test.py's translations: domain classification (A, B or neither), context preservation, instances kept,
realism (classifier two-sample tests), scores per sequential step, distances between the translated and the real
images (FID and KID with Inception when its weights are on disk, and the same distances on the domain classifiers'
features, always), and on the shapes data the mask shape and the ground truth (its ideal translations).

    python evaluate.py --results results/shapes_instagan/test_latest

Every number comes with a 95 % bootstrap interval (resampling the test images) and is deterministic: the same
results give the same numbers. metrics.json is written into the results folder and the table into its index.html.
"""

from __future__ import annotations

from pathlib import Path

from instagan.evaluation import inception, realism
from instagan.evaluation.report import Settings, evaluate
from instagan.util import cli
from instagan.util.flags import Parser, at_least


def main(argv: list[str] | None = None) -> dict:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", required=True, help="a test.py results folder: results/<name>/<phase>_<epoch>")
    parser.add_argument("--dataroot", help="the data set (default: the one in the folder's test_opt.json)")
    parser.add_argument("--cache", help="classifier cache file (default: <dataroot>/domain_classifier.pth)")
    parser.add_argument("--classifier_steps", default=600, help="training steps of each classifier", **at_least(1))
    parser.add_argument("--classifiers", default=5, help="independently seeded classifiers that judge", **at_least(1))
    parser.add_argument("--fid", choices=("auto", "inception", "none"), default="auto",
                        help="FID/KID with Inception: auto (if its weights are on disk), inception (required), none")  # fmt: skip
    parser.add_argument("--fid_weights", help=f"path of {inception.WEIGHTS} (default: torch hub's checkpoints folder)")
    parser.add_argument("--realism_splits", default=realism.SPLITS,
                        help="random splits of each realism test (a classifier trained per split); 0 skips realism",
                        **at_least(0))  # fmt: skip
    args = parser.parse_args(argv)
    settings = Settings(Path(args.dataroot) if args.dataroot else None, Path(args.cache) if args.cache else None,
                        args.classifier_steps, args.classifiers, args.fid, args.fid_weights, args.realism_splits)  # fmt: skip
    report = evaluate(args.results, settings)
    for line in report.lines():
        print(line)
    print(f"metrics written to {Path(args.results) / 'metrics.json'}")
    return report.as_json()


def entry() -> None:
    """The console command (instagan-evaluate)."""
    cli.run(main)


if __name__ == "__main__":
    entry()

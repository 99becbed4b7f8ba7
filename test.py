"""Translate a data split with trained generators and write the images, results.json and an HTML page.

    python test.py --dataroot ./datasets/shp2gir_coco --name shp2gir_coco_instagan \
        --loadSizeH 200 --loadSizeW 200 --fineSizeH 200 --fineSizeW 200 --ins_max 20 --ins_per 2

Results go to <results_dir>/<name>/<phase>_<epoch>/ (images/, results.json and index.html); an existing folder is
replaced only with --overwrite, and only once the new results are complete.
"""

from __future__ import annotations

from pathlib import Path

from instagan.data import create_dataloader, create_dataset
from instagan.options.base_options import option_values, save_options
from instagan.options.test_options import TestOptions
from instagan.reporting.results import FreshFolder, ResultsWriter
from instagan.translator import Translator
from instagan.util import cli
from instagan.util.progress import progress_bar
from instagan.util.randomness import seed_everything


def main(argv: list[str] | None = None) -> Path:
    opt = TestOptions().parse(argv)
    seed_everything(0 if opt.seed is None else opt.seed)
    weights = f"{opt.epoch}_ema" if opt.ema else opt.epoch  # --ema: the moving averages, beside the weights' results
    folder = FreshFolder(Path(opt.results_dir) / opt.name / f"{opt.phase}_{weights}", opt.overwrite)
    dataset = create_dataset(opt)
    print(dataset.describe())
    loader = create_dataloader(opt, dataset)
    translator = Translator.from_options(opt)
    total = min(opt.num_test, len(dataset))
    with folder, progress_bar(total=total, unit="sample", desc="translating") as progress:
        title = f"{opt.name}: {opt.phase}, epoch {opt.epoch}{' (moving average of the weights)' if opt.ema else ''}"
        writer = ResultsWriter(folder.partial, title, opt.aspect_ratio,
                               opt.display_winsize)  # fmt: skip
        save_options(opt, folder.partial, "test")
        for batch in loader:
            if progress.n >= total:
                break
            translations = translator.translate_batch(batch)
            writer.add(translations)
            progress.update(min(len(translations[0]), total - progress.n))
        writer.save(option_values(opt))
        final = folder.commit()
    everything = len(dataset)
    limited = f" (--num_test {opt.num_test} stops there; --num_test {everything} translates all)" if total < everything else ""
    print(f"translated {total} of the {everything} samples of '{opt.phase}'{limited}: {writer.count} translations "
          f"written; open {final / 'index.html'}")  # fmt: skip
    return final / "index.html"


def entry() -> None:
    """The console command (instagan-test)."""
    cli.run(main)


if __name__ == "__main__":
    entry()

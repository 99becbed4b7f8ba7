"""The training page and the results pages as a browser shows them: headless Chromium at a 1,280 x 900 window loads
every picture and needs no horizontal scroll bar. The pages are written by the project's own code, on tiny generated
images (no training); skipped where no Chromium is installed."""

import html
import json
import re
import shutil
import subprocess
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from instagan.evaluation import scoring
from instagan.models.two_domain_model import Translation
from instagan.options.base_options import save_options
from instagan.options.train_options import TrainOptions
from instagan.reporting.plot import loss_curves_svg, styles, whole_ticks
from instagan.reporting.results import ResultsWriter, overview, read_manifest, write_page
from instagan.reporting.training_log import TrainingLog

WINDOW = (1280, 900)
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# appended to a copy of a page: once everything has loaded, what the test checks goes into the DOM that Chromium dumps
CHECK = """<script>
window.addEventListener("load", () => {
  const broken = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src"));
  const out = document.createElement("pre");
  out.id = "check";
  const root = document.documentElement;
  out.textContent = JSON.stringify({images: document.images.length, broken, innerWidth: window.innerWidth,
                                    clientWidth: root.clientWidth, scrollWidth: root.scrollWidth});
  document.body.appendChild(out);
});
</script>"""


def browser() -> str:
    found = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if found is None:
        pytest.skip(f"no Chromium on PATH ({', '.join(BROWSERS)}): apt-get install chromium")
    return found


def shown(page: Path, profile: Path) -> dict:
    """What headless Chromium finds on ``page`` at the test's window size (a copy with CHECK, beside it)."""
    copy = page.with_name(f"checked_{page.name}")
    copy.write_text(page.read_text().replace("</body>", CHECK + "</body>"))
    proc = subprocess.run([browser(), "--headless=new", "--disable-gpu", "--no-sandbox", f"--user-data-dir={profile}",
                           f"--window-size={WINDOW[0]},{WINDOW[1]}", "--virtual-time-budget=5000", "--dump-dom",
                           copy.as_uri()], capture_output=True, text=True, timeout=120)  # fmt: skip
    found = re.search(r'<pre id="check">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"no result from Chromium ({proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def squares(n: int, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images (n, 3, size, size) in [-1, 1] with two square instances each, and their masks (n, 2, size, size)."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, size, size, generator=generator) * 2 - 1
    masks = -torch.ones(n, 2, size, size)
    masks[:, 0, 2:12, 2:12] = masks[:, 1, 16:28, 14:26] = 1
    return images, masks


def training_page(folder: Path) -> Path:
    """A 10-epoch training page: losses at fractions of every epoch, the pictures of two epochs, the run finished."""
    opt = TrainOptions().parse(["--dataroot", "unused", "--gpu_ids", "-1", "--name", "tiny", "--checkpoints_dir",
                                str(folder), "--niter", "5", "--niter_decay", "5", "--display_id", "0"])  # fmt: skip
    log = TrainingLog(opt)
    save_options(opt, log.run_dir, "train")
    names = [f"{n}_{d}" for d in "AB" for n in ("D", "G", "cyc", "idt", "ctx")]
    images, masks = squares(2)
    visuals = OrderedDict()
    for src, tgt, b in (("A", "B", 0), ("B", "A", 1)):
        for kind, domain in (("real", src), ("fake", tgt), ("rec", src)):
            visuals[f"{kind}_{domain}_img"] = images[b : b + 1]
        for kind, domain in (("real", src), ("fake", tgt), ("rec", src)):
            visuals[f"{kind}_{domain}_seg"] = masks[b : b + 1, :1]
    for epoch in range(1, 11):
        for k, fraction in enumerate((0.3, 0.6, 0.9)):
            log.losses(epoch, 10, fraction, 3 * epoch + k, OrderedDict((n, 1.0 / (epoch + k + i)) for i, n in enumerate(names)),
                       0.1, 0.01)  # fmt: skip
        if epoch in (1, 10):
            log.images(visuals, epoch, 3 * epoch, save_html=True)
        log.end_epoch(epoch)
    return log.web_dir / "index.html"


def results_pages(folder: Path, samples: int = 8, per_page: int = 6) -> Path:
    """A results folder of ``samples`` translations per direction (two sequential steps each) on pages of
    ``per_page``, scored by a made-up report with every section of the metrics, a demo's record and its overview."""
    writer = ResultsWriter(folder, "tiny: test, epoch latest")
    for start in range(0, samples, 4):  # in batches, as test.py writes them
        images, masks = squares(4, seed=start)
        paths = [f"{k:05d}.png" for k in range(start, start + 4)]
        writer.add([Translation(src, tgt, paths, images, masks, images, masks, images, masks, slot_steps=[0, 1],
                                step_images=[images]) for src, tgt in (("A", "B"), ("B", "A"))])  # fmt: skip
    writer.save()
    value = {"value": 0.912, "ci95": [0.871, 0.95], "n": samples}
    scores = {c: value for c in scoring.columns() + scoring.columns(scoring.GROUND_TRUTH)}
    scores.update(images=samples, ground_truth=samples, realism={c: {"value": 0.61, "std": 0.04} for c in scoring.REALISM},
                  by_step={step: {"instances": samples, **{c: value for c in scoring.STEP_COLUMNS[1:]}}
                           for step in ("1", "2", "not translated")})  # fmt: skip
    report = {"phase": "test", "fid_inception": "not computed (--fid none)", "directions": {"A->B": scores, "B->A": scores},
              "classifier": {"members": 5, "accuracy_real": {"min": 0.98, "max": 1.0},
                             "probes": {"real": {"crops": 240, "A": 0.5, "B": 0.5, "neither": 0.0}}}}  # fmt: skip
    overview(folder, folder / "overview.png", roles=("source", "translated", "steps"))
    demo = {"seed": 0, "quick": False, "seconds": {"total": 601.2}, "met": {"mask_iou": True, "instance_psnr": False},
            "values": {"mask_iou": 0.93, "instance_psnr": 18.2, "judged_neither": 0.01},
            "targets": {"mask_iou": [">=", 0.9], "instance_psnr": [">=", 19.5]}}  # fmt: skip
    (folder / "demo.json").write_text(json.dumps(demo))
    title, listed = read_manifest(folder)
    return write_page(folder, listed, title, scoring.page_metrics(report), per_page=per_page)


def test_training_page_fits_the_window_and_shows_every_picture(tmp_path):
    index = training_page(tmp_path / "checkpoints")
    text = index.read_text()
    assert "finished at epoch 10" in text and "train_opt.txt" in text and "generator losses" in text
    ticks = re.findall(r'text-anchor="middle">(\d+)</text>', text)
    assert ticks[:11] == [str(k) for k in range(11)]  # whole epochs, 0 (none done) to 10
    assert text.count('class="grid"') == 4  # two epochs, a row per direction
    found = shown(index, tmp_path / "profile")
    assert found["images"] == 24 and found["broken"] == []
    assert found["innerWidth"] == WINDOW[0] and found["scrollWidth"] <= found["clientWidth"] <= WINDOW[0], found


def test_results_pages_fit_the_window_and_show_every_picture(tmp_path):
    index = results_pages(tmp_path / "results")
    text = index.read_text()
    assert "Targets" in text and "NOT met" in text and 'src="overview.png"' in text and "By sequential step" in text
    assert 'href="page3.html"' in text and not (tmp_path / "results" / "page4.html").exists()  # 16 samples: 6, 6, 4
    last = (tmp_path / "results" / "page3.html").read_text()
    assert 'href="page2.html">previous' in last and 'href="index.html"' in last and "next" not in last
    found = shown(index, tmp_path / "profile")  # the widest page: the other pages hold its samples' part alone
    assert found["images"] == 6 * 8 + 1 and found["broken"] == []  # 8 pictures a sample, and the overview
    assert found["innerWidth"] == WINDOW[0] and found["scrollWidth"] <= found["clientWidth"] <= WINDOW[0], found


def test_loss_curves_tick_whole_epochs_and_tell_the_directions_apart():
    assert whole_ticks(0, 10) == list(range(11)) and whole_ticks(0, 200) == list(range(0, 201, 20))
    looks = styles(["D_A", "G_A", "cyc_A", "D_B", "G_B", "cyc_B"])
    assert looks["G_A"][0] == looks["G_B"][0] != looks["cyc_A"][0] and looks["G_A"][1] != looks["G_B"][1]
    svg = loss_curves_svg([0.5, 1.5, 2.9], {"G_A": [1, 2, 3]}, x_range=(0, 3))
    assert re.findall(r'text-anchor="middle">(\d+)</text>', svg) == ["0", "1", "2", "3"]


def test_fewer_samples_leave_no_pages_of_an_earlier_write(tmp_path):
    results_pages(tmp_path, samples=8, per_page=6)
    title, samples = read_manifest(tmp_path)
    write_page(tmp_path, samples, title, per_page=10)
    assert (tmp_path / "page2.html").is_file() and not (tmp_path / "page3.html").exists()

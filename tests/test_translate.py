"""The Python interface (Translator) and translate.py, on a tiny trained run."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from instagan.data.image_folder import index_masks
from instagan.models.run import ArchitectureMismatch
from instagan.translator import Translator
from tests.test_cli import run

TINY = ["--gpu_ids", "-1", "--ngf", "4", "--ndf", "4", "--n_blocks", "1", "--num_threads", "0"]
SIZE = ["--loadSizeH", "32", "--loadSizeW", "32", "--fineSizeH", "32", "--fineSizeW", "32"]


def photo_and_masks(shapes_root, stem="00001"):
    image = Image.open(shapes_root / "testA" / f"{stem}.png")
    masks = [Image.open(p) for p in index_masks(shapes_root / "testA_seg")[stem]]
    return image, masks


def test_translator_gives_what_test_py_writes(tiny_run, shapes_root, tmp_path):
    translator = Translator.from_checkpoint(tiny_run, device="cpu")  # the architecture comes from train_opt.json
    image, masks = photo_and_masks(shapes_root)
    result = translator.translate(image, masks)
    assert (result.src, result.tgt) == ("A", "B") and result.translated.shape == (1, 3, 32, 32)
    assert result.translated_masks.shape == (1, len(masks), 32, 32) and result.paths == ["image"]
    areas = [int(m[0].gt(0).sum()) for m in result.source_masks[0]]
    assert areas == sorted(areas, reverse=True)  # largest first
    run("test.py", "--dataroot", shapes_root / "testA", "--dataset_mode", "single_seg", "--name", "tiny", "--checkpoints_dir",
        tiny_run.parent, "--results_dir", tmp_path, *TINY, *SIZE)  # fmt: skip
    written = np.asarray(Image.open(tmp_path / "tiny" / "test_latest" / "images" / "00001_fake_B_img.png")).astype(int)
    ours = ((result.translated[0].clamp(-1, 1) + 1) * 127.5).round().permute(1, 2, 0).numpy().astype(int)
    assert np.abs(written - ours).max() <= 1
    manifest = json.loads((tmp_path / "tiny" / "test_latest" / "results.json").read_text())
    sample = next(s for s in manifest["samples"] if s["stem"] == "00001")
    assert sample["direction"] == "A->B" and sample["images"]["translated"] == "images/00001_fake_B_img.png"
    assert len(sample["instances"]) == len(masks)


def test_translator_translates_only_the_chosen_instances(tiny_run, shapes_root):
    translator = Translator.from_checkpoint(tiny_run, device="cpu")
    image, masks = photo_and_masks(shapes_root)
    assert len(masks) >= 2
    one = translator.translate(image, masks, instances=[1])
    assert one.source_masks.shape[1] == 1
    expected = (torch.from_numpy(np.asarray(masks[1].convert("L"))) > 127).float() * 2 - 1
    torch.testing.assert_close(one.source_masks[0, 0], expected)
    with pytest.raises(ValueError, match="there are"):
        translator.translate(image, masks, instances=[len(masks)])
    both = translator.translate(torch.from_numpy(np.asarray(image)).permute(2, 0, 1), masks, size=(32, 32))
    assert both.source_masks.shape[1] == len(masks)


def test_translate_py_with_mask_files_and_with_mask_r_cnn(tiny_run, shapes_root, tmp_path):
    common = ["--input", shapes_root / "testA", "--name", "tiny", "--checkpoints_dir", tiny_run.parent, "--gpu_ids", "-1"]
    out = run("translate.py", *common, "--masks", shapes_root / "testA_seg", "--instances", "0", "--results_dir", tmp_path / "a")
    folder = tmp_path / "a" / "tiny" / "translate_latest"
    assert {p.name for p in folder.glob("*_side_by_side.png")} == {"00000_side_by_side.png", "00001_side_by_side.png",
                                                                  "00002_side_by_side.png"}  # fmt: skip
    assert Image.open(folder / "00000_side_by_side.png").size == (4 * 32, 32)
    samples = json.loads((folder / "results.json").read_text())["samples"]
    counts = {stem: len(paths) for stem, paths in index_masks(shapes_root / "testA_seg").items()}
    for s in samples:  # the chosen instance is translated; the others are listed as not translated
        assert [i["step"] for i in s["instances"]] == [1] + [None] * (counts[s["stem"]] - 1)
    assert "3 photos translated" in out.stdout
    # Mask R-CNN with untrained weights, every detection kept: the whole pipeline without downloads
    out = run("translate.py", *common, "--category", "sheep", "--weights", "none", "--score", "0", "--min_size", "64",
              "--max_instances", "2", "--results_dir", tmp_path / "b")  # fmt: skip
    assert (tmp_path / "b" / "tiny" / "translate_latest" / "index.html").is_file()
    bad = run("translate.py", *common, "--category", "shep", "--weights", "none", "--results_dir", tmp_path / "c", check=False)
    assert bad.returncode == 1 and "did you mean sheep" in bad.stderr and "Traceback" not in bad.stderr
    neither = run("translate.py", *common, "--results_dir", tmp_path / "d", check=False)
    assert neither.returncode == 2 and "--category" in neither.stderr


def test_photos_with_fewer_masks_than_instances_asks_for_are_translated_with_those_they_have(tiny_run, shapes_root,
                                                                                               tmp_path):  # fmt: skip
    counts = {stem: len(paths) for stem, paths in index_masks(shapes_root / "testA_seg").items()}
    last = max(counts.values()) - 1  # --instances 0,<last>: only the photos with the most masks have them all
    short = sorted(f"{stem}.png has {n}" for stem, n in counts.items() if n <= last)
    assert short and len(short) < len(counts)
    out = run("translate.py", "--input", shapes_root / "testA", "--name", "tiny", "--checkpoints_dir", tiny_run.parent,
              "--masks", shapes_root / "testA_seg", "--instances", f"0,{last}", "--results_dir", tmp_path)  # fmt: skip
    assert f"--instances 0,{last} needs {last + 1} masks per photo and {len(short)} photo" in out.stderr
    assert f"fewer ({', '.join(short)}): each is translated with the chosen instances it has" in out.stderr
    assert f"{len(counts)} photos translated" in out.stdout
    samples = json.loads((tmp_path / "tiny" / "translate_latest" / "results.json").read_text())["samples"]
    for s in samples:  # instance 0 everywhere, instance <last> where there is one; the others kept
        steps = [i["step"] for i in s["instances"]]
        assert len(steps) == counts[s["stem"]] and sum(k is not None for k in steps) == (2 if counts[s["stem"]] > last else 1)


def test_translate_py_refuses_instances_and_sizes_it_cannot_give(tiny_run, shapes_root, tmp_path):
    common = ["--input", shapes_root / "testA", "--name", "tiny", "--checkpoints_dir", tiny_run.parent, "--masks",
              shapes_root / "testA_seg", "--results_dir", tmp_path]  # fmt: skip
    for flags, says in [(["--instances", "0,0"], "--instances 0,0: give distinct numbers from 0"),
                        (["--instances", "0,3", "--max_instances", "3"], "--max_instances 3 keeps only instances 0 to 2"),
                        (["--size", "34,34"], "--size 34,34: give H,W, each a multiple of 4")]:  # fmt: skip
        bad = run("translate.py", *common, *flags, check=False)
        assert bad.returncode == 2 and says in bad.stderr and "Traceback" not in bad.stderr
    image, masks = photo_and_masks(shapes_root)
    with pytest.raises(ValueError, match=r"size \(34, 34\): give \(H, W\), each a multiple of 4"):
        Translator.from_checkpoint(tiny_run, device="cpu").translate(image, masks, size=(34, 34))


def test_test_py_takes_the_architecture_from_the_run(tiny_run, shapes_root, tmp_path):
    # the run was trained with --ngf 4 --ndf 4 --n_blocks 1: test.py reads them from its train_opt.json
    common = ["--dataroot", shapes_root, "--name", "tiny", "--checkpoints_dir", tiny_run.parent, "--gpu_ids", "-1", *SIZE]
    out = run("test.py", *common, "--results_dir", tmp_path / "all")
    assert "translated 3 of the 3 samples of 'test':" in out.stdout and "--num_test" not in out.stdout
    some = run("test.py", *common, "--results_dir", tmp_path / "some", "--num_test", "2")
    assert "translated 2 of the 3 samples of 'test' (--num_test 2 stops there; --num_test 3 translates all)" in some.stdout
    bad = run("test.py", *common, "--results_dir", tmp_path / "bad", "--ngf", "8", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert f"--ngf 8 differs from the run's {tiny_run / 'train_opt.json'} (--ngf 4): drop the flag" in bad.stderr
    with pytest.raises(ValueError) as api:  # the same wording, raised
        Translator.from_checkpoint(tiny_run, device="cpu", ngf=8)
    assert isinstance(api.value, ArchitectureMismatch) and str(api.value) in bad.stderr
    (tmp_path / "damaged").mkdir()
    for name in ("latest_net_G_A.pth", "latest_net_G_B.pth"):
        (tmp_path / "damaged" / name).write_bytes((tiny_run / name).read_bytes())
    (tmp_path / "damaged" / "train_opt.json").write_text("[1, 2]")
    damaged = run("test.py", *common[:3], "damaged", "--checkpoints_dir", tmp_path, "--gpu_ids", "-1", "--results_dir",
                  tmp_path / "d", check=False)  # fmt: skip
    assert damaged.returncode == 1 and "train_opt.json holds a JSON list, not the run's options" in damaged.stderr


def test_instances_not_chosen_keep_their_pixels(tiny_run, shapes_root):
    translator = Translator.from_checkpoint(tiny_run, device="cpu")
    image, masks = photo_and_masks(shapes_root)
    result = translator.translate(image, masks, instances=[0])
    other = torch.from_numpy(np.asarray(masks[1].convert("L")) > 127)
    covered = (result.translated_masks[0] > 0).any(dim=0)
    kept = other & ~covered
    assert kept.any()
    torch.testing.assert_close(result.translated[0][:, kept], result.source[0][:, kept], atol=0, rtol=0)
    assert result.untranslated_masks.shape[1] == len(masks) - 1  # reported as not translated
    everything = translator.translate(image, masks)  # without the choice, the generator repaints them
    assert not torch.equal(everything.translated[0][:, kept], everything.source[0][:, kept])


def test_translate_py_without_train_opt_json_says_at_what_size(tiny_run, shapes_root, tmp_path):
    authors = tmp_path / "checkpoints" / "authors"  # weight files alone, as the authors published theirs
    authors.mkdir(parents=True)
    for name in ("latest_net_G_A.pth", "latest_net_G_B.pth"):
        (authors / name).write_bytes((tiny_run / name).read_bytes())
    (tmp_path / "photos").mkdir()
    (tmp_path / "masks").mkdir()
    image, masks = photo_and_masks(shapes_root)
    image.resize((46, 40)).save(tmp_path / "photos" / "p.png")  # not the size the run was trained at (32 x 32)
    masks[0].resize((46, 40)).save(tmp_path / "masks" / "p_0.png")
    common = ["--input", tmp_path / "photos", "--name", "authors", "--checkpoints_dir", authors.parent, "--masks",
              tmp_path / "masks", "--ngf", "4", "--n_blocks", "1", "--results_dir", tmp_path]  # fmt: skip
    out = run("translate.py", *common)
    assert (
        f"{authors / 'train_opt.json'} not found: photos are translated at their own size (sides rounded to multiples of "
        "4); pass --size H,W for the size the run was trained at" in out.stderr
    )
    assert "1 photo translated" in out.stdout
    side_by_side = tmp_path / "authors" / "translate_latest" / "p_side_by_side.png"
    assert Image.open(side_by_side).size == (4 * 48, 40)  # the photo's own size, 46 rounded to 48
    sized = run("translate.py", *common, "--size", "16,24", "--overwrite")
    assert "not found" not in sized.stderr and Image.open(side_by_side).size == (4 * 24, 16)

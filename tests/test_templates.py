"""Adding a model or a data set is copying a template: the copies train through the real command line."""

from tests.conftest import ROOT
from tests.test_cli import SIZE32, TINY, run


def test_copied_templates_train(shapes_root, tmp_path):
    (shapes_root / "train.txt").write_text("\n".join(f"trainA/0000{i}.png\ttrainB/0000{i}.png" for i in range(4)) + "\n")
    copies = {ROOT / "models" / "copied_model.py": ("models/template_model.py", "TemplateModel", "CopiedModel"),
              ROOT / "data" / "copied_dataset.py": ("data/template_dataset.py", "TemplateDataset", "CopiedDataset")}  # fmt: skip
    try:
        for target, (source, old, new) in copies.items():
            target.write_text((ROOT / source).read_text().replace(old, new))
        help_text = run("train.py", "--help").stdout
        assert "copied" in help_text  # the registries list the new names
        out = run("train.py", "--dataroot", shapes_root, "--model", "copied", "--dataset_mode", "copied", "--name", "copied",
                  "--checkpoints_dir", tmp_path, *TINY, *SIZE32, "--niter", "1", "--niter_decay", "0", "--display_id", "0",
                  "--print_freq", "2")  # fmt: skip
        assert "4 pairs" in out.stdout and "template_A:" in out.stdout
        assert (tmp_path / "copied" / "latest_net_G_A.pth").is_file()
    finally:
        for target in copies:
            target.unlink(missing_ok=True)

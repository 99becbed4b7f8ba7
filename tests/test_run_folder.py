"""The run folder (``models.run.Run``): its recorded options, the architecture rule worded once, and the guard that
keeps a new run from starting over an old one."""

from __future__ import annotations

import argparse
import json

import pytest

from instagan.models.run import ArchitectureMismatch, Run, architecture, as_flags
from instagan.util.cli import UserError


def recorded(tmp_path, **values) -> Run:
    run = Run(tmp_path / "run")
    run.folder.mkdir()
    run.options_file.write_text(json.dumps({"dataroot": "x", "lr": 0.0002, **values}))
    return run


def test_the_architecture_is_the_recorded_flags_that_fix_the_networks(tmp_path):
    run = recorded(tmp_path, ngf=8, n_blocks=2, no_dropout=True, model="insta_gan")
    assert run.architecture() == {"ngf": 8, "n_blocks": 2, "no_dropout": True, "model": "insta_gan"}
    assert run.options()["lr"] == 0.0002
    assert Run(tmp_path / "authors").options() == {} and Run(tmp_path / "authors").architecture() == {}
    opt = argparse.Namespace(ngf=16, lr=0.1, no_dropout=False)
    assert architecture(opt) == {"ngf": 16, "no_dropout": False}
    assert run.trained_with(opt) == "--ngf 8 --no_dropout"
    assert as_flags({"no_dropout": False, "ngf": 4}) == "--dropout --ngf 4"
    assert as_flags({"context_skip": True}) == "--context_skip" and as_flags({"context_skip": False}) == "no --context_skip"


def test_a_differing_architecture_flag_is_one_error_naming_both_values(tmp_path):
    run = recorded(tmp_path, ngf=8, n_blocks=2)
    run.check({"ngf": 8, "lr": 1.0})  # same architecture: other options may differ
    run.check({})  # nothing given: the run's values are used
    with pytest.raises(ArchitectureMismatch) as err:
        run.check({"ngf": 16, "n_blocks": 2})
    assert str(err.value) == (f"--ngf 16 differs from the run's {run.options_file} (--ngf 8): drop the flag, the run's "
                              "value is used")  # fmt: skip
    assert isinstance(err.value, ValueError) and isinstance(err.value, UserError)  # the API's and the CLI's error
    assert err.value.given == {"ngf": 16} and err.value.saved == {"ngf": 8}


@pytest.mark.parametrize("content, says", [("[1, 2]", "holds a JSON list"), ("{", "cannot be read")])
def test_a_damaged_options_file_is_named(tmp_path, content, says):
    run = Run(tmp_path / "run")
    run.folder.mkdir()
    run.options_file.write_text(content)
    with pytest.raises(UserError, match=says) as err:
        run.architecture()
    assert str(run.options_file) in str(err.value)
    assert run.trained_with(argparse.Namespace(ngf=4)) == ""  # a hint, not a second error


def test_a_new_run_never_starts_over_an_old_one_unless_asked(tmp_path):
    run = recorded(tmp_path, ngf=8)
    (run.folder / "latest_net_G_A.pth").write_bytes(b"weights")
    (run.folder / "notes.txt").write_text("mine")
    assert run.files() == ["latest_net_G_A.pth", "train_opt.json"]
    with pytest.raises(UserError, match="already holds a run .*--overwrite to replace it"):
        run.prepare(resume=False, overwrite=False)
    run.prepare(resume=True, overwrite=False)  # resuming keeps it
    assert run.files() == ["latest_net_G_A.pth", "train_opt.json"]
    run.prepare(resume=False, overwrite=True)
    assert run.files() == [] and (run.folder / "notes.txt").read_text() == "mine"  # only the run's own files go


def test_one_training_run_at_a_time(tmp_path):
    run = Run(tmp_path / "run")
    lock = run.lock()
    try:
        with pytest.raises(UserError, match="is in use by process .*choose another --name"):
            Run(tmp_path / "run").lock()
    finally:
        lock.release()
    Run(tmp_path / "run").lock().release()

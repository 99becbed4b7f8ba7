"""What ``--help`` says is what the commands do: every ``(default: X)`` it prints is the value a flag takes when it
is not given, and a broken torch / torchvision pair ends in one line that says how to fix it."""

import argparse
import math
import runpy
import subprocess
import sys
from fractions import Fraction

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import flags_reference  # noqa: E402

ON = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}


class _Help(BaseException):
    """Raised instead of printing --help, carrying the parser (not an Exception: the commands' handlers let it by)."""


def parser_of(command: list[str], monkeypatch) -> argparse.ArgumentParser:
    """The parser that ``command --help`` prints, as the command builds it (the model's and the data set's flags in)."""
    script = ROOT / command[0]

    def capture(self, file=None):
        raise _Help(self)

    with monkeypatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "print_help", capture)
        patch.setattr(sys, "argv", [str(script), *command[1:], "--help"])
        patch.setenv("COLUMNS", "110")
        with pytest.raises(_Help) as caught:
            runpy.run_path(str(script), run_name="__main__")
    return caught.value.args[0]


def printed_defaults(text: str) -> list[str]:
    """Each X of ``(default: X)`` in a flag's help, X up to the parenthesis that closes it."""
    found, start = [], 0
    while (start := text.find("(default: ", start)) >= 0:
        depth, end = 1, start + len("(default: ")
        while end < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        found.append(text[start + len("(default: ") : end - 1])
        start = end
    return found


def without_required(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``argv`` parsed as the command parses it, its required flags let off (they have no default to check)."""
    actions = [a for a in parser._actions if a.required] + list(parser._mutually_exclusive_groups)
    for item in actions:
        item.required = False
    try:
        return parser.parse_args(argv)
    finally:
        for item in actions:
            item.required = True


def same(printed: str, value, action: argparse.Action) -> bool:
    """Whether ``printed`` states ``value``: as Python prints it, as the command line writes it, or as numbers
    (fractions included: ``1/8 and 1/3``)."""
    if printed in (str(value), repr(value)):
        return True
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    words = printed.replace(" and ", " ").replace(",", " ").split()
    if action.type is not None:
        try:
            if [action.type(w) for w in words] == values:
                return True
        except (TypeError, ValueError):
            pass
    try:
        numbers = [float(Fraction(w)) for w in words]
    except (ValueError, ZeroDivisionError):
        return False
    return len(numbers) == len(values) and all(
        isinstance(v, (int, float)) and math.isclose(n, v, rel_tol=1e-9) for n, v in zip(numbers, values)
    )


@pytest.mark.parametrize("command", [c for c, _ in flags_reference.COMMANDS], ids=" ".join)
def test_every_printed_default_is_the_real_one(command, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no run under ./checkpoints lends test.py its saved options
    parser = parser_of(command, monkeypatch)
    shown = "".join(parser.format_help().split())  # without spaces: lines wrap after hyphens too
    formatter = parser._get_formatter()
    given = set(command[1:])
    real = without_required(parser, command[1:])
    checked, wrong = 0, []
    for action in parser._actions:
        if not action.option_strings or not action.help or action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)) or given & set(action.option_strings):
            continue
        text = " ".join(formatter._expand_help(action).split())
        assert "".join(text.split()) in shown, f"{action.option_strings}: {text!r} is not what --help prints"
        for printed in printed_defaults(text):
            value = getattr(real, action.dest)
            if action.nargs == 0:  # a switch: on by default when giving it changes nothing
                switched = without_required(parser, [*command[1:], action.option_strings[0]])
                value = getattr(switched, action.dest) == value
                ok = ON.get(printed.lower()) == value
            elif value is None:  # the help says what takes its place (another flag, a file's value)
                continue
            else:
                ok = same(printed, value, action)
            checked += 1
            if not ok:
                wrong.append(f"{'/'.join(action.option_strings)} prints (default: {printed}), but it is {value!r}")
    assert not wrong, wrong
    if command[0] in ("train.py", "test.py") or command[0].startswith("datasets/"):
        assert checked, "no (default: X) found: the help formatter prints none?"


def test_dropout_is_off_by_default_and_says_so(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    parser = parser_of(["train.py"], monkeypatch)
    text = " ".join(parser.format_help().split())
    assert "--dropout dropout in the generator's residual blocks (default: False)" in text
    assert "--no_dropout no dropout in the generator (default: True)" in text
    assert without_required(parser, []).no_dropout is True


def test_a_torchvision_that_does_not_match_torch_ends_in_one_line(tmp_path):
    # what importing a torchvision built for another torch raises (its C++ operators fail to register)
    fake = tmp_path / "torchvision"
    fake.mkdir()
    (fake / "__init__.py").write_text('raise RuntimeError("operator torchvision::nms does not exist")\n')
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "--help"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "do not match" in lines[0] and "pip install torch torchvision --force-reinstall" in lines[0], lines[0]


def test_evaluate_says_why_fid_was_skipped(monkeypatch, tmp_path):
    from instagan.evaluation import report as evaluation
    from instagan.evaluation.scoring import RealCrops

    real = RealCrops(tmp_path, "test")
    report = evaluation.Report("results", str(tmp_path), "test", "shapes", {}, "", False,
                               directions={"A->B": {"images": 1}, "B->A": {"images": 5}})  # fmt: skip
    (line,) = evaluation.fid_skipped(evaluation.Settings(fid="none"), None, report, real)
    assert "skipped: --fid none" in line and "--fid auto" in line
    monkeypatch.setattr(evaluation.importlib.util, "find_spec", lambda name: None)
    (line,) = evaluation.fid_skipped(evaluation.Settings(fid="auto"), None, report, real)
    assert "torch-fidelity is not installed" in line and "pip install torch-fidelity" in line
    lines = evaluation.fid_skipped(evaluation.Settings(fid="auto"), tmp_path / "weights.pth", report, real)
    assert lines[0].startswith("FID/KID with Inception skipped for A->B: only 1 translated image")
    assert lines[1] == f"FID/KID with Inception skipped for B->A: it needs 2 or more real images of A in {tmp_path / 'testA'}"


def test_no_visdom_says_so_once_in_one_line(capsys):
    from instagan.reporting.training_log import _visdom_client

    opt = argparse.Namespace(display_id=1, display_server="http://localhost", display_port=1, display_env="main")
    assert _visdom_client(opt) is None
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("no live display: ") and "--display_id 0 silences this" in lines[0]
    assert _visdom_client(argparse.Namespace(display_id=0)) is None
    assert capsys.readouterr().err == ""

"""The docs cannot drift from the code: every flag they name exists, every command in the README parses, and
docs/flags.md lists what the commands' --help says."""

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import flags_reference  # noqa: E402

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# flags of other programs that the docs show in commands: torchrun's and pip's
EXTERNAL = {"--nproc_per_node", "--nnodes", "--node_rank", "--rdzv_backend", "--rdzv_endpoint", "--standalone",
            "--index-url", "--no-build-isolation"}  # fmt: skip
WRONG_ON_PURPOSE = {"--lambda_c"}  # docs/qa.md shows that an abbreviation is refused
FLAG = re.compile(r"(?<![\w-])--[a-zA-Z][\w-]*")


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    return {" ".join(command): flags_reference.help_text(command) for command, _ in flags_reference.COMMANDS}


def test_every_flag_the_docs_name_exists(helps):
    known = {flag for text in helps.values() for flag in FLAG.findall(text)} | EXTERNAL | WRONG_ON_PURPOSE
    unknown = {f"{doc.name}: {flag}" for doc in DOCS for flag in FLAG.findall(doc.read_text()) if flag not in known}
    assert not unknown, sorted(unknown)


def test_the_flag_reference_lists_every_flag_of_every_command(helps):
    # the same flags as --help prints now, command by command (the wording of --help may differ between Pythons)
    sections = (ROOT / "docs" / "flags.md").read_text().split("\n## ")[1:]
    assert len(sections) == len(helps), "run python scripts/flags_reference.py"
    for section, (command, text) in zip(sections, helps.items()):
        assert f"`python {command} --help`" in section, "run python scripts/flags_reference.py"
        assert set(FLAG.findall(section)) == set(FLAG.findall(text)), f"{command}: run python scripts/flags_reference.py"


def readme_commands() -> list[list[str]]:
    """The shell commands of README.md's bash blocks, continuation lines joined, comments and env assignments off."""
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words = words[1:]
            for part in " ".join(map(shlex.quote, words)).split(" && "):
                if part.strip():
                    commands.append(shlex.split(part))
    return commands


class _Parsed(Exception):
    pass


def parse_only(script: str, args: list[str], monkeypatch) -> None:
    """Parse ``args`` as ``script`` would, without running it: the options of train.py and test.py in full, the other
    commands' argparse parsers (a --help-level dry run)."""
    if script in ("train.py", "test.py"):
        from instagan.options.test_options import TestOptions
        from instagan.options.train_options import TrainOptions

        (TrainOptions if script == "train.py" else TestOptions)().parse(args)
        return
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, argv=None, namespace=None):
        original(self, argv, namespace)
        raise _Parsed

    path = ROOT / script
    module = {"__name__": "readme_command", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), module)
    with monkeypatch.context() as patch, pytest.raises(_Parsed):
        patch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
        module["main"](args)


def test_every_command_in_the_readme_parses(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # checkpoints/ and results/ of the commands do not exist here
    checked = []
    for words in readme_commands():
        if words[0] == "bash":  # a script of the project: it exists, and its python command parses with the extra flags
            script = ROOT / words[1]
            assert script.is_file(), words
            subprocess.run(["bash", "-n", str(script)], check=True)
            inner = re.search(r"python3? (\S+\.py)(.*)", script.read_text().replace("\\\n", " "))
            if inner and words[2:]:
                body = re.sub(r'"\$\{\w+:-([^}]*)\}"', r"\1", inner.group(2)).replace('"$@"', "")
                parse_only(inner.group(1), [*shlex.split(body), *words[2:]], monkeypatch)
            checked.append(words[1])
        elif words[0] in ("python", "python3", "torchrun"):
            i = next(i for i, w in enumerate(words) if w.endswith(".py") or w == "-m")
            if words[i] == "-m":  # python -m pytest, python -m venv, ...
                continue
            parse_only(words[i], words[i + 1 :], monkeypatch)
            checked.append(words[i])
    assert {"train.py", "test.py", "translate.py", "evaluate.py", "scripts/demo_shapes.sh"} <= set(checked)


def test_the_readme_python_example_imports():
    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    imports = "\n".join(line for line in code.splitlines() if line.startswith(("from ", "import ")))
    exec(imports, {})
    assert Path(ROOT / "README.md").read_text().count("\n") < 160  # the front page stays short

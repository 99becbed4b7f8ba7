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
# flags of other programs that the docs show in commands: torchrun's, pip's, git's and pytest's
EXTERNAL = {"--nproc_per_node", "--nnodes", "--node_rank", "--rdzv_backend", "--rdzv_endpoint", "--standalone",
            "--index-url", "--no-build-isolation", "--depth", "--durations"}  # fmt: skip
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


# --- pointers, links, words and numbers -------------------------------------------------------------------------------

# what a user reads: the pages, the files that point into them, and every command's --help (docs/flags.md holds it)
READ = [*DOCS, ROOT / "requirements.txt", ROOT / "setup.py", ROOT / "CITATION.cff", ROOT / "LICENSE",
        *sorted((ROOT / "scripts").glob("*.sh"))]  # fmt: skip
CODE = sorted(p for folder in ("models", "data", "options", "util", "evaluation", "reporting", "scripts", "datasets")
              for p in (ROOT / folder).rglob("*.py")) + sorted(ROOT.glob("*.py"))  # fmt: skip


def titles(page: Path) -> list[str]:
    """The headings of a page and the bold lead-ins of its paragraphs (docs/qa.md's questions), without markup."""
    text = page.read_text()
    found = [h.strip() for h in re.findall(r"^#+ (.+)$", text, re.M)]
    found += [b.strip().rstrip(".?") for b in re.findall(r"^\*\*(.+?)\*\*", text, re.M)]
    return [re.sub(r"[`*]", "", t) for t in found]


def anchor(title: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation out, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


POINTER = re.compile(r"(README|docs/\w+\.md)(?::|,) \"?([A-Z][^\"\n)]*)")


def broken_pointers(text: str) -> list[str]:
    """Every "README: Heading", "docs/x.md: Heading" or 'docs/x.md, "Heading"' in ``text`` whose heading (or bold
    lead-in) does not exist; a pointer may run on into its sentence, so a title it starts with is enough."""
    broken = []
    for page, words in POINTER.findall(text):
        path = ROOT / ("README.md" if page == "README" else page)
        words = words.strip()
        if not path.is_file() or not any(words.startswith(t) or t.startswith(words) for t in titles(path) if t):
            broken.append(f"{page}: {words}")
    return broken


def test_every_pointer_to_a_section_resolves():
    broken = {f"{p.relative_to(ROOT)}: {b}" for p in READ + CODE for b in broken_pointers(p.read_text())}
    assert not broken, sorted(broken)
    assert broken_pointers("see README: Display") == ["README: Display"]  # the check itself finds a missing heading


LINK = re.compile(r"\]\(([^)\s]+)\)")


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, fragment = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if not path.exists():
            broken.append(target)
        elif fragment and path.suffix == ".md" and fragment not in {anchor(t) for t in titles(path)}:
            broken.append(target)
    return broken


def test_every_relative_link_resolves():
    broken = {f"{page.relative_to(ROOT)}: {link}" for page in DOCS for link in broken_links(page)}
    assert not broken, sorted(broken)


# words about how the project was made, not about the software (its history belongs in commit messages)
MAKING = ["the issue", "our session", "this session", "this tree", "see the git history", "an earlier version",
          "the recipe before", "how the demo got there", "the newest speed", "newest options", "they used to",
          "placeholder", "before the trainer", "todo", "fixme"]  # fmt: skip
REVISION = re.compile(r"\brevision [0-9a-f]{7,40}\b")


def test_no_words_about_how_the_project_was_made():
    found = {f"{p.relative_to(ROOT)}: {w}" for p in READ for w in MAKING if w in p.read_text().lower()}
    found |= {f"{p.relative_to(ROOT)}: {m}" for p in READ for m in REVISION.findall(p.read_text())}
    assert not found, sorted(found)


# A measured number a user reads outside the two pages of measurements must be quoted from them: the same number
# with the same unit appears in docs/benchmarks.md or docs/speed.md, where the script that measured it wrote it.
SOURCES = [ROOT / "docs" / "benchmarks.md", ROOT / "docs" / "speed.md"]
QUOTING = [ROOT / "README.md", *(ROOT / "docs" / f"{name}.md" for name in ("overview", "qa", "tips", "datasets"))]
MEASURED = re.compile(r"(?<![\w.,])(\d[\d,]*(?:\.\d+)?(?: to \d[\d,]*(?:\.\d+)?)?) ?"
                      r"(x|%|minutes|min|hours|s|ms|MiB|GiB|GB|MB|dB|batches/s|images/s)(?![\w/])"
                      r"|\b\d+ of \d+\b")  # a count of seeds or runs: "4 of 6"  # fmt: skip
NOT_MEASURED = {"95 %": "the level of every interval", "5 GB": "the size of torch's CUDA wheels",
                "19 GB": "the size of COCO 2017's download", "10 s": "how often a progress line is written to a file",
                "50 %": "a ratio named in a rule"}  # fmt: skip


def unquoted(text: str, sources: str) -> list[str]:
    """The measured numbers of ``text`` (with their units) that ``sources`` does not hold."""
    flat = " ".join(sources.split())
    found = [" ".join(m.group(0).split()) for m in MEASURED.finditer(" ".join(text.split()))]
    return [q for q in found if q not in NOT_MEASURED and q not in flat and q.replace(" ", "") not in flat]


def test_every_number_quoted_outside_the_measurements_is_in_them():
    sources = "\n".join(p.read_text() for p in SOURCES)
    stale = {f"{p.relative_to(ROOT)}: {q}" for p in QUOTING for q in unquoted(p.read_text(), sources)}
    assert not stale, sorted(stale)


def test_a_planted_stale_number_is_caught():
    sources = "\n".join(p.read_text() for p in SOURCES)
    readme = (ROOT / "README.md").read_text()
    quoted = re.search(r"\d+\.\d+ to \d+\.\d+ minutes", readme)
    assert quoted and not unquoted(quoted.group(0), sources)
    low = quoted.group(0).split()[0]
    planted = readme.replace(quoted.group(0), quoted.group(0).replace(low, f"{float(low) - 0.1:.1f}", 1))
    assert unquoted(planted, sources) == [quoted.group(0).replace(low, f"{float(low) - 0.1:.1f}", 1)]
    assert unquoted("trains 1.4x faster", sources) == []  # a quoted speed-up (docs/speed.md's bf16 row)...
    assert unquoted("trains 1.7x faster", sources) == ["1.7x"]  # ... and one that no table says


def test_the_citation_names_the_version_the_package_has():
    version = re.search(r'version="([^"]+)"', (ROOT / "setup.py").read_text()).group(1)
    assert f'version: "{version}"' in (ROOT / "CITATION.cff").read_text()

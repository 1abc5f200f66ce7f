"""The documentation names only what exists: every `ecgnet COMMAND` and every `--option` that
README.md and docs/*.md name (checked against each command's own `--help`, however the command
line is built), every `python -m MODULE` and repository path, every relative link and its
anchor; and the code layout table of docs/development.md lists every module of the package."""

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from helpers import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LAYOUT_PAGE = ROOT / "docs" / "development.md"
SCRIPTS = {"train_model.py": "train", "driver.py": "drive", "evaluate_model.py": "evaluate"}
# Programs other than ecgnet that the pages show with their own options.
OTHER_PROGRAMS = {"docker", "torchrun", "pytest", "pip", "wget", "ruff", "sbatch", "find", "git", "apt-get"}
# Options of those programs named in prose, away from the program's name.
OTHER_OPTIONS = {
    "--gpus": "docker run",
    "--shm-size": "docker run",
    "--ipc": "docker run",
    "--user": "docker run",
    "--network": "docker run",
    "--build-arg": "docker build",
    "--nproc_per_node": "torchrun",
    "--sample-data": "pytest (tests/conftest.py)",
    "--array": "sbatch",
}
OPTION = re.compile(r"--[A-Za-z0-9][\w-]*")
# The script given to one Python process: the `--help` of each requested command (`ecgnet CMD`) or
# module (`python -m MODULE`), run exactly as `python -m` runs it, as {name: help text}.
HELP_SCRIPT = """
import contextlib, io, json, runpy, sys
texts = {}
for name in sys.argv[1:]:
    module, _, command = name.partition(" ")
    sys.argv = [module, *command.split(), "--help"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        except SystemExit:
            pass
    texts[name] = out.getvalue()
print(json.dumps(texts))
"""


def help_texts(names: tuple[str, ...]) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-c", HELP_SCRIPT, *names], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@cache
def commands() -> dict[str, set[str]]:
    """{command: its options}, from `python -m ecgnet --help` and each command's `--help`."""
    top = help_texts(("ecgnet",))["ecgnet"]
    listed = top[top.index("commands:") :]
    names = re.findall(r"^ {4}([a-z][a-z-]*)\b", listed, re.MULTILINE)
    assert {"train", "drive", "evaluate"} <= set(names), top
    texts = help_texts(tuple(f"ecgnet {name}" for name in names))
    options = {name: set(OPTION.findall(texts[f"ecgnet {name}"])) for name in names}
    options["(top)"] = set(OPTION.findall(top))  # `ecgnet --version`
    return options


def code_units(text: str) -> list[str]:
    """The code of a page: each line of a fenced block (continuation lines joined) and each
    inline code span."""
    units = []
    blocks = re.split(r"^```.*$", text, flags=re.MULTILINE)
    for k, part in enumerate(blocks):
        if k % 2:
            units += part.replace("\\\n", " ").splitlines()
        else:
            units += re.findall(r"`([^`\n]+)`", part.replace("\n", " "))
    return units


def mentions(text: str):
    """(owner, word) pairs of a page's code: owner is the ecgnet command (`train`, ...) a word
    follows, `python -m MODULE` for a module, "other" after another program, "" in a span that
    names no program; word is `--option`, or `ecgnet WORD` as ("ecgnet", WORD)."""
    for unit in code_units(text):
        owner = ""
        tokens = unit.replace("\\|", "|").split()
        for i, token in enumerate(tokens):
            word = token.strip("[]()'\",;.")
            following = tokens[i + 1].strip("[]()'\",;.`") if i + 1 < len(tokens) else ""
            if (word == "ecgnet" or word.endswith("/ecgnet")) and owner != "other":  # not an image name
                if re.fullmatch(r"[a-z][a-z-]*", following):
                    yield "ecgnet", following
                    owner = following
                elif following.startswith("-"):
                    owner = ""
            elif word == "-m" and following.startswith("ecgnet."):
                owner = f"python -m {following}"
                yield "module", following
            elif word.rsplit("/", 1)[-1] in SCRIPTS:
                owner = SCRIPTS[word.rsplit("/", 1)[-1]]
            elif word.rsplit("/", 1)[-1] in OTHER_PROGRAMS:
                owner = "other"
            elif word.startswith("--") and owner != "other":
                match = OPTION.match(word)
                if match:
                    yield owner, match.group(0)


def page_mentions():
    for page in PAGES:
        for owner, word in mentions(page.read_text()):
            yield page.relative_to(ROOT), owner, word


def test_every_ecgnet_command_the_pages_name_exists():
    known = commands()
    wrong = sorted({(str(p), w) for p, owner, w in page_mentions() if owner == "ecgnet" and w not in known})
    assert not wrong, f"commands named in the docs that `ecgnet --help` does not list: {wrong}"


def test_every_module_run_with_python_m_exists():
    named = {(str(p), w) for p, owner, w in page_mentions() if owner == "module"}
    assert any(w == "ecgnet.benchmarks.run" for _, w in named)
    missing = []
    for page, module in sorted(named):
        path = ROOT.joinpath(*module.split("."))
        if not (path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()):
            missing.append((page, module))
    assert not missing, f"`python -m` modules named in the docs that do not exist: {missing}"


def test_every_option_the_pages_name_is_an_option_of_its_command():
    known = commands()
    anywhere = set().union(*known.values())
    modules = sorted({owner for _, owner, w in page_mentions() if owner.startswith("python -m ")})
    module_options = {
        owner: set(OPTION.findall(text))
        for owner, text in help_texts(tuple(m.removeprefix("python -m ") for m in modules)).items()
    }
    wrong = []
    for page, owner, option in page_mentions():
        if owner in ("ecgnet", "module"):
            continue
        if owner.startswith("python -m "):
            found = option in module_options[owner.removeprefix("python -m ")]
        elif owner:
            found = option in known[owner]
        else:  # in a span of its own: an option of some command, or of a program listed above
            found = option in anywhere or option in OTHER_OPTIONS
        if not found:
            wrong.append((str(page), owner or "(any command)", option))
    assert not wrong, f"options named in the docs that the command's --help does not list: {sorted(set(wrong))}"


def test_the_option_check_finds_a_wrong_option():
    """The check above reads what a page says: a made-up option and a misplaced one are found."""
    text = "Run `ecgnet drive MODEL DATA OUT --no-such-option` or `ecgnet evaluate A B --label-overrides F`.\n"
    found = list(mentions(text))
    assert ("ecgnet", "drive") in found and ("drive", "--no-such-option") in found
    assert ("evaluate", "--label-overrides") in found
    assert "--no-such-option" not in commands()["drive"] and "--label-overrides" not in commands()["evaluate"]
    assert "--label-overrides" in commands()["train"]


REPOSITORY_PATH = re.compile(r"(?<![\w/.])((?:ecgnet|scripts|tests|configs|docs|\.ci)/[\w./-]*)")


def test_every_repository_path_the_pages_name_exists():
    missing = []
    for page in PAGES:
        for unit in code_units(page.read_text()):
            for path in REPOSITORY_PATH.findall(unit):
                path = path.rstrip(".")
                if not (ROOT / path).exists():
                    missing.append((str(page.relative_to(ROOT)), path))
    assert not missing, f"paths named in the docs that do not exist: {missing}"


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, all but letters, digits, `_`, `-` and spaces
    dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


def test_slugs_are_githubs():
    assert slug("int8 inference (`ecgnet quantize`)") == "int8-inference-ecgnet-quantize"
    assert slug("The Challenge's format") == "the-challenges-format"
    assert (
        slug("4. Agreement: `ecgnet agreement KIT ANSWERS.csv ...`") == "4-agreement-ecgnet-agreement-kit-answerscsv-"
    )
    assert slug("The MODEL folder") == "the-model-folder"


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.MULTILINE | re.DOTALL)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append((str(page.relative_to(ROOT)), target))
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                broken.append((str(page.relative_to(ROOT)), target))
    assert not broken, f"links that lead nowhere: {broken}"


def test_the_code_layout_lists_every_module_of_the_package():
    text = LAYOUT_PAGE.read_text()
    table = text[text.index("## Code layout") :]
    listed = set()
    for row in re.findall(r"^\|(.+?)\|", table, re.MULTILINE):
        listed |= set(re.findall(r"`([^`]+)`", row))
    modules = {
        str(path.relative_to(ROOT)) for path in (ROOT / "ecgnet").rglob("*.py") if "__pycache__" not in path.parts
    }
    assert len(modules) > 80
    missing = sorted(modules - listed)
    assert not missing, f"modules missing from the code layout table of {LAYOUT_PAGE.name}: {missing}"
    gone = sorted(p for p in listed if p.startswith("ecgnet/") and not (ROOT / p).exists())
    assert not gone, f"the code layout table lists files that do not exist: {gone}"


@pytest.mark.parametrize("page", [*PAGES, ROOT / "CHANGELOG.md"], ids=lambda p: p.name)
def test_no_internal_issue_numbers_or_machines_of_a_day(page):
    text = page.read_text()
    found = re.findall(r"\b[Ii]ssues? \d+\b|\(#\d+\)|\bthis session\b|\bthis machine\b", text)
    assert not found, f"{page.name} cites internal issues or a machine of its day: {found}"

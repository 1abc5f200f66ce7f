"""The `ecgnet` command line, the challenge scripts over it, and the package as installed.

- `ecgnet --help` lists every command; each command's --help works and shows its defaults;
- `python -m ecgnet`, the `ecgnet` console script and the top-level scripts are one program:
  the scripts' `main` is the CLI's function, their help is the same, and `driver.py` /
  `ecgnet drive` and `evaluate_model.py` / `ecgnet evaluate` write byte-identical files and
  exit with the same statuses;
- pyproject.toml pins what requirements*.txt pin, and a wheel built from the tree holds the
  package data and the console script, and works installed outside the checkout.
"""

import filecmp
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import driver
import evaluate_model
import train_model
from ecgnet import __version__, cli

from helpers import ROOT

COMMANDS = [
    "train",
    "drive",
    "quantize",
    "evaluate",
    "synth",
    "convert",
    "benchmark",
    "measure",
    "rules",
    "audit",
    "review-kit",
    "agreement",
    "relabel",
    "report",
    "compare",
]
SCRIPTS = {"driver.py": "drive", "train_model.py": "train", "evaluate_model.py": "evaluate"}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def run(*args, cwd=ROOT, env=None, timeout=300):
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def cli_output(capsys, *argv):
    """(exit status, stdout) of `ecgnet ARGV` run in-process."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(list(argv))
    return exit_.value.code, capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Help


def test_help_lists_every_command_with_one_line(capsys):
    status, out = cli_output(capsys, "--help")
    assert status == 0 and out.startswith("usage: ecgnet")
    for name in COMMANDS:
        assert any(line.split()[:1] == [name] for line in out.splitlines()), name
    assert set(cli.COMMANDS) == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_showing_defaults(capsys, command):
    status, out = cli_output(capsys, command, "--help")
    assert status == 0
    assert out.startswith(f"usage: ecgnet {command} ")
    assert "(default: " in out


def test_unknown_or_missing_command_is_a_usage_error(capsys):
    for argv in (["bogus"], []):
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        assert exit_.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_version(capsys):
    assert cli_output(capsys, "--version") == (0, f"ecgnet {__version__}\n")


def test_python_m_ecgnet_and_the_console_script_are_the_same_program():
    module = run(sys.executable, "-m", "ecgnet", "--help")
    assert module.returncode == 0 and "drive" in module.stdout
    script = Path(sys.executable).with_name("ecgnet")
    if not script.exists():
        pytest.skip(f"no console script at {script} (bash scripts/setup.sh installs the checkout)")
    console = run(script, "--help")
    assert (console.returncode, console.stdout) == (0, module.stdout)


def test_the_scripts_are_the_cli_functions():
    assert driver.main is cli.drive
    assert train_model.main is cli.train
    assert evaluate_model.main is cli.evaluate


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_scripts_have_the_commands_help(script):
    """`python driver.py --help` is `ecgnet drive --help` but for the program's name."""
    command = SCRIPTS[script]
    own = run(sys.executable, script, "--help")
    via_cli = run(sys.executable, "-m", "ecgnet", command, "--help")
    assert own.returncode == via_cli.returncode == 0
    assert own.stdout.startswith(f"usage: {script} ")
    # After the usage lines (wrapped by the name's length): description, arguments, epilog.
    assert own.stdout.split("\n\n", 1)[1] == via_cli.stdout.split("\n\n", 1)[1]


# ---------------------------------------------------------------------------------------------
# The scripts and the commands give the same results


def same_tree(a, b):
    """Both folders hold the same file names with byte-identical contents."""
    names = sorted(os.listdir(a))
    assert names == sorted(os.listdir(b)) and names
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert not mismatch and not errors, (mismatch, errors)


def test_driver_and_evaluate_scripts_equal_the_commands(tiny_model, tmp_path):
    model, data = tiny_model
    by_script = run(sys.executable, "driver.py", model, data, tmp_path / "out_script")
    by_cli = run(sys.executable, "-m", "ecgnet", "drive", model, data, tmp_path / "out_cli")
    assert by_script.returncode == by_cli.returncode == 0, by_script.stderr + by_cli.stderr
    same_tree(tmp_path / "out_script", tmp_path / "out_cli")

    evaluators = {"script": [sys.executable, "evaluate_model.py"], "cli": [sys.executable, "-m", "ecgnet", "evaluate"]}
    printed = {}
    for how, command in evaluators.items():
        folder = tmp_path / f"scores_{how}"
        folder.mkdir()
        files = [folder / "scores.csv", folder / "class_scores.csv", "--json", folder / "scores.json"]
        result = run(*command, data, tmp_path / "out_script", *files)
        assert result.returncode == 0, result.stderr
        printed[how] = run(*command, data, tmp_path / "out_script").stdout
    same_tree(tmp_path / "scores_script", tmp_path / "scores_cli")
    assert printed["script"] == printed["cli"] and printed["cli"].startswith("AUROC,")


@pytest.mark.parametrize(
    "script, args, status",
    [
        ("driver.py", ["{missing}", "{data}", "{out}"], 2),
        ("train_model.py", ["{missing}", "{out}"], 1),
        ("evaluate_model.py", ["{missing}", "{data}"], 1),
    ],
)
def test_scripts_and_commands_fail_alike(tmp_path, script, args, status):
    data = tmp_path / "data"
    data.mkdir()
    values = {"missing": tmp_path / "missing", "data": data, "out": tmp_path / "out"}
    argv = [a.format(**values) for a in args]
    by_script = run(sys.executable, script, *argv)
    by_cli = run(sys.executable, "-m", "ecgnet", SCRIPTS[script], *argv)
    assert by_script.returncode == by_cli.returncode == status
    assert by_script.stderr == by_cli.stderr and by_script.stderr.startswith("error: ")
    assert "Traceback" not in by_script.stderr


def test_synth_command_writes_what_the_library_writes(tmp_path):
    from ecgnet.synthetic import make_dataset

    a = run(sys.executable, "-m", "ecgnet", "synth", tmp_path / "a", "3", "--seed", "4", "--rate", "250")
    assert a.returncode == 0, a.stderr
    make_dataset(tmp_path / "b", 3, seed=4, fs=250)
    same_tree(tmp_path / "a", tmp_path / "b")


# ---------------------------------------------------------------------------------------------
# Packaging


def pins(path):
    """{name: 'name==version'} of a requirements file."""
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / path).read_text().splitlines())
    return {line.split("==")[0].lower(): line for line in lines if line}


def test_pyproject_pins_what_the_requirements_files_pin():
    project = PYPROJECT["project"]
    assert project["version"] == __version__
    assert sorted(project["dependencies"]) == sorted(pins("requirements.txt").values())
    assert sorted(project["optional-dependencies"]["dev"]) == sorted(pins("requirements-dev.txt").values())
    assert sorted(project["optional-dependencies"]["review"]) == sorted(pins("requirements-review.txt").values())
    assert all("==" in p for extra in project["optional-dependencies"].values() for p in extra)
    assert project["scripts"] == {"ecgnet": "ecgnet.cli:main"}


def test_benchmark_training_budget_is_configs_sample_budget():
    from ecgnet.benchmarks.run import SAMPLE_BUDGET
    from ecgnet.config import load_config_file, parse_overrides

    overrides = [SAMPLE_BUDGET[i + 1] for i in range(0, len(SAMPLE_BUDGET), 2)]
    assert parse_overrides(overrides) == load_config_file(str(ROOT / "configs" / "sample-budget.json"))


def test_no_sys_path_insert_anywhere():
    """Everything imports as a package (issue 11): no module edits sys.path."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in (".venv", "build", ".git") or parts[0].startswith(".") or path.name == "test_cli.py":
            continue
        if "sys.path.insert" in path.read_text(errors="replace"):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders


def copy_tree(target):
    """The files of the checkout a commit would hold (no .venv, caches or build output)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_wheel_holds_the_package_and_works_installed(tmp_path):
    """Build a wheel (no network, no isolated build), install it outside the checkout and run it."""
    source = copy_tree(tmp_path / "src")
    wheels = tmp_path / "wheels"
    built = run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--quiet",
        "-w",
        wheels,
        source,
        cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("ecgnet-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(f"ecgnet-{__version__}.dist-info/entry_points.txt").decode()
    for name in ("weights.csv", "dx_mapping_scored.csv", "dx_mapping_unscored.csv", "ptbxl_mapping.csv", "README.md"):
        assert f"ecgnet/data/{name}" in names
    assert {"ecgnet/cli/__init__.py", "ecgnet/__main__.py", "ecgnet/benchmarks/run.py"} <= names
    assert not any(n.startswith(("tests/", "driver.py", "benchmarks/")) for n in names)
    assert "ecgnet = ecgnet.cli:main" in entry_points

    target = tmp_path / "installed"
    installed = run(
        sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", target, wheel, cwd=tmp_path
    )
    assert installed.returncode == 0, installed.stderr
    shutil.rmtree(source)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    helped = run(target / "bin" / "ecgnet", "--help", cwd=elsewhere, env=env)
    assert helped.returncode == 0 and "benchmark" in helped.stdout, helped.stderr
    probe = "import ecgnet, ecgnet.labels as l; print(ecgnet.__file__); print(len(l.CLASSES))"
    used = run(sys.executable, "-c", probe, cwd=elsewhere, env=env)
    assert used.returncode == 0, used.stderr
    where, classes = used.stdout.split()
    assert Path(where).is_relative_to(target) and classes == "24"

"""The speed benchmarks' machinery (never their timings): the authors' code run as whole
processes (with a stand-in for it), the comparison's results, and the driver profile's stages."""

import json
import os
import stat
import sys
import threading
import time

import pytest

from ecgnet.benchmarks import anchor, profile
from ecgnet.benchmarks.run import driver_process
from ecgnet.benchmarks.tools import add_int8_weights, make_model
from ecgnet.config import Config

import helpers
from helpers import link_records, sample_names

pytestmark = helpers.needs_sample

# A stand-in for the authors' code: their make_anchor.sh contract (OUT PYTHON; their driver run
# from OUT as `driver.py model_in DATA OUTPUTS`), writing one output file per .mat.
FAKE_MAKE = """#!/usr/bin/env bash
set -eu
here=$(cd "$(dirname "$0")" && pwd); out=$1; py=$2
rm -rf "$out"; mkdir -p "$out/model_in"; cp "$here/driver.py" "$out/"
"$py" -c "print('ready')"
"""
FAKE_DRIVER = """import os, sys
model, data, outputs = sys.argv[1:]
assert os.path.isdir(model), "runs from its own folder"
os.makedirs(outputs, exist_ok=True)
for f in os.listdir(data):
    if f.endswith(".mat"):
        open(os.path.join(outputs, f[:-4] + ".csv"), "w").write("#" + f[:-4] + "\\n")
"""


SMALL = Config().replace(width=8, blocks=(1, 1), se_reduction=4, folds=2)


@pytest.fixture
def fake_anchor(tmp_path):
    source = tmp_path / "authors_anchor"
    source.mkdir()
    (source / "make_anchor.sh").write_text(FAKE_MAKE)
    (source / "make_anchor.sh").chmod(stat.S_IRWXU)
    (source / "driver.py").write_text(FAKE_DRIVER)
    return str(source)


@pytest.fixture(scope="module")
def bench_model(tmp_path_factory):
    """(untrained tiny 2-fold model of the default kind (measurements, rule decisions) with int8
    weights, folder of 4 sample records)."""
    root = tmp_path_factory.mktemp("bench")
    data = link_records(helpers.SAMPLE, root / "data", sample_names(per_prefix=1)[:4])
    model = add_int8_weights(make_model(str(root / "model"), SMALL, folds=2), data, count=4)
    return model, data


def test_anchor_is_prepared_and_run_as_a_whole_process_in_its_folder(fake_anchor, bench_model, tmp_path):
    folder = anchor.prepare(fake_anchor, str(tmp_path / "made"))
    assert sorted(os.listdir(folder)) == ["driver.py", "model_in"]
    seconds, mib = anchor.drive(folder, bench_model[1], str(tmp_path / "out"))
    assert seconds > 0 and mib > 1
    assert sorted(os.listdir(tmp_path / "out")) == sorted(n + ".csv" for n in sample_names(per_prefix=1)[:4])


def test_a_failing_anchor_script_is_reported(tmp_path):
    source = tmp_path / "broken"
    source.mkdir()
    (source / "make_anchor.sh").write_text("echo cannot >&2; exit 3\n")
    with pytest.raises(RuntimeError, match=r"make_anchor.sh failed:\s+cannot"):
        anchor.prepare(str(source), str(tmp_path / "made"))


def test_python_problem_names_the_missing_modules(monkeypatch):
    monkeypatch.setattr(anchor, "MODULES", ("json", "no_such_module_for_ecgnet"))
    problem = anchor.python_problem(sys.executable)
    assert "lacks no_such_module_for_ecgnet (" in problem
    monkeypatch.setattr(anchor, "MODULES", ("json",))
    assert anchor.python_problem(sys.executable) is None


def test_driver_process_compares_each_precision_with_the_anchor(fake_anchor, bench_model, tmp_path):
    model, data = bench_model
    folder = anchor.prepare(fake_anchor, str(tmp_path / "made"))
    lines = []
    result = driver_process(model, data, ["fp32", "int8"], lines.append, folder, sys.executable, rounds=2)
    assert result["authors"]["records"] == 4 and len(result["authors"]["rounds"]) == 2
    for precision in ("fp32", "int8"):
        run = result[precision]
        assert run["records"] == 4 and run["precision"] == precision
        assert run["seconds"] == min(result["rounds"][precision])
        assert run["speedup"] == pytest.approx(result["authors"]["seconds"] / run["seconds"])
        assert run["speedup_vs_rebuilt_loop"] == pytest.approx(result["rebuilt_loop"]["seconds"] / run["seconds"])
    assert [line.split(":")[0].strip() for line in lines[:6]] == ["round 1"] + [
        "driver.py on 4 records (round 1, fp32)",
        "driver.py on 4 records (round 1, int8)",
        "round 2",
        "driver.py on 4 records (round 2, fp32)",
        "driver.py on 4 records (round 2, int8)",
    ]
    assert "against the authors' code" in lines[6] and "secondary reference" in lines[-1]


def test_driver_process_without_the_anchor_keeps_the_rebuilt_loop(bench_model):
    lines = []
    result = driver_process(*bench_model, ["fp32"], lines.append, None, rounds=1)
    assert "authors" not in result and result["rebuilt_loop"]["seconds"] > 0
    assert "absent" in lines[1]


def busy(seconds):
    """Use `seconds` of this thread's CPU time."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_timers_count_each_stages_cpu_time_without_the_stages_inside_it():
    timers = profile.Timers()

    def inner():
        busy(0.05)

    def outer():
        busy(0.02)
        wrapped_inner()

    wrapped_inner = timers.wrap("resampling", inner)
    timers.wrap("header reading", outer)()
    items = timers.wrap_iterator("listing", lambda: iter([wrapped_inner, wrapped_inner]))
    for item in items():
        item()
    timers.wrap("views", time.sleep)(0.2)  # waiting is no CPU time
    assert timers.seconds["resampling"] >= 0.15
    assert 0.02 <= timers.seconds["header reading"] < 0.05
    assert timers.seconds["listing"] < 0.05 and timers.seconds["views"] < 0.05
    assert set(timers.seconds) == set(profile.STAGE_NAMES)


def test_timers_in_other_threads_count_apart():
    """A stage timed in a worker thread while the main thread's timer runs: each counts its own
    thread's time; the main thread's stage does not lose the worker's."""
    timers = profile.Timers()
    worker = threading.Thread(target=timers.wrap("measurements", busy), args=(0.1,))

    def main_stage():
        worker.start()
        busy(0.05)
        worker.join()

    timers.wrap("batching", main_stage)()
    assert timers.seconds["measurements"] >= 0.1
    assert 0.05 <= timers.seconds["batching"] < 0.1


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_profile_covers_the_whole_process_in_its_stages(bench_model, precision):
    run = profile.profile_process(*bench_model, precision)
    stages = run["stages"]
    assert set(stages) == set(profile.STAGE_NAMES)
    assert run["records"] == 4 and min(stages.values()) >= 0
    assert sum(stages.values()) == pytest.approx(run["cpu_s"])
    assert stages["interpreter start-up and exit"] < run["wall_s"]
    for stage in ("imports", "model load", "signal reading", "resampling", "measurements"):
        assert stages[stage] > 0, stage
    assert stages["network: block convolutions"] > 0 and stages["network: stem stage"] > 0
    text = profile.table([run, run])
    assert all(f"| {name} | " in text for name in profile.STAGE_NAMES)
    assert text.splitlines()[0] == f"| stage | {precision} CPU s | share | {precision} CPU s | share |"
    assert "cores busy" in text
    json.dumps(run)  # what --json writes

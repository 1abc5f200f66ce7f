"""Fixtures, command-line options and the summary of skipped tests; shared helpers and constants
live in helpers.py.

`--sample-data DIR` (default: $ECGNET_SAMPLE_DATA, else ../shared/data/cinc2020_sample next to
the repository) says where the whole 214-record sample is; only the whole-sample checks need it.
Every run ends with a line per reason tests were skipped for, so that a run without the sample
(or without an optional tool) is never taken for a full one.
"""

import shutil
from collections import Counter
from pathlib import Path

import pytest

import helpers
from helpers import RECORDS, TINY, link_records, sample_names


def pytest_addoption(parser):
    parser.addoption(
        "--sample-data",
        metavar="DIR",
        default=None,
        help=f"folder of the 214 CinC 2020 sample records for the whole-sample checks "
        f"(default: ${helpers.SAMPLE_ENV}, else {helpers.DEFAULT_SAMPLE})",
    )


def pytest_configure(config):
    # Runs before any test module is imported, so their `from helpers import SAMPLE` see it.
    folder = config.getoption("sample_data")
    if folder:
        helpers.set_sample(Path(config.invocation_params.dir) / Path(folder).expanduser())


def pytest_report_header(config):
    found = "found" if helpers.SAMPLE.is_dir() else "absent: the whole-sample checks are skipped"
    return f"ecgnet: committed test records {RECORDS}; whole sample {helpers.SAMPLE} ({found})"


def pytest_terminal_summary(terminalreporter):
    """One line per reason for skipping, with the number of tests it skipped."""
    reasons = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if not reasons:
        return
    terminalreporter.section("skipped tests, by reason")
    for reason, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0])):
        terminalreporter.write_line(f"{count:4d} skipped: {reason}")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """(model folder, training data folder) of a model of configs/tiny.json trained on the
    committed Challenge records, with its report written as `ecgnet train` writes it."""
    from ecgnet.report import write_training_report
    from ecgnet.training import train

    root = tmp_path_factory.mktemp("tiny")
    data = link_records(RECORDS, root / "train", sample_names())
    model = root / "model"
    train(data, str(model), config=TINY, jobs=1)
    write_training_report(model, data)  # as `ecgnet train` does after training
    return str(model), data


@pytest.fixture
def copy_model(tiny_model, tmp_path):
    """A private copy of the tiny model folder that a test may damage."""
    target = tmp_path / "model"
    shutil.copytree(tiny_model[0], target)
    return target

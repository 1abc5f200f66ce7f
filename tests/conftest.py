"""Fixtures and command-line options; shared helpers and constants live in helpers.py.

`--sample-data DIR` (default: $ECGNET_SAMPLE_DATA, else ../shared/data/cinc2020_sample next to
the repository) says where the 214 sample records are; tests that need them are skipped when
the folder is absent.
"""

import shutil
from pathlib import Path

import pytest

import helpers
from helpers import TINY, link_records, sample_names


def pytest_addoption(parser):
    parser.addoption(
        "--sample-data",
        metavar="DIR",
        default=None,
        help=f"folder of the CinC 2020 sample records (default: ${helpers.SAMPLE_ENV}, else {helpers.DEFAULT_SAMPLE})",
    )


def pytest_configure(config):
    # Runs before any test module is imported, so their `from helpers import SAMPLE` see it.
    folder = config.getoption("sample_data")
    if folder:
        helpers.set_sample(Path(config.invocation_params.dir) / Path(folder).expanduser())


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """(model folder, training data folder) of a tiny model trained on 30 sample records."""
    if not helpers.SAMPLE.is_dir():
        pytest.skip(f"sample records not found at {helpers.SAMPLE}")
    from ecgnet.report import write_training_report
    from ecgnet.training import train

    root = tmp_path_factory.mktemp("tiny")
    data = link_records(helpers.SAMPLE, root / "train", sample_names())
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

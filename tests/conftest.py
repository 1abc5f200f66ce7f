"""Shared fixtures: paths to the shared sample data, a tiny config, and a tiny trained model."""
import os
import shutil
from pathlib import Path

import pytest

from ecgnet.config import Config

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLE = SHARED / "data" / "cinc2020_sample"
OFFICIAL = SHARED / "data" / "challenge2020"

needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason="../shared/data/cinc2020_sample is not present")

# A network small enough to train in seconds on a CPU, every code path of the full one kept.
TINY = Config(width=8, blocks=(1, 1), se_reduction=4, folds=2, epochs=2, lr_milestones=(1,),
              batch_size=16, window=1024, overlap=128)


def cli_settings(config):
    """`train_model.py` arguments that give `config`: a `--set` for every non-default field."""
    args = ["--jobs", "1"]
    for name, value in config.to_dict().items():
        if value != Config().to_dict()[name]:
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value).lower() if isinstance(value, bool) else str(value)
            args += ["--set", f"{name}={text}"]
    return args


def link_records(source, target, names):
    """Symlink NAME.hea/.mat of `names` from `source` into `target`."""
    os.makedirs(target, exist_ok=True)
    for name in names:
        for ext in (".hea", ".mat"):
            os.symlink(os.path.join(source, name + ext), os.path.join(target, name + ext))
    return str(target)


def sample_names(prefixes=("A", "E", "HR", "JS", "Q"), per_prefix=6):
    names = sorted(p.stem for p in SAMPLE.glob("*.hea"))
    chosen = []
    for prefix in prefixes:
        chosen += [n for n in names if n.rstrip("0123456789") == prefix][:per_prefix]
    return chosen


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """(model folder, training data folder) of a tiny model trained on 30 sample records."""
    if not SAMPLE.is_dir():
        pytest.skip("../shared/data/cinc2020_sample is not present")
    from ecgnet.training import train
    root = tmp_path_factory.mktemp("tiny")
    data = link_records(SAMPLE, root / "train", sample_names())
    model = root / "model"
    train(data, str(model), config=TINY, jobs=1)
    return str(model), data


@pytest.fixture
def copy_model(tiny_model, tmp_path):
    """A private copy of the tiny model folder that a test may damage."""
    target = tmp_path / "model"
    shutil.copytree(tiny_model[0], target)
    return target

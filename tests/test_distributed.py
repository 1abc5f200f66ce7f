"""torchrun: two CPU processes (gloo) train the same folds on the same batches as one process."""
import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from ecgnet import modelstore
from ecgnet.inference import Ensemble
from conftest import ROOT, SAMPLE, TINY, cli_settings, link_records, needs_sample, sample_names

pytestmark = needs_sample

SETTINGS = cli_settings(TINY.replace(batch_size=8))


def command(data, model, processes, *extra):
    launcher = [] if processes == 1 else ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    return [sys.executable, *launcher, "train_model.py", data, str(model), *SETTINGS, *extra]


def train(data, model, processes, *extra):
    result = subprocess.run(command(data, model, processes, *extra), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def fold_results(model):
    return [modelstore.load_tensors(str(model / "work" / f"fold{k}_result.pt")) for k in (1, 2)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    # 29 usable records: fold sizes 14/15, so batches of 8 leave uneven per-process shares.
    return link_records(SAMPLE, tmp_path_factory.mktemp("dist") / "data", sample_names(per_prefix=7)[:33])


def test_two_processes_match_one_where_they_should(data, tmp_path):
    train(data, tmp_path / "one", 1)
    output = train(data, tmp_path / "two", 2)
    assert "2 process(es)" in output and output.count("[rank 0]") > 5 and "[rank 1]" not in output
    assert (tmp_path / "one" / "work" / "folds.json").read_text() == (tmp_path / "two" / "work" / "folds.json").read_text()
    for one, two in zip(fold_results(tmp_path / "one"), fold_results(tmp_path / "two")):
        assert torch.equal(one["validation"], two["validation"])
        assert [(h["steps"], h["samples"]) for h in one["history"]] == [(h["steps"], h["samples"]) for h in two["history"]]
        # every validation record was predicted (by one process or the other) and gathered
        assert two["probabilities"].shape == one["probabilities"].shape and (two["probabilities"] > 0).all()
        assert np.isfinite(two["best_score"])
    reports = [json.loads((tmp_path / m / "cv_report.json").read_text()) for m in ("one", "two")]
    assert reports[0]["overall"]["records"] == reports[1]["overall"]["records"]
    assert [f["records"] for f in reports[0]["folds"]] == [f["records"] for f in reports[1]["folds"]]
    assert Ensemble.from_folder(tmp_path / "two", "cpu").models  # loads like any model


def test_parallel_folds(data, tmp_path):
    output = train(data, tmp_path / "model", 2, "--parallel-folds")
    assert "[rank 0] fold 1/2:" in output and "[rank 1] fold 2/2:" in output and "[rank 1] fold 1/2:" not in output
    assert "model complete" in output
    assert Ensemble.from_folder(tmp_path / "model", "cpu").models


def test_distributed_training_resumes(data, tmp_path):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    train(data, straight, 2)
    process = subprocess.Popen(command(data, interrupted, 2), cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (interrupted / "work" / "fold1_checkpoint.pt").exists():
        assert process.poll() is None and time.time() < deadline
        time.sleep(0.02)
    # Kill the launcher and both workers at once, as a crash of the machine would.
    subprocess.run(["pkill", "-KILL", "-f", str(interrupted)], check=False)
    process.wait()
    assert not (interrupted / "model.json").exists()
    output = train(data, interrupted, 2)
    assert "fold 1: resuming after epoch" in output
    for k in (1, 2):
        a = torch.load(straight / f"fold{k}.pt", weights_only=True)
        b = torch.load(interrupted / f"fold{k}.pt", weights_only=True)
        assert all(torch.equal(a[name], b[name]) for name in a)

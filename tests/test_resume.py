"""Training killed mid-way and started again with the same command ends with the same model."""

import os
import subprocess
import sys
import time

import torch

from helpers import (
    RECORDS,
    ROOT,
    TINY,
    cli_settings,
    kill_process_group,
    link_records,
    sample_names,
    start_process,
)

COMMAND = cli_settings(TINY.replace(epochs=4, lr_milestones=(2,), batch_size=8))


def train(data, model, wait=True):
    process = start_process(
        [sys.executable, "train_model.py", data, str(model), *COMMAND],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if wait:
        output = process.communicate(timeout=600)[0]
        assert process.returncode == 0, output
        return output
    return process


def weights(model):
    return [torch.load(model / f"fold{k}.pt", weights_only=True) for k in (1, 2)]


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    data = link_records(RECORDS, tmp_path / "data", sample_names())
    train(data, tmp_path / "straight")
    interrupted = tmp_path / "interrupted"
    for checkpoint in ("fold1_checkpoint.pt", "fold2_checkpoint.pt"):  # kill once in each fold
        process = train(data, interrupted, wait=False)
        deadline = time.time() + 300
        while not (interrupted / "work" / checkpoint).exists():
            assert process.poll() is None and time.time() < deadline, process.stdout.read()
            time.sleep(0.02)
        kill_process_group(process)  # the training process and anything it started, as a crash would
    assert not (interrupted / "model.json").exists()
    output = train(data, interrupted)
    assert "fold 1: already trained" in output and "fold 2: resuming after epoch" in output
    for a, b in zip(weights(tmp_path / "straight"), weights(interrupted)):
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a)
    log = (interrupted / "train.log").read_text()
    assert log.count(f"training {interrupted} from") == 1 and log.count(f"resuming {interrupted} from") == 2
    assert not os.path.exists(interrupted / "work" / "fold2_checkpoint.pt")

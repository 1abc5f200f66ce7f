"""The driver's head start (`reading.HeadStart`): records read and measured in a process forked
before torch is imported. It must change no output, and a head start that fails or is killed
must cost no record. Each case runs in a fresh interpreter, since the head start only forks
before torch is imported."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from ecgnet import inference, reading
from ecgnet.folders import list_records
from ecgnet.runner import run_folder

from helpers import RECORDS, ROOT, run_driver

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the head start forks on Linux only")

SCRIPT = """
import os, signal, sys
from ecgnet.modelstore import read_config
from ecgnet.reading import HeadStart, Selection
model, data, out, chunks, kill = sys.argv[1:]
selection = Selection(data, out)
head = HeadStart.start(read_config(model), selection, chunks=int(chunks))
assert head is not None, "no head start"
if kill == "kill":
    os.kill(head.process.pid, signal.SIGKILL)
from ecgnet.inference import Ensemble
from ecgnet.runner import classify_selection
report = classify_selection(Ensemble.from_folder(model, "cpu"), selection, head_start=head)
print(report.written, len(report.failures), len(head.names))
"""


def outputs(folder):
    """{record name: (labels, probabilities)} of an output folder."""
    found = {}
    for name in os.listdir(folder):
        lines = open(os.path.join(folder, name)).read().splitlines()
        found[name] = (lines[2], np.array(lines[3].split(","), dtype=float))
    return found


def assert_same_outputs(folder, reference):
    got, expected = outputs(folder), outputs(reference)
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name][0] == expected[name][0], name
        # float32 batches are cut where the chunks end, which the head start moves: 1e-6 at most
        np.testing.assert_allclose(got[name][1], expected[name][1], rtol=0, atol=2e-6)


@pytest.fixture(scope="module")
def reference(tiny_model, tmp_path_factory):
    """The committed records classified in this process (torch is imported: no head start)."""
    folder = tmp_path_factory.mktemp("reference")
    ensemble = inference.Ensemble.from_folder(tiny_model[0], "cpu")
    report = run_folder(ensemble, str(RECORDS), str(folder))
    assert report.written == len(list_records(RECORDS))
    return folder


def run_script(tiny_model, out, chunks, kill=""):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, tiny_model[0], str(RECORDS), str(out), str(chunks), kill or "no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return [int(n) for n in result.stdout.split()], result.stderr


def test_the_driver_reads_ahead_while_it_loads_and_writes_the_same_outputs(tiny_model, reference, tmp_path):
    result = run_driver(tiny_model[0], RECORDS, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    ahead = re.search(r"driver: (\d+) records read and measured while the model loaded", result.stderr)
    assert ahead and int(ahead.group(1)) > 0, result.stderr
    assert_same_outputs(tmp_path / "out", reference)


def test_a_head_start_of_some_records_leaves_the_rest_to_the_run(tiny_model, reference, tmp_path):
    """One chunk: the first, small one (`reading.FIRST_CHUNK_DIVISOR`)."""
    (written, failed, ahead), _ = run_script(tiny_model, tmp_path / "out", chunks=1)
    assert (written, failed) == (len(list_records(RECORDS)), 0) and 0 < ahead < written
    assert_same_outputs(tmp_path / "out", reference)


def test_skip_existing_counts_no_record_of_the_head_start_as_existing(tiny_model, tmp_path):
    """The run lists the folder after classifying the head start's chunks, when their output
    files exist: they are the head start's, not ones that were there before."""
    result = run_driver(tiny_model[0], RECORDS, tmp_path / "out", "--skip-existing")
    assert result.returncode == 0, result.stderr
    assert "records read and measured while the model loaded" in result.stderr
    count = len(list_records(RECORDS))
    assert f"wrote {count} output files for {count} recordings in" in result.stderr
    assert ", 0 already had one;" in result.stderr, result.stderr


def test_a_head_start_that_is_killed_costs_no_record(tiny_model, reference, tmp_path):
    (written, failed, _), stderr = run_script(tiny_model, tmp_path / "out", chunks=2, kill="kill")
    assert (written, failed) == (len(list_records(RECORDS)), 0)
    assert "the head start stopped (exit code -9); reading on" in stderr
    assert_same_outputs(tmp_path / "out", reference)


ENDS_EARLY = """
import sys
from ecgnet.modelstore import read_config
from ecgnet.reading import HeadStart, Selection
model, data, out = sys.argv[1:]
head = HeadStart.start(read_config(model), Selection(data, out), chunks=3)
taken = head.chunks()
first = next(taken)
head.process.join(timeout=60)
ended = head.process.exitcode
print(ended, len(first[0]) + sum(len(records) for records, _, _ in taken))
"""


def test_the_head_start_ends_once_the_run_takes_its_first_chunk(tiny_model, tmp_path):
    """Its chunks are taken off the pipe as they come, so that its memory goes while the run is
    still on its first chunk; every record still reaches the run."""
    result = subprocess.run(
        [sys.executable, "-c", ENDS_EARLY, tiny_model[0], str(RECORDS), str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    ended, records = result.stdout.split()
    assert ended == "0", f"the head start had not ended a minute after (exit code {ended})"
    assert int(records) == len(list_records(RECORDS))


def test_a_cpu_chunk_is_what_the_run_reads_on_a_cpu():
    assert reading.CPU_CHUNK_SAMPLES == reading.CHUNK_BATCHES * inference.default_batch_samples("cpu")

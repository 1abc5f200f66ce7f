"""Collections of records: nested folders (`folders.iter_records`), and the driver's `--shard`
and `--skip-existing` for runs spread over machines or resumed after an interruption."""

import os
import re
import subprocess
import sys
import zlib

import numpy as np
import pytest

import driver
from ecgnet.errors import RecordError
from ecgnet.folders import find_records, iter_records, list_records
from ecgnet.inference import Ensemble
from ecgnet.runner import Shard, run_folder

from helpers import RECORDS, ROOT, link_records, sample_names


def touch_record(folder, name, extensions=(".hea", ".mat")):
    os.makedirs(folder, exist_ok=True)
    for ext in extensions:
        (folder / f"{name}{ext}").write_text("x")


def names(found):
    return [f.name for f in found]


def assert_same_output(a, b):
    """Output files alike but for float32 rounding: records batched with others of another
    shard may move a probability by 1e-6 (test_driver's chunking test allows the same)."""
    lines_a, lines_b = a.read_text().splitlines(), b.read_text().splitlines()
    assert lines_a[:3] == lines_b[:3], a.name
    np.testing.assert_allclose(
        np.array(lines_a[3].split(","), float), np.array(lines_b[3].split(","), float), rtol=0, atol=2e-6
    )


def test_a_folder_with_records_of_its_own_is_not_searched_below_unless_asked(tmp_path):
    touch_record(tmp_path, "B")
    touch_record(tmp_path / "sub", "A")
    assert names(iter_records(tmp_path)) == ["B"]
    assert names(iter_records(tmp_path, recursive=True)) == ["B", "A"]
    assert names(list_records(tmp_path, recursive=True)) == ["A", "B"]
    assert [os.path.basename(p) for p in find_records(tmp_path, recursive=True)] == ["A.hea", "B.hea"]


def test_a_folder_without_records_of_its_own_is_searched_depth_first_in_name_order(tmp_path):
    for folder, name in [("g2", "C"), ("g1/deep", "A"), ("g1", "B"), ("g10", "D"), (".hidden", "H"), ("g3", "E")]:
        touch_record(tmp_path / folder, name)
    os.symlink(tmp_path / "g3", tmp_path / "linked")  # a link to a folder is not followed
    (tmp_path / "notes.txt").write_text("x")
    found = list(iter_records(tmp_path))
    assert names(found) == ["B", "A", "D", "C", "E"]  # g1, g1/deep, g10, g2, g3
    assert all(f.root == str(tmp_path) for f in found)
    assert found[1].folder == str(tmp_path / "g1" / "deep") and found[1].header == str(tmp_path / "g1/deep/A.hea")
    assert names(iter_records(tmp_path, recursive=False)) == []
    with pytest.raises(RecordError, match="holds no records"):
        list_records(tmp_path, require=True, recursive=False)


def test_two_records_of_one_name_in_different_subfolders_are_an_error_naming_both(tmp_path):
    touch_record(tmp_path / "a", "R1")
    touch_record(tmp_path / "b" / "c", "R1")
    with pytest.raises(RecordError) as error:
        list_records(tmp_path)
    message = str(error.value)
    assert str(tmp_path / "a" / "R1") in message and str(tmp_path / "b" / "c" / "R1") in message
    # A record of DATA itself and one of a subfolder, when asked to search both.
    touch_record(tmp_path, "R1")
    with pytest.raises(RecordError, match="two records are named 'R1'"):
        list_records(tmp_path, recursive=True)


def test_the_listing_streams(tmp_path):
    """Each folder is read when the listing reaches it, so records written into a folder it has
    not reached yet are seen: nothing is gathered (or sorted) whole before the first record."""
    touch_record(tmp_path / "a", "A")
    (tmp_path / "b").mkdir()
    found = iter_records(tmp_path)
    assert next(found).name == "A"
    touch_record(tmp_path / "b", "B")
    touch_record(tmp_path / "b" / "c", "C")
    assert names(found) == ["B", "C"]


def test_shards_split_by_name_whatever_the_listing_order():
    every = [f"R{k:05d}" for k in range(2000)] + ["Rä", "r 1", "00491_hr"]
    parts = [[n for n in every if Shard(k, 7).holds(n)] for k in range(1, 8)]
    assert sorted(sum(parts, [])) == sorted(every)  # each name in exactly one part
    assert all(250 < len(part) < 330 for part in parts[:-1])  # about a seventh each
    assert Shard(1, 1).holds("anything")
    assert [n for n in reversed(every) if Shard(3, 7).holds(n)] == parts[2][::-1]
    assert Shard(5, 7).holds("R00000") == (zlib.crc32(b"R00000") % 7 == 4)  # the documented rule, fixed
    for bad in ((0, 3), (4, 3), (1, 0)):
        with pytest.raises(ValueError):
            Shard(*bad)


@pytest.fixture(scope="module")
def ensemble(tiny_model):
    return Ensemble.from_folder(tiny_model[0], "cpu")


def test_shards_together_write_what_one_run_writes(ensemble, tmp_path):
    data = tmp_path / "data"
    chosen = sample_names(per_prefix=3)
    for k, name in enumerate(chosen):  # spread over nested folders, as large collections are
        link_records(RECORDS, data / f"g{k % 3}" / f"p{k % 2}", [name])
    whole = run_folder(ensemble, str(data), str(tmp_path / "whole"))
    assert whole.written == len(chosen) and not whole.failures
    shards = [run_folder(ensemble, str(data), str(tmp_path / "parts"), shard=Shard(k, 4)) for k in range(1, 5)]
    assert sum(r.written for r in shards) == len(chosen)
    assert sorted(os.listdir(tmp_path / "parts")) == sorted(os.listdir(tmp_path / "whole"))
    for name in os.listdir(tmp_path / "whole"):
        assert_same_output(tmp_path / "parts" / name, tmp_path / "whole" / name)


def test_skip_existing_resumes_without_redoing_finished_outputs(ensemble, tmp_path):
    data = link_records(RECORDS, tmp_path / "data", sample_names(per_prefix=2))
    outputs = tmp_path / "out"
    run_folder(ensemble, data, str(outputs))
    finished = sorted(os.listdir(outputs))
    for name in finished[::2]:
        os.remove(outputs / name)  # as if the run had stopped before them
    kept = outputs / finished[1]
    kept.write_text("finished earlier\n")  # an existing output is never rewritten
    report = run_folder(ensemble, data, str(outputs), skip_existing=True)
    assert report.written == len(finished[::2]) and report.existing == len(finished) - len(finished[::2])
    assert sorted(os.listdir(outputs)) == finished and kept.read_text() == "finished earlier\n"


def test_the_driver_stops_before_writing_when_two_records_share_a_name(tiny_model, tmp_path, capsys):
    data = tmp_path / "data"
    link_records(RECORDS, data / "site1", ["A0001", "A0002"])
    link_records(RECORDS, data / "site2", ["A0002"])
    status = driver.main([tiny_model[0], str(data), str(tmp_path / "out")])
    stderr = capsys.readouterr().err
    assert status == 2 and "two records are named 'A0002'" in stderr and "site1" in stderr and "site2" in stderr
    assert not (tmp_path / "out").exists()


def test_driver_options_on_the_command_line(tiny_model, tmp_path, capsys):
    chosen = sample_names(per_prefix=2)
    data = link_records(RECORDS, tmp_path / "data" / "nested", chosen)
    out = tmp_path / "out"
    assert driver.main([tiny_model[0], str(tmp_path / "data"), str(out), "--shard", "2/2"]) == 0
    assert set(os.listdir(out)) == {f"{n}.csv" for n in chosen if Shard(2, 2).holds(n)}
    assert driver.main([tiny_model[0], str(tmp_path / "data"), str(out), "--skip-existing"]) == 0
    assert set(os.listdir(out)) == {f"{n}.csv" for n in chosen}
    assert driver.main([tiny_model[0], str(tmp_path / "data"), str(tmp_path / "none"), "--no-recursive"]) == 2
    assert "holds no records" in capsys.readouterr().err
    for bad in ("3/2", "0/2", "a/b", "1"):
        with pytest.raises(SystemExit):
            driver.main([tiny_model[0], data, str(out), "--shard", bad])


def test_the_slurm_job_array_script_classifies_every_record_once(tiny_model, tmp_path):
    """scripts/slurm_drive.sh run as the three tasks of `sbatch --array=4-6` would run it (no
    SLURM here: its variables are set by hand), one after another into one OUTPUTS folder, then
    task 5 again as a resubmitted task: every record has its output, none was written twice."""
    chosen = sample_names(per_prefix=2)
    data = link_records(RECORDS, tmp_path / "data" / "site", chosen)
    out = tmp_path / "out"
    written = []
    for task in (4, 5, 6, 5):
        env = dict(
            os.environ,
            PYTHON=sys.executable,
            PYTHONPATH=str(ROOT),
            SLURM_ARRAY_TASK_ID=str(task),
            SLURM_ARRAY_TASK_MIN="4",
            SLURM_ARRAY_TASK_COUNT="3",
        )
        result = subprocess.run(
            ["bash", str(ROOT / "scripts" / "slurm_drive.sh"), tiny_model[0], str(tmp_path / "data"), str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
        written.append(int(re.search(r"wrote (\d+) output files", result.stderr).group(1)))
    assert sorted(os.listdir(out)) == sorted(f"{n}.csv" for n in chosen)
    assert sum(written[:3]) == len(chosen) and written[3] == 0
    assert data == str(tmp_path / "data" / "site")  # found by the recursive listing

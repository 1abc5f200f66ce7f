"""Where people see the measurements: the review sheet's machine-style line (off by default,
for blinding) and the report's measurements by label."""

import json

import numpy as np
import pypdf
import pytest

from ecgnet.cli import records
from ecgnet.cli import review as review_commands
from ecgnet.measure.table import machine_line, read_measurements
from ecgnet.synthetic import WaveTruth, truth_signal, write_record

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("views") / "data"
    folder.mkdir()
    rng = np.random.default_rng(0)
    cases = {"V1001": (52, -50, ("426177001", "39732003")), "V1002": (75, 60, ("426783006",))}
    for name, (rate, axis, dx) in cases.items():
        signal = truth_signal(WaveTruth(heart_rate=rate, qrs_axis=axis), 500, 10.0, rng)[0]
        write_record(str(folder), name, signal, 500, age=60, sex="Female", dx=dx)
    (folder.parent / "records.txt").write_text("V1001\nV1002\n")
    assert records.measure([str(folder), str(folder.parent / "m")]) == 0
    return folder


def kit_text(data, out, *extra):
    argv = [str(data), str(out), "--records", str(data.parent / "records.txt"), "--classes", "LAD,SB"]
    assert review_commands.review_kit([*argv, "--controls", "0", "--repeats", "0", *extra]) == 0
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(out / "reviewers" / "packet.pdf").pages)


def test_review_sheet_shows_the_machine_line_only_when_asked(data, tmp_path):
    rows = read_measurements(data.parent / "m" / "measurements.csv")
    shown = kit_text(data, tmp_path / "shown", "--show-measurements")
    for name in rows:
        assert machine_line(rows[name]) in shown.replace("\n", " ") or machine_line(rows[name]) in shown
        assert name not in shown  # still blind: the line names no record
    assert "HR 52 bpm" in shown and "P/QRS/T axes" in shown
    hidden = kit_text(data, tmp_path / "hidden")
    # (the instruction pages name rates in bpm: the measurement line itself must be absent)
    assert "P/QRS/T axes" not in hidden and not any(machine_line(rows[n]) in hidden for n in rows)
    manifest = json.loads((tmp_path / "shown" / "manifest.json").read_text())
    assert manifest["paper"]["measurements_shown"] is True


def test_machine_line_marks_blanks():
    line = machine_line({"heart_rate_bpm": 61.4, "pr_ms": None, "qrs_axis_deg": -45.0})
    assert line.startswith("HR 61 bpm   PR -- ms") and "--/-45/--" in line


def test_report_section_of_measurements_by_label(data, tmp_path):
    from ecgnet.report.measurements import measurement_section

    section_id, title, html = measurement_section(str(data.parent / "m" / "measurements.csv"), str(data), str(tmp_path))
    assert section_id == "measurements" and "(n=1)" not in title
    assert "data:image/png;base64," in html and (tmp_path / "measurements_by_label.png").is_file()
    assert (tmp_path / "measurements_by_label.svg").is_file()
    _, _, note = measurement_section(str(data.parent / "m" / "measurements.csv"), None, str(tmp_path))
    assert "--labels" in note

"""The blinded review kit (`ecgnet.review.kit`) and its ECG sheets (`ecgnet.review.sheet`).

Geometry is measured from the drawn matplotlib artists (their data through their own
transforms to the page, in mm), not from the module's constants; blinding is checked on the
text pypdf extracts from packet.pdf and on its bytes."""

import csv
import hashlib
import json
import os
import re

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pypdf = pytest.importorskip("pypdf")

from ecgnet import labels as label_space  # noqa: E402
from ecgnet.preprocess import LEADS  # noqa: E402
from ecgnet.review import formats, kit, sheet  # noqa: E402
from ecgnet.synthetic import make_signal, write_record  # noqa: E402

from helpers import SAMPLE, needs_sample  # noqa: E402

FS = 500
LAD, AF, NSR, RBBB = "39732003", "164889003", "426783006", "59118001"


# ------------------------------------------------------------------ measuring a figure


def to_mm(fig, artist, points):
    """Page millimetres of `points` given in `artist`'s own coordinates."""
    return artist.get_transform().transform(np.asarray(points, dtype=float)) / fig.dpi * sheet.MM_PER_INCH


def artist(fig, gid):
    found = [a for a in fig.axes[0].get_children() if a.get_gid() == gid]
    assert len(found) == 1, f"{len(found)} artists {gid!r}"
    return found[0]


def line_mm(fig, gid):
    line = artist(fig, gid)
    return to_mm(fig, line, line.get_xydata())


def vertical_lines_mm(fig, gid):
    """Sorted x (page mm) of the vertical lines of a grid collection."""
    grid = artist(fig, gid)
    return np.sort(
        [to_mm(fig, grid, segment)[0, 0] for segment in grid.get_segments() if segment[0][0] == segment[1][0]]
    )


def sine_item(seconds=12.0, rate=FS, amplitude=1.0, missing=()):
    """A sheet item whose every lead is a 5 Hz sine of `amplitude` mV."""
    t = np.arange(int(seconds * rate)) / rate
    signal = np.tile(amplitude * np.sin(2 * np.pi * 5 * t), (12, 1))
    return sheet.SheetItem("R-001", signal, rate, missing, 60, "female", True, "test window")


@pytest.mark.parametrize("rate", [500, 257])
def test_sheet_geometry_in_millimetres(rate):
    fig = sheet.draw_sheet(sine_item(rate=rate), "a4")
    assert np.allclose(fig.get_size_inches() * 25.4, (297, 210))
    panels = {lead: line_mm(fig, f"trace:{lead}") for row in sheet.ROWS for lead in row}
    tolerance = 25.0 / rate + 1e-6  # a panel ends at its last sample at or before 2.5 s
    for lead, points in panels.items():
        assert 62.5 - tolerance <= np.ptp(points[:, 0]) <= 62.5 + 1e-6, lead
    assert panels["aVR"][0, 0] - panels["I"][0, 0] == pytest.approx(62.5, abs=tolerance)
    assert panels["V4"][0, 0] - panels["I"][0, 0] == pytest.approx(187.5, abs=tolerance)
    strip = line_mm(fig, "trace:II-rhythm")
    assert 250 - tolerance <= np.ptp(strip[:, 0]) <= 250 + 1e-6
    # 10 mm/mV: the 1 mV sine spans 20 mm; rows 40 mm apart
    assert np.ptp(strip[:, 1]) == pytest.approx(20, abs=0.05)
    assert np.ptp(panels["I"][:, 1]) == pytest.approx(20, abs=0.05)
    assert np.mean(panels["I"][:, 1]) - np.mean(panels["II"][:, 1]) == pytest.approx(40, abs=0.05)
    for row in range(4):
        pulse = line_mm(fig, f"calibration:{row}")
        top = pulse[:, 1] > pulse[:, 1].min() + 1e-6
        assert np.ptp(pulse[:, 1]) == pytest.approx(10, abs=1e-6)
        assert np.ptp(pulse[top, 0]) == pytest.approx(5, abs=1e-6)
        assert pulse[:, 0].max() <= strip[0, 0] + 1e-6  # before the traces
    left = fig.axes[0].get_window_extent().x0 / fig.dpi * 25.4
    minor, major = vertical_lines_mm(fig, "grid-minor") - left, vertical_lines_mm(fig, "grid-major") - left
    assert major[0] == pytest.approx(0) and major[-1] == pytest.approx(260) and np.allclose(np.diff(major), 5)
    assert np.allclose(np.diff(np.sort(np.concatenate([minor, major]))), 1)
    box = fig.axes[0].get_window_extent()
    assert box.width / fig.dpi * 25.4 == pytest.approx(260) and box.height / fig.dpi * 25.4 == pytest.approx(160)
    assert box.x0 / fig.dpi * 25.4 > 9 and (box.x1 / fig.dpi * 25.4) < 297 - 9  # fits Letter's 279.4 mm centred


def test_sheet_fits_letter_and_marks_clipping_only_at_the_grid_edge():
    item = sine_item(amplitude=0.2)
    item.signal[LEADS.index("I"), 100:110] = 6.0  # 60 mm up from the top row: past the grid
    item.signal[LEADS.index("II"), 100:110] = 3.0  # 30 mm up: over row 1, inside the grid
    fig = sheet.draw_sheet(item, "letter")
    assert np.allclose(fig.get_size_inches() * 25.4, (279.4, 215.9))
    lead_i, lead_ii = line_mm(fig, "trace:I"), line_mm(fig, "trace:II")
    grid_top = fig.axes[0].get_window_extent().y1 / fig.dpi * 25.4
    assert lead_i[:, 1].max() > grid_top  # drawn in full, cut by the grid's clip box
    assert lead_ii[:, 1].max() - np.median(lead_ii[:, 1]) == pytest.approx(30, abs=0.5)
    marks = to_mm(fig, artist(fig, "clip-mark"), artist(fig, "clip-mark").get_xydata())
    assert len(marks) >= 1 and np.all(marks[:, 1] > grid_top)
    assert abs(marks[0, 0] - lead_i[100, 0]) < 1.0  # at the cut sample


def test_short_record_is_drawn_whole_and_missing_leads_are_labelled():
    item = sine_item(seconds=6.0, missing=("V3",))
    fig = sheet.draw_sheet(item)
    assert np.ptp(line_mm(fig, "trace:II-rhythm")[:, 0]) == pytest.approx(150 - 25 / FS)
    assert len(artist(fig, "trace:V4").get_xydata()) == 0  # 7.5-10 s does not exist
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "V3 (not recorded)" in texts and not [a for a in fig.axes[0].get_children() if a.get_gid() == "trace:V3"]


# ------------------------------------------------------------------ records, audit and model

RECORDS = {  # name: (labels, seconds, stated gain)
    "A0101": ([LAD, NSR], 12.0, 1000),
    "E00042": ([AF], 10.0, 4880),
    "HR00007": ([NSR], 10.0, 1000),
    "Q0005": ([NSR], 10.0, 1000),
    "JS00011": ([LAD, NSR], 10.0, 1000),
    "JS00012": ([AF, RBBB], 10.0, 1000),
    "Q0006": ([NSR], 10.0, 1000),
    "HR00008": ([AF], 10.0, 1000),
}


def write_records(folder):
    """Synthetic records named like the challenge's sources; E00042's header states 4880/mV
    over samples in 1000/mV units, as Georgia's first release did."""
    rng = np.random.default_rng(7)
    os.makedirs(folder, exist_ok=True)
    for name, (labels, seconds, gain) in RECORDS.items():
        write_record(folder, name, make_signal(labels, FS, seconds, rng), FS, age=55, sex="Male", dx=labels)
        if gain != 1000:
            path = os.path.join(folder, name + ".hea")
            with open(path) as f:
                text = f.read().replace(" 1000/mV ", f" {gain}/mV ")
            with open(path, "w") as f:
                f.write(text)
    return str(folder)


def write_audit(path):
    rows = [
        ("A0101", "A", LAD, "LAD", 1, "0.050000", "0.4", "0.05", "spurious", 1),
        ("E00042", "E", LAD, "LAD", 0, "0.910000", "0.4", "0.09", "missing", 2),
        ("HR00007", "HR", AF, "AF", 0, "0.800000", "0.3", "0.20", "missing", 3),
        ("A0101", "A", AF, "AF", 0, "0.700000", "0.3", "0.30", "missing", 4),
    ]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(formats.ISSUE_COLUMNS)
        writer.writerows(rows)
    return str(path)


def write_model(folder):
    """model.json thresholds of 0.5 and out-of-fold probabilities agreeing with every label
    except on the audit's records."""
    from ecgnet import modelstore
    from ecgnet.config import Config

    os.makedirs(folder)
    modelstore.save_model(str(folder), Config(), [0.5] * label_space.NUM_CLASSES, 0, {})
    with open(os.path.join(folder, "oof_probabilities.csv"), "w") as f:
        f.write("record,fold," + ",".join(label_space.CLASSES) + "\n")
        for name, (labels, _, _) in RECORDS.items():
            given = label_space.encode(labels)
            f.write(f"{name},1," + ",".join(f"{0.2 + 0.6 * v:.6f}" for v in given) + "\n")
    return str(folder)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("review")
    return {
        "data": write_records(root / "data"),
        "audit": write_audit(root / "label_issues.csv"),
        "model": write_model(root / "model"),
    }


def build(inputs, out, *extra):
    argv = [inputs["data"], str(out), *extra]
    assert kit.main(argv) == 0
    return str(out)


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def pdf_text(path):
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


def assert_blind(out, names):
    """No record name, source prefix with digits, file name, SNOMED code, class abbreviation
    or class name in the packet (text, metadata, bytes) or the pictures."""
    packet = os.path.join(out, "packet.pdf")
    text = pdf_text(packet)
    assert "Review item R-001" in text and "25 mm/s" in text and "aVR" in text  # the text is extractable
    metadata = " ".join(str(v) for v in (pypdf.PdfReader(packet).metadata or {}).values())
    pictures = [open(os.path.join(out, "sheets", p), "rb").read() for p in os.listdir(os.path.join(out, "sheets"))]
    raw = open(packet, "rb").read()
    for name in names:
        assert name not in text and name not in metadata and name.encode() not in raw
        assert not any(name.encode() in picture for picture in pictures)
    assert not re.search(r"\b(A|E|HR|JS|Q|S|I)\d{3,}", text)
    assert not re.search(r"\d{6,}", text)  # no SNOMED CT code
    assert ".mat" not in text and ".hea" not in text
    for code, class_name in kit.class_names().items():  # the 27 scored codes
        for word in (label_space.ABBREVIATIONS[label_space.CLASS_INDEX[label_space.canonical_code(code)]], class_name):
            assert not re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE), word


def test_three_item_kit_is_blind_reproducible_and_in_the_agreed_formats(inputs, tmp_path):
    args = [
        "--from",
        inputs["audit"],
        "--model",
        inputs["model"],
        "--n",
        "2",
        "--controls",
        "0.34",
        "--repeats",
        "0",
        "--seed",
        "5",
    ]
    first, second = build(inputs, tmp_path / "one", *args), build(inputs, tmp_path / "two", *args)
    for name in ("key.csv", "answer_form.csv", "packet.pdf", "answer_form.pdf", "sheets/R-001.png"):
        assert open(os.path.join(first, name), "rb").read() == open(os.path.join(second, name), "rb").read(), name
    assert sorted(os.listdir(os.path.join(first, "sheets"))) == ["R-001.png", "R-002.png", "R-003.png"]
    assert len(pypdf.PdfReader(os.path.join(first, "packet.pdf")).pages) == 3
    assert_blind(first, RECORDS)

    key = read_rows(os.path.join(first, "key.csv"))
    assert tuple(key[0]) == kit.KEY_COLUMNS
    assert [r["class"] for r in key[:2]] == [AF, LAD] and [r["abbreviation"] for r in key[:2]] == ["AF", "LAD"]
    records = {r["review_id"]: (r["record"], r["group"]) for r in key}
    assert sorted(records) == ["R-001", "R-002", "R-003"]
    suspects = sorted(name for name, group in records.values() if group == "suspect")
    assert suspects == ["A0101", "E00042"]  # the top 2 by rank
    assert [g for _, g in records.values()].count("control") == 1
    for row in key:
        truth = label_space.encode(RECORDS[row["record"]][0])[label_space.CLASS_INDEX[row["class"]]]
        assert row["given_label"] == str(int(truth)) and row["repeat_of"] == ""
        if row["group"] == "control":  # the model agrees on every asked class
            assert row["model_label"] == row["given_label"] and row["model_probability"]
    audit_cell = next(r for r in key if r["record"] == "A0101" and r["class"] == LAD)
    assert (audit_cell["model_label"], audit_cell["model_probability"]) == ("0", "0.050000")  # the audit's numbers

    form = read_rows(os.path.join(first, "answer_form.csv"))
    assert tuple(form[0]) == ("review_id", "AF", "LAD", "quality", "axis_degrees", "confidence", "comment")
    assert [r["review_id"] for r in form] == ["R-001", "R-002", "R-003"]
    assert all(v == "" for r in form for k, v in r.items() if k != "review_id")
    assert "LAD: left axis deviation" in pdf_text(os.path.join(first, "answer_form.pdf"))

    manifest = json.load(open(os.path.join(first, "manifest.json")))
    assert manifest["key_sha256"] == hashlib.sha256(open(os.path.join(first, "key.csv"), "rb").read()).hexdigest()
    assert manifest["seed"] == 5 and manifest["items"] == 3
    assert manifest["groups"] == {"suspect": 2, "control": 1, "repeat": 0}
    assert manifest["classes"] == [{"code": AF, "abbreviation": "AF"}, {"code": LAD, "abbreviation": "LAD"}]
    assert {"window", "gain", "paper", "versions"} <= set(manifest)
    assert [c["record"] for c in manifest["gain"]["corrected"]] == ["E00042"]


def test_repeats_controls_and_records_without_a_model(inputs, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("# to review\nA0101\nE00042\n\nHR00007\nQ0005\n")
    out = build(
        inputs,
        tmp_path / "kit",
        "--records",
        str(names),
        "--classes",
        "LAD,164889003",
        "--controls",
        "0.2",
        "--repeats",
        "0.5",
        "--seed",
        "1",
        "--no-show-demographics",
    )
    key = read_rows(os.path.join(out, "key.csv"))
    items = {r["review_id"]: r for r in key}
    groups = [r["group"] for r in items.values()]
    assert groups.count("suspect") == 4 and groups.count("control") == 1 and groups.count("repeat") == 2
    ids = sorted(items)
    for review_id, row in items.items():
        if row["group"] == "repeat":
            original = items[row["repeat_of"]]
            assert original["record"] == row["record"] and original["group"] != "repeat"
            assert ids.index(row["repeat_of"]) < ids.index(review_id) - 1  # shown earlier, not just before
    assert all(r["model_label"] == "" and r["model_probability"] == "" for r in key)
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    assert manifest["model"]["folder"] is None and "not checked" in manifest["model"]["controls"]
    text = pypdf.PdfReader(os.path.join(out, "packet.pdf")).pages[0].extract_text()  # pypdf is slow: one page
    assert "Age and sex not shown" in text and "Age 55" not in text


def test_georgia_gain_is_drawn_in_true_millivolts(inputs):
    files = {r.name: r for r in kit.list_records(inputs["data"])}
    stated = kit.load_record("E00042", files, {})
    assert {lead.gain for lead in stated.header.leads} == {4880.0}
    drawn, missing, window, note = kit.sheet_signal(stated)
    as_stated = kit.load_signal(stated.header, files["E00042"].mat).astype(np.float64)
    assert note == "stated 4880/mV drawn as 1000/mV" and missing == () and window == "whole record, 10 s"
    assert np.allclose(drawn, kit.high_pass(as_stated * 4.88, FS), atol=1e-4)  # the samples are 1000/mV
    assert np.ptp(drawn[LEADS.index("V2")]) > 1.0  # a QRS of a real size, not one 4.9x too small
    longer = kit.sheet_signal(kit.load_record("A0101", files, {}))
    assert longer[2] == "first 10 s of 12 s" and longer[0].shape[1] == 10 * FS + 1


def test_refusals(inputs, tmp_path, capsys):
    out = tmp_path / "used"
    out.mkdir()
    (out / "key.csv").write_text("old")
    assert kit.main([inputs["data"], str(out), "--from", inputs["audit"]]) == 1
    assert "new or empty" in capsys.readouterr().err
    assert kit.main([inputs["data"], str(tmp_path / "new"), "--from", inputs["audit"], "--classes", "XYZ"]) == 1
    names = tmp_path / "names.txt"
    names.write_text("A0101\nNOPE1\n")
    assert kit.main([inputs["data"], str(tmp_path / "new2"), "--records", str(names), "--classes", "LAD"]) == 1
    assert "not in DATA" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        kit.main([inputs["data"], str(tmp_path / "new3"), "--records", str(names)])  # needs --classes


@needs_sample
def test_sample_records_render(tmp_path):
    """A CPSC record of 15 s, a Georgia record stating 4880/mV and a PTB-XL record stating 200/mV."""
    names = tmp_path / "names.txt"
    names.write_text("A0001\nE00009\nHR00599\n")
    out = kit.main(
        [
            str(SAMPLE),
            str(tmp_path / "kit"),
            "--records",
            str(names),
            "--classes",
            "LAD,RAD,AF,NSR",
            "--controls",
            "0",
            "--repeats",
            "0",
        ]
    )
    assert out == 0
    manifest = json.load(open(tmp_path / "kit" / "manifest.json"))
    assert manifest["items"] == 3
    assert sorted(c["record"] for c in manifest["gain"]["corrected"]) == ["E00009", "HR00599"]
    assert "first 10 s of 15 s" in manifest["window"]["shown"]
    assert_blind(str(tmp_path / "kit"), ["A0001", "E00009", "HR00599"])

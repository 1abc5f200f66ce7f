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
from ecgnet.cli import review as commands  # noqa: E402
from ecgnet.matfiles import load_signal  # noqa: E402
from ecgnet.preprocess import LEADS  # noqa: E402
from ecgnet.review import formats, kit, sheet  # noqa: E402
from ecgnet.synthetic import make_signal, write_record  # noqa: E402

import helpers  # noqa: E402
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
    return sheet.SheetItem("R-001", signal, rate, missing, "Age 60-69    Sex female", "test window", "Kit K-test")


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
    assert commands.review_kit(argv) == 0
    return str(out)


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def pdf_pages(path):
    return [page.extract_text() for page in pypdf.PdfReader(path).pages]


def pdf_text(path):
    return "\n".join(pdf_pages(path))


def item_pages(path):
    """The text of the packet's item pages (after the instruction pages)."""
    return [text for text in pdf_pages(path) if "Review item R-" in text]


def assert_blind(out, names):
    """No record name, source prefix with digits, file name, SNOMED code, class abbreviation
    or class name in the packet's item pages (text), its metadata and bytes, or the pictures;
    the instruction pages name no record and no class that is not asked."""
    packet = os.path.join(out, "reviewers", "packet.pdf")
    text = "\n".join(item_pages(packet))
    assert "Review item R-001" in text and "25 mm/s" in text and "aVR" in text  # the text is extractable
    metadata = " ".join(str(v) for v in (pypdf.PdfReader(packet).metadata or {}).values())
    given = os.path.join(out, "reviewers")  # everything a reviewer receives, and nothing else
    assert sorted(os.listdir(given)) == ["answer_form.csv", "answer_form.pdf", "packet.pdf", "sheets"]
    pictures = [open(os.path.join(given, "sheets", p), "rb").read() for p in os.listdir(os.path.join(given, "sheets"))]
    pictures += [open(os.path.join(given, p), "rb").read() for p in ("answer_form.csv", "answer_form.pdf")]
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
    front = "\n".join(t for t in pdf_pages(packet) if "Review item R-" not in t)
    asked = {c["code"] for c in json.load(open(os.path.join(out, "manifest.json")))["classes"]}
    assert "Measuring the axis from leads I and aVF" in front
    for code in label_space.CLASSES:
        abbreviation = label_space.ABBREVIATIONS[label_space.CLASS_INDEX[code]]
        assert (f"{abbreviation} (" in front) == (code in asked), abbreviation
    for name in names:
        assert name not in front


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
        "--kit-id",
        "7QM4X2RT",
    ]
    first, second = build(inputs, tmp_path / "one", *args), build(inputs, tmp_path / "two", *args)
    files = ("key.csv", "reviewers/answer_form.csv", "reviewers/packet.pdf", "reviewers/answer_form.pdf")
    for name in (*files, "reviewers/sheets/R-001.png"):
        assert open(os.path.join(first, name), "rb").read() == open(os.path.join(second, name), "rb").read(), name
    assert sorted(os.listdir(os.path.join(first, "reviewers", "sheets"))) == ["R-001.png", "R-002.png", "R-003.png"]
    pages = pdf_pages(os.path.join(first, "reviewers", "packet.pdf"))
    assert (
        len(item_pages(os.path.join(first, "reviewers", "packet.pdf"))) == 3
        and "instructions for reviewers" in pages[0]
    )
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

    manifest = json.load(open(os.path.join(first, "manifest.json")))
    key_sha256 = hashlib.sha256(open(os.path.join(first, "key.csv"), "rb").read()).hexdigest()
    identity = f"K7QM4X2RT-{key_sha256[:8]}"
    assert manifest["kit_id"] == identity and manifest["kit_random_id"] == "7QM4X2RT"
    form = read_rows(os.path.join(first, "reviewers", "answer_form.csv"))
    assert tuple(form[0]) == ("kit_id", "review_id", "AF", "LAD", "quality", "axis_degrees", "confidence", "comment")
    assert [r["review_id"] for r in form] == ["R-001", "R-002", "R-003"] and {r["kit_id"] for r in form} == {identity}
    assert all(v == "" for r in form for k, v in r.items() if k not in ("review_id", "kit_id"))
    form_pages = pdf_pages(os.path.join(first, "reviewers", "answer_form.pdf"))
    assert "LAD (left axis deviation): Frontal QRS axis from -30 to -90 degrees" in " ".join(form_pages).replace(
        "\n", " "
    )
    for number, text in enumerate(pages, 1):  # the kit and the page on every page of the packet and the form
        assert f"Kit {identity}" in text and f"page {number} of {len(pages)}" in text
    for number, text in enumerate(form_pages, 1):
        assert f"Kit {identity}" in text and f"page {number} of {len(form_pages)}" in text

    assert manifest["key_sha256"] == key_sha256
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
    reader = pypdf.PdfReader(os.path.join(out, "reviewers", "packet.pdf"))
    text = reader.pages[len(reader.pages) - 1].extract_text()  # pypdf is slow: one page
    assert "Age and sex not shown" in text and "Age 5" not in text


def test_georgia_gain_is_drawn_in_true_millivolts(inputs):
    files = {r.name: r for r in kit.list_records(inputs["data"])}
    stated = kit.load_record("E00042", files, {})
    assert {lead.gain for lead in stated.header.leads} == {4880.0}
    drawn = kit.sheet_signal(stated)
    as_stated = load_signal(stated.header, files["E00042"].mat).astype(np.float64)
    assert drawn.note == "stated 4880/mV drawn as 1000/mV" and drawn.missing == () and drawn.seconds == 10
    [(start, stop, signal)] = drawn.windows
    assert (start, stop) == (0, 10)
    assert np.allclose(signal, kit.high_pass(as_stated * 4.88, FS), atol=1e-4)  # the samples are 1000/mV
    assert np.ptp(signal[LEADS.index("V2")]) > 1.0  # a QRS of a real size, not one 4.9x too small
    longer = kit.sheet_signal(kit.load_record("A0101", files, {}))
    assert longer.seconds == 12 and len(longer.windows) == 1 and longer.windows[0][2].shape[1] == 10 * FS + 1
    both = kit.sheet_signal(kit.load_record("A0101", files, {}), windows=3)
    assert [(a, b) for a, b, _ in both.windows] == [(0, 10), (2, 12)]  # the last window ends at the end
    assert both.windows[1][2].shape[1] == 10 * FS  # to the last sample


def test_refusals(inputs, tmp_path, capsys):
    out = tmp_path / "used"
    out.mkdir()
    (out / "key.csv").write_text("old")
    assert commands.review_kit([inputs["data"], str(out), "--from", inputs["audit"]]) == 1
    assert "new or empty" in capsys.readouterr().err
    assert (
        commands.review_kit([inputs["data"], str(tmp_path / "new"), "--from", inputs["audit"], "--classes", "XYZ"]) == 1
    )
    names = tmp_path / "names.txt"
    names.write_text("A0101\nNOPE1\n")
    assert (
        commands.review_kit([inputs["data"], str(tmp_path / "new2"), "--records", str(names), "--classes", "LAD"]) == 1
    )
    assert "not in DATA" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        commands.review_kit([inputs["data"], str(tmp_path / "new3"), "--records", str(names)])  # needs --classes


def test_real_records_render(tmp_path):
    """A CPSC record of 15 s, a Georgia record stating 4880/mV and a PTB-XL record stating 200/mV."""
    names = tmp_path / "names.txt"
    names.write_text("A0001\nE00009\nHR00599\n")
    out = commands.review_kit(
        [
            str(helpers.RECORDS),
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
    assert manifest["window"]["records_longer_than_window"] == 1
    assert_blind(str(tmp_path / "kit"), ["A0001", "E00009", "HR00599"])


# ------------------------------------------------------------------ identity, blinding, repeats


def strip_varying(text, review_id):
    """An item page's text without what may vary with the record: the review ID, age and sex."""
    text = text.replace(review_id, "R-?")
    return re.sub(r"Age (\d+-\d+|\d+|unknown|90 or over)\s+Sex \w+", "Age ? Sex ?", text)


def test_sheets_differ_only_in_tracing_review_id_and_demographics(inputs, tmp_path, capsys):
    """A0101 is 12 s long, the others 10 s: no sheet may say so (it named the source)."""
    out = build(inputs, tmp_path / "kit", "--from", inputs["audit"], "--n", "4", "--controls", "0.5", "--seed", "2")
    texts = item_pages(os.path.join(out, "reviewers", "packet.pdf"))
    ids = [r["review_id"] for r in read_rows(os.path.join(out, "reviewers", "answer_form.csv"))]
    assert len(texts) == len(ids) == 7  # 3 suspects, 3 controls, 1 repeat
    records = {r["review_id"]: r["record"] for r in read_rows(os.path.join(out, "key.csv"))}
    assert "A0101" in records.values()
    page_numbers = [re.search(r"page \d+ of \d+", t).group(0) for t in texts]
    stripped = {strip_varying(t.replace(p, "page ?"), i) for t, p, i in zip(texts, page_numbers, ids)}
    assert len(stripped) == 1, stripped
    assert "Shown: 10 s from the start of the recording" in texts[0] and " of 12 s" not in " ".join(texts)
    assert re.search(r"Age 50-59\s+Sex male", texts[0])  # age 55 in a band

    # Two kits of the same inputs and seed but their identity: another kit's answers are refused.
    other = build(inputs, tmp_path / "other", "--from", inputs["audit"], "--n", "4", "--controls", "0.5", "--seed", "2")
    identities = [json.load(open(os.path.join(k, "manifest.json")))["kit_id"] for k in (out, other)]
    assert identities[0] != identities[1] and identities[0][-8:] == identities[1][-8:]  # the same key
    form = open(os.path.join(out, "reviewers", "answer_form.csv")).read()
    assert form != open(os.path.join(other, "reviewers", "answer_form.csv")).read()
    filled = tmp_path / "alice.csv"
    filled.write_text(form.replace(",,,,,,", ",0,0,G,10,3,"))

    capsys.readouterr()
    assert commands.agreement([other, str(filled), "--resamples", "100"]) == 2
    err = capsys.readouterr().err
    assert identities[0] in err and identities[1] in err
    assert commands.agreement([out, str(filled), "--resamples", "100"]) == 0


def test_more_windows_of_a_longer_record_are_pages_of_the_same_item(inputs, tmp_path):
    out = build(
        inputs,
        tmp_path / "kit",
        "--from",
        inputs["audit"],
        "--n",
        "2",
        "--controls",
        "0",
        "--repeats",
        "0",
        "--windows",
        "3",
        "--seed",
        "1",
    )
    records = {r["review_id"]: r["record"] for r in read_rows(os.path.join(out, "key.csv"))}
    longer = next(i for i, r in records.items() if r == "A0101")
    assert sorted(os.listdir(os.path.join(out, "reviewers", "sheets"))) == sorted(
        [f"{i}.png" for i in records] + [f"{longer}_w2.png"]
    )
    texts = item_pages(os.path.join(out, "reviewers", "packet.pdf"))
    assert len(texts) == 3
    assert [t for t in texts if longer in t][1].count("Shown: window 2 of 2, 2.0-12.0 s of the recording") == 1
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    assert manifest["window"]["pages_per_record"] == {"1": 1, "2": 1}


def test_no_text_on_a_sheet_overlaps_another():
    fig = sheet.draw_sheet(
        sheet.SheetItem(
            "R-0123",
            sine_item().signal,
            FS,
            (),
            "Age 90 or over    Sex unknown",
            "Shown: window 12 of 30, 110.0-120.0 s of the recording",
            "Kit K7QM4X2RT-3fa1c2e0    page 1234 of 1234",
        ),
        "letter",
    )
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.texts]
    for i, a in enumerate(boxes):
        assert a.x0 >= 0 and a.x1 <= fig.bbox.width and a.y0 >= 0 and a.y1 <= fig.bbox.height
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (fig.texts[i].get_text(), b)


@pytest.mark.parametrize(
    "age, band, text",
    [
        (55, 10, "50-59"),
        (55, 1, "55"),
        (18.5, 10, "18-19"),
        (12, 10, "12"),
        (92, 10, "90 or over"),
        (89.9, 10, "80-89"),
        (None, 10, "unknown"),
        (47, 5, "45-49"),
    ],
)
def test_age_text(age, band, text):
    from ecgnet.review.blinding import age_text

    assert age_text(age, band) == text


def test_repeats_are_far_from_their_first_showing():
    from ecgnet.review.selection import order_items

    for seed in range(200):
        rng = np.random.default_rng(seed)
        unique = list(range(int(rng.integers(3, 60))))
        repeated = sorted(rng.choice(len(unique), size=int(rng.integers(1, len(unique) // 2 + 2)), replace=False))
        items = order_items(unique, [int(i) for i in repeated], rng)
        assert sorted(record for record, _ in items) == sorted(unique + [unique[i] for i in repeated])
        gap = max(2, len(items) // 4)
        for position, (record, first) in enumerate(items):
            if first is not None:
                assert items[first][0] == record and position - first >= min(gap, len(unique) // 2 + 1), seed


def test_repeats_are_drawn_among_records_whose_line_is_shared():
    from ecgnet.review.selection import choose_repeats

    lines = ["a", "a", "b", "c", "c", "c", "d", "e"]
    for seed in range(50):
        chosen, alone = choose_repeats(lines, 4, lambda line: line, np.random.default_rng(seed))
        assert alone == 0 and all(lines.count(lines[i]) > 1 for i in chosen)
    chosen, alone = choose_repeats(lines, 7, lambda line: line, np.random.default_rng(0))
    assert len(chosen) == 7 and alone == 2  # only 5 share a line


@needs_sample
def test_repeats_of_real_records_are_not_told_by_their_sheet_line(tmp_path):
    """71 sample records, --repeats 0.2: no repeat's line (age, sex) is shared only with its first
    showing, though with exact ages 40 of the 71 records have a line of their own (a random draw
    of 14 repeats would take about 8 of them) and with 10-year bands 4 do."""
    from ecgnet.review.selection import Reader, choose_items

    names = sorted(p.stem for p in SAMPLE.glob("*.hea"))[::3][:71]
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    for band, own_lines in ((10, 4), (1, 40)):
        options = kit.Options(
            str(SAMPLE),
            str(tmp_path / "k"),
            records=str(tmp_path / "names.txt"),
            classes=[LAD],
            controls=0,
            repeats=0.2,
            seed=4,
            age_band=band,
        )
        reader = Reader({r.name: r for r in kit.list_records(str(SAMPLE))}, {})
        _, unique, items, alone = choose_items(options, reader)
        line = {r.name: kit.demographics_text(r.header.age, r.header.sex, True, band) for r in unique}
        lines = list(line.values())
        repeats = [record for _, record, group, _ in items if group == "repeat"]
        assert len(repeats) == round(0.2 * len(unique))
        assert sum(lines.count(x) == 1 for x in lines) == own_lines
        assert sum(lines.count(line[r.name]) == 1 for r in repeats) == alone == 0
        positions = {review_id: i for i, (review_id, *_) in enumerate(items)}
        for review_id, _, group, first in items:
            if group == "repeat":
                assert positions[review_id] - positions[first] >= len(items) // 4


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_instruction_pages_of_every_class_stay_on_the_page(paper):
    """All 24 criteria (the longest instructions): every line inside the margins, none on another,
    each class once, every source cited."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ecgnet.review import criteria, instructions

    shown = instructions.Shown(True, 10, 1, sheet.HIGH_PASS_HZ)
    blocks = instructions.reviewer_blocks(list(label_space.CLASSES), "K7QM4X2RT-3fa1c2e0", 120, shown)
    pages = instructions.text_pages(blocks, paper)
    assert len(pages) >= 2
    text = ""
    for fig in pages:
        instructions.stamp(fig, paper, "Kit K7QM4X2RT-3fa1c2e0    page 1 of 2")
        renderer = FigureCanvasAgg(fig).get_renderer()
        boxes = [t.get_window_extent(renderer) for t in fig.texts]
        margin = instructions.MARGIN / 25.4 * fig.dpi * 0.9
        for t, box in zip(fig.texts, boxes):
            assert box.x0 >= margin * 0.9 and box.x1 <= fig.bbox.width - margin * 0.9, t.get_text()
            assert box.y0 >= 0 and box.y1 <= fig.bbox.height
        for i, a in enumerate(boxes):
            assert not any(a.overlaps(b) for b in boxes[i + 1 :]), fig.texts[i].get_text()
        text += " ".join(t.get_text() for t in fig.texts) + " "
    for code in label_space.CLASSES:
        assert text.count(f"{instructions.class_label(code)}:") == 1
    for source in criteria.SOURCES.values():
        assert source in text

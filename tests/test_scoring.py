"""File-level tests of `ecgnet.scoring` and the `evaluate_model.py` CLI.

Label and output folders are built in tmp_path. A small reference reader below applies the
official 2020 reading rules (CHALLENGE2020.md) line by line; its arrays go through the loop-based
reference metrics of reference_metrics.py, and the package must agree with both to 1e-9.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgnet import labels as label_space
from ecgnet import metrics, scoring

import reference_metrics as reference
from helpers import RECORDS, record_folders
from helpers import ROOT as REPO

CLASSES = label_space.CLASSES
C = label_space.CLASS_INDEX
AF, AFL, IAVB, NORMAL = "164889003", "164890007", "270492004", "426783006"
CRBBB, RBBB = "713427006", "59118001"
PAC, SVPB = "284470004", "63593006"
PVC, VPB = "427172004", "17338001"
UNSCORED = "164865005"  # MI, in dx_mapping_unscored.csv
UNKNOWN = "55827005"  # a 2021 code in neither 2020 mapping
HEADER = "AUROC,AUPRC,Accuracy,F-measure,Fbeta-measure,Gbeta-measure,Challenge metric"


# ---------------------------------------------------------------------------------------------
# Building folders
# ---------------------------------------------------------------------------------------------


def write_label(folder, name, codes, dx_line=None):
    folder.mkdir(parents=True, exist_ok=True)
    dx_line = dx_line if dx_line is not None else "#Dx: " + ",".join(codes)
    text = (
        f"{name} 12 500 5000\n"
        + "".join(f"{name}.mat 16+24 1000/mV 16 0 0 0 0 L{i}\n" for i in range(12))
        + f"#Age: 50\n#Sex: Male\n{dx_line}\n#Rx: Unknown\n"
    )
    (folder / f"{name}.hea").write_text(text)


def output_text(name, codes, binary, scalar):
    return (
        f"#{name}\n"
        + ",".join(codes)
        + "\n"
        + ",".join(str(x) for x in binary)
        + "\n"
        + ",".join(str(x) for x in scalar)
        + "\n"
    )


def write_output(folder, name, codes=None, binary=None, scalar=None, text=None):
    folder.mkdir(parents=True, exist_ok=True)
    if text is None:
        text = output_text(name, codes, binary, scalar)
    (folder / f"{name}.csv").write_text(text)


def full_output(name, positives=(), scores=None):
    """Output text naming all 24 classes: binary 1 for `positives`, scalars from `scores`."""
    scores = scores or {}
    return output_text(name, CLASSES, [int(c in positives) for c in CLASSES], [scores.get(c, 0.0) for c in CLASSES])


# ---------------------------------------------------------------------------------------------
# Reference reading rules (the official scorer's, written plainly)
# ---------------------------------------------------------------------------------------------

EQUIVALENT = {RBBB: CRBBB, SVPB: PAC, VPB: PVC}


def ref_read_label(path):
    row = [0] * len(CLASSES)
    with open(path) as f:
        dx_lines = [line for line in f if line.startswith("#Dx")]
    assert len(dx_lines) == 1
    for item in dx_lines[0].split(": ")[1].split(","):
        code = EQUIVALENT.get(item.strip(), item.strip())
        if code in CLASSES:
            row[CLASSES.index(code)] = 1
    return row


def ref_read_output(path):
    """(binary row, scalar row, well formed?) of one output file."""
    with open(path) as f:
        lines = [line for line in f if line.strip() and not line.strip().startswith("#")]
    counts = set(len(line.split(",")) for line in lines)
    if len(lines) < 3 or len(counts) != 1:
        return [0] * len(CLASSES), [0.0] * len(CLASSES), False
    codes = [EQUIVALENT.get(x.strip(), x.strip()) for x in lines[0].split(",")]
    words = [x.strip() for x in lines[1].split(",")]
    numbers = []
    for x in lines[2].split(","):
        try:
            numbers.append(float(x.strip()))
        except ValueError:
            numbers.append(0.0)
    binary, scalar = [], []
    for cls in CLASSES:
        copies = [k for k, code in enumerate(codes) if code == cls]
        binary.append(1 if any(words[k] in ("1", "True", "true", "T", "t") for k in copies) else 0)
        values = [numbers[k] for k in copies if not math.isnan(numbers[k])]
        value = sum(values) / len(values) if values else 0.0
        scalar.append(0.0 if math.isnan(value) else value)
    return binary, scalar, True


def ref_evaluate_folders(label_folder, output_folder):
    names, labels, binary, scalar, malformed = [], [], [], [], []
    for path in sorted(Path(label_folder).iterdir(), key=lambda p: p.name):
        if not (path.is_file() and path.name.lower().endswith(".hea") and not path.name.startswith(".")):
            continue
        output = Path(output_folder) / (path.name[: -len(".hea")] + ".csv")
        names.append(path.name[: -len(".hea")])
        labels.append(ref_read_label(path))
        b, s, ok = ref_read_output(output)
        binary.append(b)
        scalar.append(s)
        if not ok:
            malformed.append(str(output))
    return names, np.array(labels, bool), np.array(binary, bool), np.array(scalar), malformed


def assert_matches_reference(label_folder, output_folder):
    evaluation = scoring.evaluate_folders(str(label_folder), str(output_folder))
    names, labels, binary, scalar, malformed = ref_evaluate_folders(label_folder, output_folder)
    assert evaluation.record_names == names
    np.testing.assert_array_equal(evaluation.labels, labels)
    np.testing.assert_array_equal(evaluation.outputs.binary, binary)
    np.testing.assert_array_equal(evaluation.outputs.scalar, scalar)
    assert [str(Path(p)) for p in evaluation.outputs.malformed] == malformed
    reference.assert_same_results(evaluation.overall, reference.reference_evaluate(labels, binary, scalar))
    return evaluation


def evaluate_one(tmp_path, label_codes, text, name="A0001"):
    """Parse a single output file through evaluate_folders; returns (binary, scalar, evaluation)."""
    write_label(tmp_path / "labels", name, label_codes)
    write_output(tmp_path / "outputs", name, text=text)
    evaluation = assert_matches_reference(tmp_path / "labels", tmp_path / "outputs")
    return evaluation.outputs.binary[0], evaluation.outputs.scalar[0], evaluation


# ---------------------------------------------------------------------------------------------
# Reading output files
# ---------------------------------------------------------------------------------------------


def test_classes_in_any_order(tmp_path):
    rng = np.random.default_rng(0)
    order = rng.permutation(24)
    codes = [CLASSES[k] for k in order]
    binary = [int(k % 3 == 0) for k in order]
    scalar = [round(0.01 * (k + 1), 2) for k in order]
    b, s, _ = evaluate_one(tmp_path, [AF], output_text("A0001", codes, binary, scalar))
    np.testing.assert_array_equal(b, [k % 3 == 0 for k in range(24)])
    np.testing.assert_allclose(s, [0.01 * (k + 1) for k in range(24)])


def test_permuting_output_class_order_changes_nothing(tmp_path):
    rng = np.random.default_rng(1)
    names = [f"A{i:04d}" for i in range(12)]
    results = []
    for trial in range(3):
        labels_dir, outputs_dir = tmp_path / f"l{trial}", tmp_path / f"o{trial}"
        data_rng = np.random.default_rng(2)
        for name in names:
            truth = [c for c in CLASSES if data_rng.random() < 0.15]
            write_label(labels_dir, name, truth)
            binary = (data_rng.random(24) < 0.2).astype(int)
            scalar = np.round(data_rng.random(24), 1)
            order = rng.permutation(24) if trial else np.arange(24)
            write_output(outputs_dir, name, [CLASSES[k] for k in order], binary[order], scalar[order])
        results.append(assert_matches_reference(labels_dir, outputs_dir))
    for other in results[1:]:
        np.testing.assert_array_equal(other.outputs.binary, results[0].outputs.binary)
        np.testing.assert_array_equal(other.outputs.scalar, results[0].outputs.scalar)
        for name in metrics.METRIC_NAMES:
            assert reference.same(other.overall[name], results[0].overall[name])


@pytest.mark.parametrize(
    "label_code, output_code",
    [(RBBB, CRBBB), (CRBBB, RBBB), (SVPB, PAC), (PAC, SVPB), (VPB, PVC), (PVC, VPB), (RBBB, RBBB)],
)
def test_equivalent_codes_on_either_side(tmp_path, label_code, output_code):
    target = EQUIVALENT.get(label_code, label_code)
    b, s, evaluation = evaluate_one(tmp_path, [label_code], output_text("A0001", [output_code], [1], [0.75]))
    assert evaluation.labels[0].tolist() == [c == target for c in CLASSES]
    assert b.tolist() == [c == target for c in CLASSES]
    assert s[C[target]] == 0.75
    assert evaluation.overall["classes"]["true positives"][C[target]] == 1
    assert evaluation.overall["Accuracy"] == 1.0
    assert evaluation.overall["F-measure"] == 1.0


def test_same_code_twice(tmp_path):
    codes = [AF, AF, AFL, AFL, IAVB, IAVB, IAVB, CRBBB, RBBB, PAC, SVPB, NORMAL, NORMAL, PVC, VPB]
    binary = [0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0]
    scalar = ["0.2", "0.6", "0.3", "abc", "nan", "0.4", "0.8", "0.2", "0.6", "nan", "nan", "x", "y", "inf", "1"]
    b, s, _ = evaluate_one(tmp_path, [AF], output_text("A0001", codes, binary, scalar))
    assert b[C[AF]] and not b[C[AFL]] and b[C[IAVB]] and b[C[CRBBB]] and not b[C[PAC]] and b[C[NORMAL]]
    assert s[C[AF]] == pytest.approx(0.4)  # mean(.2, .6)
    assert s[C[AFL]] == pytest.approx(0.15)  # non-numeric counts as 0: mean(.3, 0)
    assert s[C[IAVB]] == pytest.approx(0.6)  # nan skipped: mean(.4, .8)
    assert s[C[CRBBB]] == pytest.approx(0.4)  # equivalent codes merged: mean(.2, .6)
    assert s[C[PAC]] == 0.0  # all copies nan -> 0
    assert s[C[NORMAL]] == 0.0  # mean(0, 0)
    assert s[C[PVC]] == math.inf  # mean(inf, 1)
    assert b.sum() == 4


@pytest.mark.parametrize(
    "word, value",
    [
        ("1", True),
        ("True", True),
        ("true", True),
        ("T", True),
        ("t", True),
        (" 1 ", True),
        ("TRUE", False),
        ("yes", False),
        ("2", False),
        ("1.0", False),
        ("Y", False),
        ("0", False),
        ("", False),
        ("false", False),
        ("-1", False),
        ("on", False),
    ],
)
def test_binary_words(tmp_path, word, value):
    b, _, _ = evaluate_one(tmp_path, [AF], f"{AF},{NORMAL}\n{word},0\n0.5,0.5\n")
    assert bool(b[C[AF]]) is value
    assert not b[C[NORMAL]]


@pytest.mark.parametrize(
    "word, value",
    [
        ("0.25", 0.25),
        (" 0.25 ", 0.25),
        ("1e-3", 0.001),
        ("-2", -2.0),
        ("7", 7.0),
        ("nan", 0.0),
        ("NaN", 0.0),
        ("abc", 0.0),
        ("", 0.0),
        ("0.5%", 0.0),
        ("inf", math.inf),
        ("-inf", -math.inf),
        ("Infinity", math.inf),
    ],
)
def test_scalar_words(tmp_path, word, value):
    _, s, _ = evaluate_one(tmp_path, [AF], f"{AF},{NORMAL}\n1,0\n{word},0.5\n")
    assert s[C[AF]] == value
    assert s[C[NORMAL]] == 0.5


def test_blank_and_comment_lines_anywhere(tmp_path):
    text = (
        f"\n#A0001\n\n   \n# another comment\n{AF},{NORMAL},{AFL}\n  # indented comment\n\n"
        f"1,0,1\n#,,\n\t\n0.9,0.1,0.7\n\n# trailing\n"
    )
    b, s, evaluation = evaluate_one(tmp_path, [AF], text)
    assert evaluation.outputs.malformed == []
    assert b[C[AF]] and b[C[AFL]] and not b[C[NORMAL]]
    assert (s[C[AF]], s[C[NORMAL]], s[C[AFL]]) == (0.9, 0.1, 0.7)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "#A0001\n",
        f"#A0001\n{AF},{NORMAL}\n1,0\n",  # only two content lines
        f"{AF},{NORMAL}\n\n# x\n1,0\n",
        f"{AF},{NORMAL}\n1,0,1\n0.5,0.5\n",  # unequal comma counts
        f"{AF},{NORMAL}\n1,0\n0.5\n",
        f"{AF},{NORMAL}\n1,0\n0.5,0.5\n1,2,3\n",  # a 4th line with another count
        f"{AF}\n1\n0.9\nextra,line\n",
    ],
)
def test_malformed_output_files_are_all_negative_and_listed(tmp_path, text):
    write_label(tmp_path / "labels", "A0001", [AF])
    write_label(tmp_path / "labels", "A0002", [AF])
    write_output(tmp_path / "outputs", "A0001", text=text)
    write_output(tmp_path / "outputs", "A0002", text=full_output("A0002", [AF], {AF: 0.9}))
    evaluation = assert_matches_reference(tmp_path / "labels", tmp_path / "outputs")
    assert evaluation.outputs.malformed == [str(tmp_path / "outputs" / "A0001.csv")]
    assert not evaluation.outputs.binary[0].any()
    assert not evaluation.outputs.scalar[0].any()
    assert evaluation.outputs.binary[1, C[AF]]
    assert scoring.read_output_file(str(tmp_path / "outputs" / "A0001.csv")) is None


def test_extra_line_with_equal_commas_is_ignored(tmp_path):
    b, s, evaluation = evaluate_one(tmp_path, [AF], f"{AF},{NORMAL}\n1,0\n0.5,0.2\n0,1\n")
    assert evaluation.outputs.malformed == []
    assert b[C[AF]] and not b[C[NORMAL]] and s[C[NORMAL]] == 0.2


def test_absent_classes_are_negative_with_zero_scalar(tmp_path):
    b, s, _ = evaluate_one(tmp_path, [AF, AFL], f"{AF}\n1\n0.9\n")
    assert b.tolist() == [c == AF for c in CLASSES]
    assert s.tolist() == [0.9 if c == AF else 0.0 for c in CLASSES]


def test_unscored_and_unknown_codes_are_ignored(tmp_path):
    codes = [UNSCORED, AF, UNKNOWN, "", "garbage", NORMAL]
    b, s, evaluation = evaluate_one(
        tmp_path,
        [AF, UNSCORED, UNKNOWN, ""],
        output_text("A0001", codes, [1, 1, 1, 1, 1, 0], [0.9, 0.8, 0.7, 0.6, 0.5, 0.1]),
    )
    assert evaluation.labels[0].tolist() == [c == AF for c in CLASSES]
    assert b.tolist() == [c == AF for c in CLASSES]
    assert s[C[AF]] == 0.8 and s[C[NORMAL]] == 0.1 and s.sum() == pytest.approx(0.9)


def test_label_file_reading(tmp_path):
    write_label(tmp_path, "A0001", [], dx_line=f"#Dx: {RBBB}, {AF} ,,{UNSCORED},{PVC},{CRBBB},{VPB}")
    row = scoring.read_label_file(str(tmp_path / "A0001.hea"))
    assert row.dtype == bool
    assert row.tolist() == [c in (CRBBB, AF, PVC) for c in CLASSES]
    write_label(tmp_path, "A0002", [], dx_line="#Dx: ")
    assert not scoring.read_label_file(str(tmp_path / "A0002.hea")).any()


@pytest.mark.parametrize("records", record_folders())
def test_real_label_files(records, tmp_path):
    # Real headers used as label files (every third of the whole sample); outputs predict each
    # record's labels exactly.
    folder = tmp_path / "outputs"
    paths = sorted(records.glob("*.hea"))[:: 1 if records == RECORDS else 3]
    for path in paths:
        truth = ref_read_label(path)
        positives = [c for c, y in zip(CLASSES, truth) if y]
        write_output(folder, path.stem, text=full_output(path.stem, positives, {c: 1.0 for c in positives}))
    labels_dir = tmp_path / "labels"
    labels_dir.mkdir()
    for path in paths:
        (labels_dir / path.name).write_bytes(path.read_bytes())
    evaluation = assert_matches_reference(labels_dir, folder)
    overall = evaluation.overall
    for name in ("AUPRC", "Accuracy", "F-measure", "Fbeta-measure", "Gbeta-measure", "Challenge metric"):
        assert overall[name] == pytest.approx(1.0, abs=1e-12), name
    assert overall["AUROC"] == pytest.approx(1.0)
    # JS20005's empty item and 2021 codes do not disturb the labels.
    if (labels_dir / "JS20005.hea").exists():
        i = evaluation.record_names.index("JS20005")
        assert evaluation.labels[i].tolist() == [c in (PAC, "427084000", PVC) for c in CLASSES]


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_missing_output_file_is_an_error_naming_it(tmp_path):
    write_label(tmp_path / "labels", "A0001", [AF])
    write_label(tmp_path / "labels", "A0002", [AF])
    write_output(tmp_path / "outputs", "A0001", text=full_output("A0001", [AF]))
    with pytest.raises(scoring.ScoringError) as e:
        scoring.evaluate_folders(str(tmp_path / "labels"), str(tmp_path / "outputs"))
    assert "A0002.csv" in str(e.value)


def test_no_label_files_is_an_error(tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "outputs").mkdir()
    (tmp_path / "labels" / "notes.txt").write_text("x")
    with pytest.raises(scoring.ScoringError):
        scoring.evaluate_folders(str(tmp_path / "labels"), str(tmp_path / "outputs"))


@pytest.mark.parametrize("dx_lines", [[], ["#Dx: 164889003", "#Dx: 426783006"], ["#Dx:164889003"]])
def test_label_file_without_one_readable_dx_line_is_an_error(tmp_path, dx_lines):
    labels_dir = tmp_path / "labels"
    write_label(labels_dir, "A0001", [], dx_line="\n".join(dx_lines) if dx_lines else "#Rx: none")
    write_output(tmp_path / "outputs", "A0001", text=full_output("A0001", [AF]))
    with pytest.raises(scoring.ScoringError) as e:
        scoring.evaluate_folders(str(labels_dir), str(tmp_path / "outputs"))
    assert "A0001.hea" in str(e.value)


def test_pairing_ignores_hidden_and_other_files(tmp_path):
    labels_dir, outputs_dir = tmp_path / "labels", tmp_path / "outputs"
    for name in ("A0002", "A0001"):
        write_label(labels_dir, name, [AF])
        write_output(outputs_dir, name, text=full_output(name, [AF]))
    (labels_dir / ".A0003.hea").write_text("#Dx: 164889003\n")
    (labels_dir / "A0004.mat").write_text("x")
    (labels_dir / "A0005.hea").mkdir()
    write_output(outputs_dir, "A0009", text=full_output("A0009", [AF]))  # an output without label
    label_files, output_files = scoring.find_label_output_pairs(str(labels_dir), str(outputs_dir))
    assert [Path(p).name for p in label_files] == ["A0001.hea", "A0002.hea"]
    assert [Path(p).name for p in output_files] == ["A0001.csv", "A0002.csv"]


# ---------------------------------------------------------------------------------------------
# Random folders against the reference
# ---------------------------------------------------------------------------------------------

POOL = list(CLASSES) + [RBBB, SVPB, VPB] * 3 + [UNSCORED, UNKNOWN, ""]
TRUE_ISH = ["1", "True", "true", "T", "t", " 1"]
FALSE_ISH = ["0", "TRUE", "yes", "2", "1.0", "false", "F", ""]
PREFIXES = ["A", "Q", "I", "S", "HR", "E", "JS", "X"]


def random_output_text(rng, name):
    k = int(rng.integers(1, 30))
    codes = [POOL[i] for i in rng.integers(0, len(POOL), size=k)]
    words = [rng.choice(TRUE_ISH) if rng.random() < 0.3 else rng.choice(FALSE_ISH) for _ in codes]
    numbers = []
    for _ in codes:
        r = rng.random()
        if r < 0.08:
            numbers.append(str(rng.choice(["nan", "abc", "", "inf", "-inf", "1e-2", "NaN"])))
        else:
            numbers.append(f"{rng.random():.{int(rng.integers(1, 3))}f}")
    lines = [f"#{name}", ",".join(codes), ",".join(words), ",".join(numbers)]
    r = rng.random()
    if r < 0.1:
        del lines[int(rng.integers(1, 4))]
    elif r < 0.2:
        i = int(rng.integers(1, 4))
        lines[i] += ","
    elif r < 0.25:
        lines.append(",".join(["0"] * (len(codes) + 1)))
    elif r < 0.3:
        lines.append(",".join(["1"] * len(codes)))
    for _ in range(int(rng.integers(0, 3))):
        lines.insert(int(rng.integers(0, len(lines) + 1)), str(rng.choice(["", "  ", "# note", " #x,y"])))
    return "\n".join(lines) + ("\n" if rng.random() < 0.8 else "")


@pytest.mark.parametrize("seed", range(12))
def test_random_folders_match_reference(tmp_path, seed):
    rng = np.random.default_rng(seed)
    labels_dir, outputs_dir = tmp_path / "labels", tmp_path / "outputs"
    for i in range(int(rng.integers(1, 40))):
        name = f"{rng.choice(PREFIXES)}{i:05d}"
        truth = [POOL[j] for j in rng.integers(0, len(POOL), size=int(rng.integers(0, 4)))]
        write_label(labels_dir, name, truth)
        write_output(outputs_dir, name, text=random_output_text(rng, name))
    evaluation = assert_matches_reference(labels_dir, outputs_dir)
    # Per source: the same metrics over each prefix's records.
    names, labels, binary, scalar, _ = ref_evaluate_folders(labels_dir, outputs_dir)
    groups = {}
    for i, name in enumerate(names):
        prefix = name[:2] if name[:2] in ("HR", "JS") else name[0]
        groups.setdefault(prefix if prefix in ("A", "Q", "I", "S", "HR", "E", "JS") else "other", []).append(i)
    assert set(evaluation.by_source) == set(groups)
    for source, rows in groups.items():
        reference.assert_same_results(
            evaluation.by_source[source], reference.reference_evaluate(labels[rows], binary[rows], scalar[rows]), source
        )


def test_source_of():
    assert [
        scoring.source_of(n)
        for n in ["A0001", "Q0001", "I0001", "S0001", "HR00001", "E00001", "JS00001", "X1", "0001", "a0001", "H0001"]
    ] == ["A", "Q", "I", "S", "HR", "E", "JS", "other", "other", "other", "other"]


# ---------------------------------------------------------------------------------------------
# The CLI and its files
# ---------------------------------------------------------------------------------------------


def run_cli(*args):
    return subprocess.run(
        [sys.executable, str(REPO / "evaluate_model.py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=str(REPO),
        timeout=120,
    )


def build_mixed_folders(tmp_path):
    """Records of every source prefix (and one 'other'), with one malformed output file."""
    rng = np.random.default_rng(42)
    labels_dir, outputs_dir = tmp_path / "labels", tmp_path / "outputs"
    names = [
        "A0001",
        "A0002",
        "A0003",
        "Q0001",
        "Q0002",
        "I0001",
        "S0001",
        "S0002",
        "HR00001",
        "HR00002",
        "E00001",
        "E00002",
        "E00003",
        "JS00001",
        "X0001",
    ]
    common = [AF, NORMAL, AFL, IAVB, CRBBB, PAC]
    for name in names:
        truth = [c for c in common if rng.random() < 0.35] or [NORMAL]
        write_label(labels_dir, name, truth)
        positives = [c for c in common if (c in truth) != (rng.random() < 0.2)]
        scores = {c: round(float(rng.random()) * 0.5 + 0.5 * (c in truth), 2) for c in CLASSES}
        write_output(outputs_dir, name, text=full_output(name, positives, scores))
    write_output(outputs_dir, "E00003", text=f"{AF},{NORMAL}\n1,0\n")  # malformed
    return labels_dir, outputs_dir, names


def test_cli_writes_official_files_and_json(tmp_path):
    labels_dir, outputs_dir, names = build_mixed_folders(tmp_path)
    scores_csv, class_csv, json_path = tmp_path / "scores.csv", tmp_path / "class_scores.csv", tmp_path / "e.json"
    done = run_cli(labels_dir, outputs_dir, scores_csv, class_csv, "--json", json_path)
    assert done.returncode == 0, done.stderr
    malformed = str(outputs_dir / "E00003.csv")
    assert malformed in done.stderr and "formatting errors" in done.stderr

    ref_names, labels, binary, scalar, ref_malformed = ref_evaluate_folders(labels_dir, outputs_dir)
    assert ref_malformed == [malformed]
    expected = reference.reference_evaluate(labels, binary, scalar)

    # SCORES_CSV: header line, one row of three decimals, no newline at the end.
    text = scores_csv.read_text()
    assert text == HEADER + "\n" + ",".join(f"{expected[n]:.3f}" for n in metrics.METRIC_NAMES)
    assert not text.endswith("\n")
    values = text.split("\n")[1].split(",")
    assert len(values) == 7 and all(len(v.split(".")[1]) == 3 for v in values)

    # CLASS_SCORES_CSV: rows Classes, AUROC, AUPRC, F-measure over the 24 classes.
    text = class_csv.read_text()
    assert not text.endswith("\n")
    rows = [line.split(",") for line in text.split("\n")]
    assert [row[0] for row in rows] == ["Classes", "AUROC", "AUPRC", "F-measure"]
    assert rows[0][1:] == list(CLASSES)
    for row, name in zip(rows[1:], ("AUROC", "AUPRC", "F-measure")):
        assert row[1:] == [f"{x:.3f}" for x in expected["classes"][name]]
    assert "nan" in rows[1]  # classes without positives are undefined, written as nan

    # --json: full precision, per class rows with counts, per source groups.
    data = json.loads(json_path.read_text())
    assert data["records"] == len(names)
    assert data["malformed_output_files"] == [malformed]
    for name in metrics.METRIC_NAMES:
        assert reference.same(data[name], expected[name]), name
    evaluation = scoring.evaluate_folders(str(labels_dir), str(outputs_dir))
    for name in metrics.METRIC_NAMES:
        assert data[name] == evaluation.overall[name]  # not rounded
    assert any(round(data[n], 3) != data[n] for n in metrics.METRIC_NAMES)
    assert [row["class"] for row in data["classes"]] == list(CLASSES)
    assert [row["abbreviation"] for row in data["classes"]] == list(label_space.ABBREVIATIONS)
    for k, row in enumerate(data["classes"]):
        assert row["positives"] == int(labels[:, k].sum())
        assert row["predicted positives"] == int(binary[:, k].sum())
        assert row["true positives"] == int((labels[:, k] & binary[:, k]).sum())
        for name in ("AUROC", "AUPRC", "F-measure"):
            want = expected["classes"][name][k]
            assert (row[name] is None) if math.isnan(want) else reference.same(row[name], want), (name, k)
    groups = {
        "A": ["A0001", "A0002", "A0003"],
        "Q": ["Q0001", "Q0002"],
        "I": ["I0001"],
        "S": ["S0001", "S0002"],
        "HR": ["HR00001", "HR00002"],
        "E": ["E00001", "E00002", "E00003"],
        "JS": ["JS00001"],
        "other": ["X0001"],
    }
    assert set(data["sources"]) == set(groups)
    assert data["sources"]["HR"]["name"] == "PTB-XL" and data["sources"]["E"]["name"] == "Georgia"
    assert data["sources"]["A"]["name"] == "CPSC2018" and data["sources"]["other"]["name"] == "other sources"
    assert data["sources"]["JS"]["name"] == "Chapman-Shaoxing/Ningbo"
    for source, members in groups.items():
        rows = [ref_names.index(n) for n in members]
        want = reference.reference_evaluate(labels[rows], binary[rows], scalar[rows])
        got = data["sources"][source]
        assert got["records"] == len(members)
        for name in metrics.METRIC_NAMES:
            assert (got[name] is None) if math.isnan(want[name]) else reference.same(got[name], want[name]), (
                source,
                name,
            )
        assert [row["positives"] for row in got["classes"]] == labels[rows].sum(axis=0).tolist()


def test_cli_prints_scores_without_files(tmp_path):
    labels_dir, outputs_dir, _ = build_mixed_folders(tmp_path)
    done = run_cli(labels_dir, outputs_dir)
    assert done.returncode == 0, done.stderr
    evaluation = scoring.evaluate_folders(str(labels_dir), str(outputs_dir))
    assert done.stdout == scoring.scores_csv(evaluation.overall) + "\n"
    assert done.stdout.startswith(HEADER + "\n")
    # Only SCORES_CSV: no class file is written.
    done = run_cli(labels_dir, outputs_dir, tmp_path / "only.csv")
    assert done.returncode == 0 and done.stdout == ""
    assert (tmp_path / "only.csv").read_text() == scoring.scores_csv(evaluation.overall)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels", "only.csv", "outputs"]


def test_cli_missing_output_file(tmp_path):
    labels_dir, outputs_dir, _ = build_mixed_folders(tmp_path)
    (outputs_dir / "Q0002.csv").unlink()
    done = run_cli(labels_dir, outputs_dir, tmp_path / "scores.csv")
    assert done.returncode != 0
    assert "Q0002.csv" in done.stderr
    assert not (tmp_path / "scores.csv").exists()


def test_cli_missing_label_folder(tmp_path):
    done = run_cli(tmp_path / "nowhere", tmp_path)
    assert done.returncode != 0
    assert "nowhere" in done.stderr


def test_perfect_outputs_through_files(tmp_path):
    labels_dir, outputs_dir = tmp_path / "labels", tmp_path / "outputs"
    rng = np.random.default_rng(5)
    for i in range(20):
        truth = [c for c in CLASSES if rng.random() < 0.1] or [NORMAL]
        write_label(labels_dir, f"A{i:04d}", truth)
        write_output(outputs_dir, f"A{i:04d}", text=full_output(f"A{i:04d}", truth, {c: 1.0 for c in truth}))
    result = assert_matches_reference(labels_dir, outputs_dir).overall
    for name in metrics.METRIC_NAMES:
        assert result[name] == pytest.approx(1.0, abs=1e-12), name
    assert scoring.scores_csv(result) == HEADER + "\n" + ",".join(["1.000"] * 7)


def test_normal_only_outputs_through_files(tmp_path):
    labels_dir, outputs_dir = tmp_path / "labels", tmp_path / "outputs"
    rng = np.random.default_rng(6)
    for i in range(15):
        truth = [c for c in CLASSES if rng.random() < 0.15] or [AF]
        write_label(labels_dir, f"Q{i:04d}", truth)
        write_output(outputs_dir, f"Q{i:04d}", text=full_output(f"Q{i:04d}", [NORMAL]))
    result = assert_matches_reference(labels_dir, outputs_dir).overall
    assert result["Challenge metric"] == pytest.approx(0.0, abs=1e-12)


def test_writing_equivalent_codes_merges_through_files(tmp_path):
    # Writing the pair's second codes instead of the first scores exactly the same.
    labels_dir = tmp_path / "labels"
    rng = np.random.default_rng(8)
    pairs = {CRBBB: RBBB, PAC: SVPB, PVC: VPB}
    rows = []
    for i in range(10):
        truth = [c for c in (CRBBB, PAC, PVC, AF) if rng.random() < 0.4] or [NORMAL]
        write_label(labels_dir, f"E{i:05d}", truth)
        rows.append(
            (
                [c for c in (CRBBB, PAC, PVC, AF) if rng.random() < 0.5],
                {c: round(float(rng.random()), 2) for c in CLASSES},
            )
        )
    results = []
    for variant in ("first", "second", "both"):
        folder = tmp_path / variant
        for i, (positives, scores) in enumerate(rows):
            codes = list(CLASSES)
            binary = [int(c in positives) for c in codes]
            scalar = [scores[c] for c in codes]
            if variant == "second":
                codes = [pairs.get(c, c) for c in codes]
            elif variant == "both":  # both codes of each pair with the same values
                extra = list(pairs)
                codes += [pairs[c] for c in extra]
                binary += [int(c in positives) for c in extra]
                scalar += [scores[c] for c in extra]
            write_output(folder, f"E{i:05d}", codes, binary, scalar)
        results.append(assert_matches_reference(labels_dir, folder))
    for other in results[1:]:
        np.testing.assert_array_equal(other.outputs.binary, results[0].outputs.binary)
        np.testing.assert_allclose(other.outputs.scalar, results[0].outputs.scalar, rtol=0, atol=1e-15)
        for name in metrics.METRIC_NAMES:
            assert reference.same(other.overall[name], results[0].overall[name]), name


def test_scores_csv_formats_nan_and_negative():
    result = {
        name: value for name, value in zip(metrics.METRIC_NAMES, [float("nan"), 0.12345, 1, 0.5, 0.0004, 0.9995, -0.25])
    }
    assert scoring.scores_csv(result) == HEADER + "\nnan,0.123,1.000,0.500,0.000,1.000,-0.250"

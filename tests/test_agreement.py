"""`ecgnet agreement` (ecgnet.review.agreement): textbook kappas, bootstrap, a small kit, bad files."""

import json
import os

import numpy as np
import pytest

pytest.importorskip("statsmodels")
from ecgnet.review import agreement  # noqa: E402

LAD, IAVB = "39732003", "270492004"
# review_id, record, group, repeat_of, given LAD, model LAD (IAVB is asked too: given 0, model 0)
ITEMS = [
    ("S1", "r1", "suspect", "", 1, 0),
    ("S2", "r2", "suspect", "", 1, 0),
    ("S3", "r3", "suspect", "", 0, 1),
    ("S4", "r4", "suspect", "", 0, 1),
    ("C1", "r5", "control", "", 1, 1),
    ("C2", "r6", "control", "", 0, 0),
    ("P1", "r3", "repeat", "S3", 0, 1),
]
# the reviewers' answers: LAD, IAVB per review ID
ANSWERS = {
    "alice": {"S1": "0,0", "S2": "0,1", "S3": "1,0", "S4": "?,0", "C1": "1,0", "C2": "0,0", "P1": "0,0"},
    "bob": {"S1": "0,0", "S2": "1,0", "S3": "1,0", "S4": "1,0", "C1": "1,0", "C2": "0,0", "P1": "0,0"},
}
FORM_HEADER = "review_id,LAD,IAVB,quality,axis_degrees,confidence,comment"


def write_kit(folder, answers=ANSWERS):
    """A review kit (manifest.json, key.csv) and one answers file per reviewer; their paths."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(
            {"seed": 0, "classes": [{"code": LAD, "abbreviation": "LAD"}, {"code": IAVB, "abbreviation": "IAVB"}]}, f
        )
    lines = [",".join(agreement.KEY_COLUMNS)]
    for review_id, record, group, repeat_of, given, model in ITEMS:
        lines.append(f"{review_id},{record},{group},{repeat_of},{LAD},LAD,{given},{model},{0.2 + 0.6 * model}")
        lines.append(f"{review_id},{record},{group},{repeat_of},{IAVB},IAVB,0,0,0.1")
    with open(os.path.join(folder, "key.csv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    paths = []
    for reviewer, cells in answers.items():
        path = os.path.join(folder, f"{reviewer}.csv")
        with open(path, "w") as f:
            f.write(FORM_HEADER + "\n" + "".join(f"{r},{v},good,-40,high,\n" for r, v in cells.items()))
        paths.append(path)
    return paths


def test_cohen_textbook():
    result = agreement.cohen_table([[20, 5], [10, 15]])
    assert result["kappa"] == pytest.approx(0.40, abs=1e-9)
    assert result["ci"] == pytest.approx([0.151, 0.649], abs=5e-4)
    assert result["agreement"] == pytest.approx(0.70) and result["pabak"] == pytest.approx(0.40)
    x = np.array([1] * 25 + [0] * 25)
    y = np.array([1] * 20 + [0] * 5 + [1] * 10 + [0] * 15)
    assert agreement.cohen(x, y, agreement._rng(0, "t"))["kappa"] == pytest.approx(0.40)


def test_cohen_matches_scikit_learn():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(3)
    x = rng.integers(0, 2, 80)
    y = np.where(rng.random(80) < 0.7, x, 1 - x)
    assert agreement.cohen(x, y, rng)["kappa"] == pytest.approx(cohen_kappa_score(x, y), abs=1e-6)


def test_fleiss_textbook():
    """The worked example of Fleiss' kappa (10 subjects, 14 raters, 5 categories): 0.2099."""
    table = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )
    result = agreement.fleiss(table, agreement._rng(0, "f"))
    assert result["kappa"] == pytest.approx(0.2099, abs=5e-5)
    assert result["ci"][0] < 0.2099 < result["ci"][1]
    # the vectorised bootstrap formula is statsmodels' formula
    assert agreement._fleiss_vectorised(table) == pytest.approx(0.2099307, abs=1e-7)


def test_bootstrap_is_reproducible():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, 40)
    y = np.where(rng.random(40) < 0.8, x, 1 - x)
    first = agreement.bootstrap_cohen(x, y, agreement._rng(7, "k"))
    assert first == agreement.bootstrap_cohen(x, y, agreement._rng(7, "k"))
    assert first != agreement.bootstrap_cohen(x, y, agreement._rng(8, "k"))
    counts = agreement.fleiss_counts(np.stack([x, y, x], axis=1))
    assert agreement.fleiss(counts, agreement._rng(7, "f")) == agreement.fleiss(counts, agreement._rng(7, "f"))


def test_degenerate_tables_are_none_with_a_reason():
    same = agreement.cohen([1, 1, 1], [1, 1, 1], agreement._rng(0, "d"))
    assert same["kappa"] is None and same["ci"] is None and "undefined" in same["reason"] and same["agreement"] == 1
    empty = agreement.cohen([], [], agreement._rng(0, "d"))
    assert empty["kappa"] is None and empty["n"] == 0 and empty["reason"]
    fleiss = agreement.fleiss(agreement.fleiss_counts([[0, 0], [0, 0]]), agreement._rng(0, "d"))
    assert fleiss["kappa"] is None and "undefined" in fleiss["reason"]
    one = agreement.fleiss(agreement.fleiss_counts([[0], [1]]), agreement._rng(0, "d"))
    assert one["kappa"] is None and "two reviewers" in one["reason"]
    json.dumps([same, empty, fleiss, one], allow_nan=False)


def test_report_of_a_kit(tmp_path, capsys):
    paths = write_kit(tmp_path / "kit")
    out = tmp_path / "report.json"
    assert (
        agreement.main(
            [
                str(tmp_path / "kit"),
                *paths,
                "--json",
                str(out),
                "--consensus",
                str(tmp_path / "consensus.csv"),
                "--resamples",
                "500",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "LAD (39732003)" in text and "alice~bob" in text
    report = json.loads(out.read_text())
    json.dumps(report, allow_nan=False)
    lad = report["classes"][LAD]
    suspect = lad["groups"]["suspect"]
    # alice on suspects: S1 0 vs 1, S2 0 vs 1, S3 1 vs 0, S4 uncertain
    assert suspect["vs_labels"]["alice"]["n"] == 3 and suspect["vs_labels"]["alice"]["uncertain"] == 1
    assert suspect["vs_labels"]["alice"]["agreement"] == 0
    assert suspect["vs_model"]["alice"]["agreement"] == 1
    assert set(suspect["vs_labels"]["alice"]) >= {"kappa", "ci", "n", "ci_bootstrap", "pabak", "table"}
    assert suspect["between"]["alice~bob"]["n"] == 3 and suspect["between"]["alice~bob"]["uncertain"] == 1
    assert suspect["fleiss"]["n"] == 3 and suspect["fleiss"]["raters"] == 2
    assert suspect["consensus"] == {
        **suspect["consensus"],
        "1": 2,
        "0": 1,
        "uncertain": 1,
        "contradicts_label": 3,
        "confirms_label": 0,
    }
    control = lad["groups"]["control"]
    assert control["vs_labels"]["bob"]["kappa"] == 1 and control["consensus"]["confirms_label"] == 2
    assert lad["vs_labels"]["alice"]["n"] == 5  # pooled suspects and controls; the repeat is not counted
    # self-consistency: both reviewers answered S3 1 and its repeat P1 0
    assert lad["self_consistency"]["alice"]["n"] == 1 and lad["self_consistency"]["alice"]["agreement"] == 0
    iavb = report["classes"][IAVB]
    assert iavb["vs_labels"]["bob"]["kappa"] is None and "every answer is 0" in iavb["vs_labels"]["bob"]["reason"]
    assert report["reviewers"]["alice"]["uncertain_answers"] == 1
    consensus = (tmp_path / "consensus.csv").read_text().splitlines()
    assert consensus[0].startswith("review_id,record,group,class") and len(consensus) == 1 + 12
    # the same seed gives the same report
    assert (
        agreement.main([str(tmp_path / "kit"), *paths, "--json", str(tmp_path / "again.json"), "--resamples", "500"])
        == 0
    )
    assert json.loads((tmp_path / "again.json").read_text()) == report


@pytest.mark.parametrize(
    "form, where",
    [
        (FORM_HEADER + "\nS9,1,0,,,,\n", "row 2, column review_id: review ID 'S9' is not in"),
        (FORM_HEADER + "\nS1,1,0,,,,\nS2,yes,0,,,,\n", "row 3, column LAD: 'yes' is not 1"),
        (FORM_HEADER + "\nS1,1,2,,,,\n", "row 2, column IAVB: '2' is not 1"),
        ("review_id,IAVB,comment\nS1,1,\n", "row 1: missing column(s) LAD"),
        (FORM_HEADER + ",notes\nS1,1,0,,,,,\n", "row 1, column 8: 'notes' is not a column of the answer form"),
        (FORM_HEADER + "\nS1,,0,,,,\n", "row 2, column LAD: the answer is blank"),
        (FORM_HEADER + "\nS1,1,0,,,,\nS1,0,0,,,,\n", "row 3, column review_id: review ID S1 is also on row 2"),
        (FORM_HEADER + "\n,1,0,,,,\n", "row 2, column review_id: the review ID is empty"),
    ],
)
def test_bad_answer_files_name_file_row_and_column(tmp_path, capsys, form, where):
    write_kit(tmp_path / "kit", answers={})
    path = tmp_path / "carol.csv"
    path.write_text(form)
    assert agreement.main([str(tmp_path / "kit"), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path} ") and where in err


def test_blank_as_uncertain_and_spreadsheet_quirks(tmp_path):
    write_kit(tmp_path / "kit", answers={})
    kit = agreement.load_kit(tmp_path / "kit")
    path = tmp_path / "dave.csv"
    # a byte order mark, a trailing empty column, spaces, and only some items answered
    path.write_text("\ufeff" + FORM_HEADER + ",\nS1, ,0,,,,,\nS2, 1 ,?,,,,,\n", encoding="utf-8")
    answers = agreement.read_answers(path, kit, blank_as_uncertain=True)
    assert answers.reviewer == "dave" and answers.answered == {"S1", "S2"}
    assert answers.cells[("S1", LAD)] is None and answers.cells[("S2", LAD)] == 1
    assert answers.cells[("S2", IAVB)] is None


def test_bad_kit_is_named(tmp_path, capsys):
    paths = write_kit(tmp_path / "kit")
    key = tmp_path / "kit" / "key.csv"
    key.write_text(key.read_text().replace(",suspect,,39732003,LAD,1,", ",suspect,,39732003,LAD,yes,", 1))
    assert agreement.main([str(tmp_path / "kit"), *paths]) == 2
    assert f"{key} row 2, column given_label" in capsys.readouterr().err
    (tmp_path / "kit" / "manifest.json").unlink()
    assert agreement.main([str(tmp_path / "kit"), *paths]) == 2
    assert "manifest.json is missing" in capsys.readouterr().err

"""`ecgnet agreement` (ecgnet.review.agreement): textbook kappas, bootstrap, a small kit, bad files."""

import hashlib
import json
import os

import numpy as np
import pytest

pytest.importorskip("statsmodels")
from ecgnet.cli import review as commands  # noqa: E402
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
FORM_HEADER = "kit_id,review_id,LAD,IAVB,quality,axis_degrees,confidence,comment"
RANDOM_ID = "ABCDEFGH"


def write_kit(folder, answers=ANSWERS, items=ITEMS, random_id=RANDOM_ID):
    """A review kit (manifest.json, key.csv) and one answers file per reviewer; their paths."""
    os.makedirs(folder, exist_ok=True)
    lines = [",".join(agreement.KEY_COLUMNS)]
    for review_id, record, group, repeat_of, given, model in items:
        lines.append(f"{review_id},{record},{group},{repeat_of},{LAD},LAD,{given},{model},{0.2 + 0.6 * model}")
        lines.append(f"{review_id},{record},{group},{repeat_of},{IAVB},IAVB,0,0,0.1")
    key = ("\n".join(lines) + "\n").encode()
    with open(os.path.join(folder, "key.csv"), "wb") as f:
        f.write(key)
    sha = hashlib.sha256(key).hexdigest()
    identity = f"K{random_id}-{sha[:8]}"
    classes = [{"code": LAD, "abbreviation": "LAD"}, {"code": IAVB, "abbreviation": "IAVB"}]
    manifest = {"seed": 0, "classes": classes, "kit_id": identity, "kit_random_id": random_id, "key_sha256": sha}
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    paths = []
    for reviewer, cells in answers.items():
        path = os.path.join(folder, f"{reviewer}.csv")
        with open(path, "w") as f:
            f.write(FORM_HEADER + "\n" + "".join(f"{identity},{r},{v},G,-40,4,\n" for r, v in cells.items()))
        paths.append(path)
    return paths


def identity_of(folder):
    return json.loads((folder / "manifest.json").read_text())["kit_id"]


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
    assert same["kappa"] is None and same["ci"] is None and "gave only 1s" in same["reason"] and same["agreement"] == 1
    empty = agreement.cohen([], [], agreement._rng(0, "d"))
    assert empty["kappa"] is None and empty["n"] == 0 and empty["reason"]
    fleiss = agreement.fleiss(agreement.fleiss_counts([[0, 0], [0, 0]]), agreement._rng(0, "d"))
    assert fleiss["kappa"] is None and "every answer is 0" in fleiss["reason"]
    one = agreement.fleiss(agreement.fleiss_counts([[0], [1]]), agreement._rng(0, "d"))
    assert one["kappa"] is None and "two reviewers" in one["reason"]
    json.dumps([same, empty, fleiss, one], allow_nan=False)


def test_report_of_a_kit(tmp_path, capsys):
    paths = write_kit(tmp_path / "kit")
    out = tmp_path / "report.json"
    assert (
        commands.agreement(
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
    assert iavb["vs_labels"]["bob"]["kappa"] is None and "bob gave only 0s" in iavb["vs_labels"]["bob"]["reason"]
    assert report["reviewers"]["alice"]["uncertain_answers"] == 1
    consensus = (tmp_path / "consensus.csv").read_text().splitlines()
    assert consensus[0].startswith("review_id,record,group,class") and len(consensus) == 1 + 12
    # the same seed gives the same report
    assert (
        commands.agreement(
            [str(tmp_path / "kit"), *paths, "--json", str(tmp_path / "again.json"), "--resamples", "500"]
        )
        == 0
    )
    assert json.loads((tmp_path / "again.json").read_text()) == report


@pytest.mark.parametrize(
    "rows, where",
    [
        ("{id},S9,1,0,,,,\n", "row 2, column review_id: review ID 'S9' is not in"),
        ("{id},S1,1,0,,,,\n{id},S2,yes,0,,,,\n", "row 3, column LAD: 'yes' is not allowed (1 present, 0 absent"),
        ("{id},S1,1,2,,,,\n", "row 2, column IAVB: '2' is not allowed"),
        ("{id},S1,,0,,,,\n", "row 2, column LAD: the answer is blank"),
        ("{id},S1,1,0,,,,\n{id},S1,0,0,,,,\n", "row 3, column review_id: review ID S1 is also on row 2"),
        ("{id},,1,0,,,,\n", "row 2, column review_id: the review ID is empty"),
        ("{id},S1,1,0,excellent,,,\n", "row 2, column quality: 'excellent' is not allowed (G good"),
        ("{id},S1,1,0,,left,,\n", "row 2, column axis_degrees: 'left' is not allowed (degrees from -180 to 180"),
        ("{id},S1,1,0,,200,,\n", "row 2, column axis_degrees: '200' is not allowed"),
        ("{id},S1,1,0,,,9,\n", "row 2, column confidence: '9' is not allowed (a whole number from 1 to 5"),
        ("{id},S1,1,0,,,4.5,\n", "row 2, column confidence: '4.5' is not allowed"),
        (",S1,1,0,,,,\n{id},S2,1,0,,,,\n", "row 2, column kit_id: '' is not this kit's identity"),
    ],
)
def test_bad_answer_files_name_file_row_column_and_what_is_allowed(tmp_path, capsys, rows, where):
    write_kit(tmp_path / "kit", answers={})
    path = tmp_path / "carol.csv"
    path.write_text(FORM_HEADER + "\n" + rows.format(id=identity_of(tmp_path / "kit")))
    assert commands.agreement([str(tmp_path / "kit"), str(path), "--allow-incomplete"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and where in err


@pytest.mark.parametrize(
    "header, where",
    [
        ("kit_id,review_id,IAVB,comment", "row 1 has no column LAD"),
        ("review_id,LAD,IAVB", "row 1 has no column kit_id"),
        (FORM_HEADER + ",notes", "row 1, column 9 (notes): not a column of the answer form"),
        ("kit_id;review_id;LAD;IAVB", "seems to use semicolons between cells"),
    ],
)
def test_bad_answer_headers(tmp_path, capsys, header, where):
    write_kit(tmp_path / "kit", answers={})
    path = tmp_path / "carol.csv"
    path.write_text(header + "\n")
    assert commands.agreement([str(tmp_path / "kit"), str(path)]) == 2
    assert where in capsys.readouterr().err


def test_every_problem_of_an_answers_file_is_reported_at_once(tmp_path, capsys):
    write_kit(tmp_path / "kit", answers={})
    identity = identity_of(tmp_path / "kit")
    path = tmp_path / "erin.csv"
    path.write_text(
        FORM_HEADER
        + f"\n{identity},S1,yes,0,excellent,left,9,\n{identity},S2,1,0,G,-45,4,\n{identity},S3,1,maybe,U,,,\n"
    )
    assert commands.agreement([str(tmp_path / "kit"), str(path), "--allow-incomplete"]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}: 5 problems" in err
    for where in (
        "row 2, column LAD: 'yes'",
        "row 2, column quality: 'excellent'",
        "row 2, column axis_degrees: 'left'",
        "row 2, column confidence: '9'",
        "row 4, column IAVB: 'maybe'",
    ):
        assert where in err


def test_answers_of_another_kit_are_refused_naming_both_kits(tmp_path, capsys):
    """Two kits of the same items and order: the forms differ only in their kit_id column."""
    paths = write_kit(tmp_path / "one", random_id="11111111")
    write_kit(tmp_path / "two", answers={}, random_id="22222222")
    one, two = identity_of(tmp_path / "one"), identity_of(tmp_path / "two")
    assert one != two
    assert commands.agreement([str(tmp_path / "two"), *paths]) == 2
    err = capsys.readouterr().err
    assert f"these answers are of kit '{one}', but {tmp_path / 'two'} is kit {two}" in err
    out = tmp_path / "overrides.csv"
    assert commands.relabel([str(tmp_path / "two"), *paths, "--policy", "consensus", "--out", str(out)]) == 2
    assert f"kit '{one}'" in capsys.readouterr().err and not out.exists()
    # one row pasted from the other kit's form
    pasted = tmp_path / "frank.csv"
    pasted.write_text(FORM_HEADER + f"\n{two},S1,1,0,,,,\n{one},S2,1,0,,,,\n")
    assert commands.agreement([str(tmp_path / "two"), str(pasted), "--allow-incomplete"]) == 2
    assert f"row 3, column kit_id: '{one}' is not this kit's identity {two}" in capsys.readouterr().err


def test_a_key_changed_after_the_kit_was_made_is_refused(tmp_path, capsys):
    paths = write_kit(tmp_path / "kit")
    key = tmp_path / "kit" / "key.csv"
    key.write_text(key.read_text().replace("r1,suspect", "r9,suspect"))
    assert commands.agreement([str(tmp_path / "kit"), *paths]) == 2
    assert "key.csv was changed after the kit was made" in capsys.readouterr().err


def test_missing_and_unanswered_items_stop_unless_allowed(tmp_path, capsys):
    paths = write_kit(tmp_path / "kit")
    alice = tmp_path / "kit" / "alice.csv"
    lines = alice.read_text().splitlines()
    identity = identity_of(tmp_path / "kit")
    # S2 and C1 deleted; S4's row left as the blank form has it
    kept = [line for line in lines if ",S2," not in line and ",C1," not in line and ",S4," not in line]
    alice.write_text("\n".join(kept + [f"{identity},S4,,,,,,"]) + "\n")
    assert commands.agreement([str(tmp_path / "kit"), *paths, "--json", str(tmp_path / "r.json")]) == 3
    err = capsys.readouterr().err
    assert f"{alice}: 2 review IDs have no row (S2, C1); 1 rows hold no answer (S4)" in err
    assert "--allow-incomplete" in err and not (tmp_path / "r.json").exists()
    out = tmp_path / "overrides.csv"
    assert commands.relabel([str(tmp_path / "kit"), *paths, "--policy", "consensus", "--out", str(out)]) == 3
    assert not out.exists()
    capsys.readouterr()
    assert commands.agreement([str(tmp_path / "kit"), *paths, "--allow-incomplete", "--resamples", "200"]) == 0
    text = capsys.readouterr().out
    assert "alice: answered 4 of 7 items; missing 2, unanswered 1" in text
    assert "missing: S2, C1" in text and "unanswered: S4" in text
    assert "bob: answered 7 of 7 items; missing 0, unanswered 0" in text


def test_undefined_kappa_is_printed_as_undefined_everywhere(tmp_path, capsys):
    """Control items whose labels are all 1: kappa of a reviewer against them is 0 whatever the
    reviewer answers, so it is undefined, in the text, the JSON and the CSV tables."""
    items = [("C1", "r1", "control", "", 1, 1), ("C2", "r2", "control", "", 1, 1), ("C3", "r3", "control", "", 1, 1)]
    answers = {"alice": {"C1": "1,0", "C2": "0,0", "C3": "1,0"}, "bob": {"C1": "1,0", "C2": "1,0", "C3": "0,0"}}
    paths = write_kit(tmp_path / "kit", answers, items)
    folder = tmp_path / "tables"
    assert (
        commands.agreement([str(tmp_path / "kit"), *paths, "--json", str(tmp_path / "r.json"), "--csv", str(folder)])
        == 0
    )
    text = capsys.readouterr().out
    assert "0.000..0.000" not in text and "kappa  0.000" not in text
    assert "vs labels  alice                kappa undefined (the labels gave only 1s" in text
    report = json.loads((tmp_path / "r.json").read_text())
    lad = report["classes"][LAD]["groups"]["control"]
    assert lad["vs_labels"]["alice"]["kappa"] is None and lad["vs_labels"]["alice"]["ci"] is None
    import csv

    with open(folder / "kappa.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    row = next(r for r in rows if r["group"] == "control" and r["comparison"] == "vs_labels" and r["raters"] == "alice")
    assert row["kappa"] == "" and row["ci_low"] == "" and "only 1s" in row["undefined_because"]
    assert {"kappa.csv", "axis.csv", "reviewers.csv", "consensus.csv"} <= set(os.listdir(folder))
    defined = [r for r in rows if r["kappa"]]
    assert all(-1 <= float(r["kappa"]) <= 1 for r in defined)


def test_uninterpretable_items_are_left_out_of_kappa_and_counted(tmp_path, capsys):
    paths = write_kit(tmp_path / "kit")
    alice = tmp_path / "kit" / "alice.csv"
    alice.write_text(alice.read_text().replace(",S1,0,0,G,", ",S1,0,0,U,"))  # S1 unreadable for alice
    assert commands.agreement([str(tmp_path / "kit"), *paths, "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    suspect = report["classes"][LAD]["groups"]["suspect"]
    assert suspect["vs_labels"]["alice"]["n"] == 2 and suspect["vs_labels"]["alice"]["uninterpretable"] == 1
    assert suspect["between"]["alice~bob"]["uninterpretable"] == 1 and suspect["fleiss"]["uninterpretable"] == 1
    assert report["reviewers"]["alice"]["quality"] == {"G": 6, "A": 0, "U": 1, "not_given": 0}
    assert "uninterpretable 1" in capsys.readouterr().out


def test_axis_agreement(tmp_path, capsys):
    """ICC against the formula written out, and kappa on the -30 degree cut-off against scikit-learn."""
    from sklearn.metrics import cohen_kappa_score

    axes = {
        "alice": {"S1": -45, "S2": -20, "S3": 60, "S4": -35, "C1": -60, "C2": 170, "P1": 55},
        "bob": {"S1": -40, "S2": -35, "S3": 70, "S4": -25, "C1": -55, "C2": -175, "P1": 60},
    }
    paths = write_kit(tmp_path / "kit")
    for path in paths:
        reviewer = os.path.splitext(os.path.basename(path))[0]
        lines = open(path).read().splitlines()
        lines = [lines[0]] + [
            line.replace(",G,-40,", f",G,{axes[reviewer][line.split(',')[1]]},") for line in lines[1:]
        ]
        open(path, "w").write("\n".join(lines) + "\n")
    assert commands.agreement([str(tmp_path / "kit"), *paths, "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())["axis"]["groups"]["all"]
    items = ["S1", "S2", "S3", "S4", "C1", "C2"]
    a = np.array([axes["alice"][r] for r in items], dtype=float)
    b = np.array([axes["bob"][r] for r in items], dtype=float)
    b[items.index("C2")] = 185  # -175 is 15 degrees from 170 on the circle
    expected = agreement.axis.icc_agreement(np.stack([a, b], axis=1))["icc"]
    assert report["icc"]["icc"] == pytest.approx(expected, abs=1e-6) and report["icc"]["n"] == 6
    assert report["pairs"]["alice~bob"]["mean_absolute_difference"] == pytest.approx(np.mean(np.abs(a - b)), abs=1e-6)
    lad = report[LAD]
    x, y = (-90 <= a) & (a <= -30), (-90 <= np.where(b > 180, b - 360, b)) & (np.where(b > 180, b - 360, b) <= -30)
    assert lad["between"]["alice~bob"]["kappa"] == pytest.approx(cohen_kappa_score(x, y), abs=1e-6)
    given = np.array([1, 1, 0, 0, 1, 0])
    assert lad["vs_labels"]["alice"]["kappa"] == pytest.approx(cohen_kappa_score(x, given), abs=1e-6)
    # alice's own LAD answers (S1 0, S2 0, S3 1, C1 1, C2 0; S4 ?) against her axis
    own = [(0, x[0]), (0, x[1]), (1, x[2]), (1, x[4]), (0, x[5])]
    assert lad["vs_own_answer"]["alice"]["kappa"] == pytest.approx(cohen_kappa_score(*zip(*own)), abs=1e-6)
    # LAD-labelled S1, S2, C1: mean axes -42.5, -27.5, -57.5: one from 0 to -30
    assert lad["older_definition"] == {"labelled_and_measured": 3, "axis_0_to_minus_30": 1}
    text = capsys.readouterr().out
    assert "ICC(A,1)" in text and "LAD by axis (-90 to -30)" in text


def test_icc_textbook():
    """Shrout and Fleiss (1979), 6 targets x 4 judges: ICC(2,1) 0.29, 95% CI 0.019 to 0.761 (as
    R's psych::ICC and pingouin give it)."""
    ratings = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    result = agreement.axis.icc_agreement(ratings)
    assert result["icc"] == pytest.approx(0.2898, abs=5e-4) and result["n"] == 6 and result["raters"] == 4
    assert result["ci"] == pytest.approx([0.019, 0.761], abs=1e-3)
    assert agreement.axis.icc_agreement([[1, 1], [1, 1]])["icc"] is None
    assert agreement.axis.icc_agreement([[1, 2]])["reason"]


def test_swapped_arguments_and_oversized_files_are_named(tmp_path, capsys):
    paths = write_kit(tmp_path / "kit")
    assert commands.agreement([paths[0], str(tmp_path / "kit")]) == 2
    err = capsys.readouterr().err
    assert f"{paths[0]} is a file, not a review kit folder" in err and "Not a directory" not in err
    assert commands.agreement([str(tmp_path / "kit"), str(tmp_path / "kit")]) == 2
    assert "is a folder" in capsys.readouterr().err
    huge = tmp_path / "huge.csv"
    with open(huge, "wb") as f:
        f.truncate(29 * 1024 * 1024)  # sparse: no memory or disk taken
    import tracemalloc

    tracemalloc.start()
    assert commands.agreement([str(tmp_path / "kit"), str(huge)]) == 2
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "30,408,704 bytes, more than the 4,194,304 allowed" in capsys.readouterr().err
    assert peak < 4 * 1024 * 1024


def test_blank_as_uncertain_and_spreadsheet_quirks(tmp_path):
    write_kit(tmp_path / "kit", answers={})
    identity = identity_of(tmp_path / "kit")
    kit = agreement.load_kit(tmp_path / "kit")
    path = tmp_path / "dave.csv"
    # a byte order mark, a trailing empty column, spaces, words for quality, a unicode minus
    path.write_text(
        "\ufeff"
        + FORM_HEADER
        + f",\n{identity},S1, ,0,good,\u221245\u00b0,,,\n{identity},S2, 1 ,?,Uninterpretable,,,,\n",
        encoding="utf-8",
    )
    answers = agreement.read_answers(path, kit, blank_as_uncertain=True)
    assert answers.reviewer == "dave" and answers.answered == {"S1", "S2"}
    assert answers.cells[("S1", LAD)] is None and answers.cells[("S2", LAD)] == 1
    assert answers.cells[("S2", IAVB)] is None
    assert answers.items["S1"].quality == "G" and answers.items["S1"].axis == -45
    assert answers.uninterpretable("S2") and answers.missing == ["S3", "S4", "C1", "C2", "P1"]


def test_bad_kit_is_named(tmp_path, capsys):
    paths = write_kit(tmp_path / "kit")
    manifest = json.loads((tmp_path / "kit" / "manifest.json").read_text())
    key = tmp_path / "kit" / "key.csv"
    key.write_text(key.read_text().replace(",suspect,,39732003,LAD,1,", ",suspect,,39732003,LAD,yes,", 1))
    del manifest["kit_id"]  # a kit made before kits had an identity: its key is not checked
    (tmp_path / "kit" / "manifest.json").write_text(json.dumps(manifest))
    plain = [tmp_path / os.path.basename(p) for p in paths]
    for source, target in zip(paths, plain):
        lines = open(source).read().splitlines()
        target.write_text("\n".join(line.split(",", 1)[1] for line in lines) + "\n")
    assert commands.agreement([str(tmp_path / "kit"), *map(str, plain)]) == 2
    assert f"{key}: row 2, column given_label: 'yes' is not allowed (0 or 1)" in capsys.readouterr().err
    (tmp_path / "kit" / "manifest.json").unlink()
    assert commands.agreement([str(tmp_path / "kit"), *paths]) == 2
    assert "manifest.json is missing" in capsys.readouterr().err


def test_ties_go_to_an_adjudication_form_whose_answers_break_them(tmp_path, capsys):
    paths = write_kit(tmp_path / "kit")
    folder = tmp_path / "tables"
    assert commands.agreement([str(tmp_path / "kit"), *paths, "--csv", str(folder), "--resamples", "200"]) == 0
    assert "tie (a 1 against a 0) on some class: 1 (S2)" in capsys.readouterr().out
    form = (folder / "adjudication_form.csv").read_text().splitlines()
    identity = identity_of(tmp_path / "kit")
    assert form == [FORM_HEADER, f"{identity},S2,,,,,,"]
    carol = tmp_path / "carol.csv"
    carol.write_text(form[0] + "\n" + form[1].replace(",S2,,,", ",S2,1,0,") + "\n")
    out = tmp_path / "o.csv"
    args = [str(tmp_path / "kit"), *paths, str(carol), "--policy", "mask", "--out", str(out)]
    assert commands.relabel(args) == 3  # carol answered one item only
    assert commands.relabel([*args, "--allow-incomplete"]) == 0
    assert "r2," not in out.read_text()  # the tie on r2 (S2) is broken: nothing left to mask

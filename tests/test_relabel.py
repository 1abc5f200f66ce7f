"""`ecgnet relabel` (ecgnet.review.relabel): policies, the overrides file, apply_overrides."""

import numpy as np
import pytest

from ecgnet import labels as label_space
from ecgnet.overrides import summary

pytest.importorskip("statsmodels")
from test_agreement import IAVB, LAD, identity_of, write_kit  # noqa: E402

from ecgnet.cli import review as commands  # noqa: E402
from ecgnet.review import audit, relabel  # noqa: E402
from ecgnet.review.formats import ISSUE_COLUMNS  # noqa: E402

K = label_space.NUM_CLASSES


@pytest.mark.parametrize(
    "policy, expected",
    [
        # r1: consensus 0 (given 1); r2: LAD tie (given 1), IAVB tie; r3: 1 (given 0; its repeat's 0s not counted);
        # r4: 1 (bob 1, alice ?; given 0); r5, r6 confirm their labels
        ("consensus", [["r1", LAD, "0"], ["r3", LAD, "1"], ["r4", LAD, "1"]]),
        (
            "mask",
            [["r1", LAD, "mask"], ["r2", IAVB, "mask"], ["r2", LAD, "mask"], ["r3", LAD, "mask"], ["r4", LAD, "mask"]],
        ),
        ("drop", [["r1", "*", "drop"], ["r3", "*", "drop"], ["r4", "*", "drop"]]),
    ],
)
def test_policies(tmp_path, capsys, policy, expected):
    paths = write_kit(tmp_path / "kit")
    out = tmp_path / "overrides.csv"
    assert commands.relabel([str(tmp_path / "kit"), *paths, "--policy", policy, "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "record,class,label" and [line.split(",") for line in lines[1:]] == expected
    assert f"wrote {len(expected)} overrides" in capsys.readouterr().out


def _write(tmp_path, text):
    path = tmp_path / "overrides.csv"
    path.write_text(text)
    return path


def test_overrides_change_exactly_the_listed_cells(tmp_path):
    path = _write(
        tmp_path,
        "record,class,label\nA1,39732003,0\nA2,59118001,1\nA2,270492004,mask\nA3,*,drop\nB9,39732003,1\n"
        "A0,164889003,weight:0.25\nA0,426783006,weight:1\n",
    )
    overrides = relabel.read_overrides(path)
    names = ["A0", "A1", "A2", "A3"]
    labels = np.random.default_rng(0).integers(0, 2, (4, K)).astype(np.float32)
    labels[1, label_space.CLASS_INDEX[LAD]] = 1
    labels[2, label_space.CLASS_INDEX["713427006"]] = 0
    new, mask, keep = relabel.apply_overrides(names, labels, overrides)
    changed = {(int(i), int(k)) for i, k in zip(*np.nonzero(new != labels))}
    assert changed == {(1, label_space.CLASS_INDEX[LAD]), (2, label_space.CLASS_INDEX["713427006"])}  # 59118001 ~
    assert new.dtype == labels.dtype and labels[1, label_space.CLASS_INDEX[LAD]] == 1  # input untouched
    assert {(int(i), int(k)) for i, k in zip(*np.nonzero(mask == 0))} == {(2, label_space.CLASS_INDEX[IAVB])}
    assert {(int(i), int(k), float(mask[i, k])) for i, k in zip(*np.nonzero((mask > 0) & (mask < 1)))} == {
        (0, label_space.CLASS_INDEX["164889003"], 0.25)
    }  # a weighted cell keeps its label
    assert summary(names, overrides) == {"set": 2, "masked": 1, "weighted": 2, "dropped": 1, "unmatched": 1}
    assert mask.dtype == np.float32 and keep.tolist() == [True, True, True, False]
    assert relabel.unmatched(names, overrides) == ["B9"]
    with pytest.raises(ValueError):
        relabel.apply_overrides(names, labels[:3], overrides)


@pytest.mark.parametrize(
    "text, where",
    [
        ("record,class,value\n", "row 1 has no column label"),
        ("record,class,label,note\nA1,39732003,1,x\n", "row 1: the header must be record,class,label"),
        ("record,class,label\nA1,39732003,yes\n", "row 2, column label: 'yes' is not 1, 0, mask, weight:W"),
        ("record,class,label\nA1,39732003,weight:1.5\n", "row 2, column label: 'weight:1.5': the weight"),
        ("record,class,label\nA1,39732003,weight:-0.1\n", "row 2, column label: 'weight:-0.1': the weight"),
        ("record,class,label\nA1,39732003,weight:nan\n", "row 2, column label: 'weight:nan': the weight"),
        ("record,class,label\nA1,39732003,weight:\n", "row 2, column label: 'weight:': the weight"),
        ("record,class,label\nA1,39732003,weight:a\n", "row 2, column label: 'weight:a': the weight"),
        ("record,class,label\nA1,*,weight:0.5\n", "row 2, column class: drop goes with class *"),
        (
            "record,class,label\nA1,39732003,weight:0.5\nA1,39732003,0\n",
            "row 3, column class: record A1 and class 39732003 are already overridden on row 2",
        ),
        ("record,class,label\nA1,39732003,drop\n", "row 2, column class: drop goes with class *"),
        ("record,class,label\nA1,*,1\n", "row 2, column class: drop goes with class *"),
        ("record,class,label\nA1,12345,1\n", "row 2, column class: '12345' is not a SNOMED CT code"),
        (
            "record,class,label\nA1,39732003,1\nA1,39732003,mask\n",
            "row 3, column class: record A1 and class 39732003 are already overridden on row 2",
        ),
        ("record,class,label\nA1,39732003,1\nA1,*,drop\n", "row 3, column label: record A1 is dropped"),
        ("record,class,label\n,39732003,1\n", "row 2, column record: the record name is empty"),
        ("record,class,label\nA1,39732003\n", "row 2, column label: the label is empty"),
    ],
)
def test_bad_overrides_name_file_row_and_column(tmp_path, text, where):
    path = _write(tmp_path, text)
    with pytest.raises(relabel.OverridesError) as error:
        relabel.read_overrides(path)
    assert str(error.value).startswith(f"{path}: ") and where in str(error.value)


def test_bad_answers_stop_relabel(tmp_path, capsys):
    paths = write_kit(tmp_path / "kit")
    with open(paths[0], "a") as f:
        f.write(f"{identity_of(tmp_path / 'kit')},X1,1,0,,,,\n")
    assert commands.relabel([str(tmp_path / "kit"), *paths, "--policy", "mask", "--out", str(tmp_path / "o.csv")]) == 2
    assert "review ID 'X1' is not in" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def _issues(tmp_path, rows):
    path = tmp_path / "label_issues.csv"
    audit.write_issues(
        str(path),
        [
            dict(zip(ISSUE_COLUMNS, (record, "A", code, "", 1, "0.1", "0.5", "0.1", "spurious", rank)))
            for rank, (record, code) in enumerate(rows, start=1)
        ],
    )
    return str(path)


def test_audit_pairs_become_weighted_overrides(tmp_path, capsys):
    issues = _issues(tmp_path, [("r2", LAD), ("r1", IAVB), ("r1", LAD), ("r3", LAD)])
    out = tmp_path / "overrides.csv"
    argv = ["--from-audit", issues, "--weight", "0.3", "--out", str(out)]
    assert commands.relabel([*argv, "--top", "3"]) == 0
    assert out.read_text().splitlines() == [
        "record,class,label",
        f"r1,{IAVB},weight:0.3",  # the first three rows, by record then class order
        f"r1,{LAD},weight:0.3",
        f"r2,{LAD},weight:0.3",
    ]
    assert "wrote 3 overrides (weight 0.3 from" in capsys.readouterr().out
    assert relabel.read_overrides(out).weights[("r2", label_space.CLASS_INDEX[LAD])] == pytest.approx(0.3)
    assert commands.relabel(argv) == 0 and len(out.read_text().splitlines()) == 5  # all rows without --top


@pytest.mark.parametrize(
    "extra, problem",
    [
        ([], "--from-audit needs --weight"),
        (["--weight", "1.2"], "expected a weight from 0 to 1"),
        (["--weight", "0.3", "--top", "0"], "expected a number of rows from 1"),
        (["--weight", "0.3", "--policy", "mask"], "--from-audit takes no kit"),
    ],
)
def test_from_audit_options_are_checked(tmp_path, capsys, extra, problem):
    issues = _issues(tmp_path, [("r1", LAD)])
    with pytest.raises(SystemExit):
        commands.relabel(["--from-audit", issues, "--out", str(tmp_path / "o.csv"), *extra])
    assert problem in capsys.readouterr().err


def test_a_kit_needs_its_answers_and_policy(tmp_path, capsys):
    with pytest.raises(SystemExit):
        commands.relabel([str(tmp_path), "--out", str(tmp_path / "o.csv")])
    assert "give KIT_DIR, ANSWERS.csv and --policy" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        commands.relabel(
            [str(tmp_path), "a.csv", "--policy", "mask", "--weight", "0.3", "--out", str(tmp_path / "o.csv")]
        )
    assert "--weight and --top go with --from-audit" in capsys.readouterr().err


def test_an_unscored_class_in_the_audit_file_is_named(tmp_path, capsys):
    issues = _issues(tmp_path, [("r1", LAD), ("r2", "12345")])
    assert commands.relabel(["--from-audit", issues, "--weight", "0", "--out", str(tmp_path / "o.csv")]) == 2
    assert f"{issues}: row 3, column class: '12345' is not one of the 24 scored classes" in capsys.readouterr().err


def test_an_item_every_reviewer_found_uninterpretable_is_masked_not_relabelled(tmp_path):
    paths = write_kit(tmp_path / "kit")
    for path in paths:  # both reviewers: S1 (r1) unreadable; their answers to it abstain
        text = open(path).read().replace(",S1,0,0,G,", ",S1,0,0,U,")
        open(path, "w").write(text)
    out = tmp_path / "o.csv"
    assert commands.relabel([str(tmp_path / "kit"), *paths, "--policy", "consensus", "--out", str(out)]) == 0
    assert "r1," not in out.read_text()  # the 0s of an unreadable tracing do not overturn its label
    assert commands.relabel([str(tmp_path / "kit"), *paths, "--policy", "mask", "--out", str(out)]) == 0
    assert [line for line in out.read_text().splitlines() if line.startswith("r1,")] == [
        f"r1,{IAVB},mask",
        f"r1,{LAD},mask",
    ]

"""`ecgnet relabel` (ecgnet.review.relabel): policies, the overrides file, apply_overrides."""

import numpy as np
import pytest

from ecgnet import labels as label_space

pytest.importorskip("statsmodels")
from test_agreement import IAVB, LAD, write_kit  # noqa: E402

from ecgnet.review import relabel  # noqa: E402

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
    assert relabel.main([str(tmp_path / "kit"), *paths, "--policy", policy, "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "record,class,label" and [line.split(",") for line in lines[1:]] == expected
    assert f"wrote {len(expected)} overrides" in capsys.readouterr().out


def _write(tmp_path, text):
    path = tmp_path / "overrides.csv"
    path.write_text(text)
    return path


def test_overrides_change_exactly_the_listed_cells(tmp_path):
    path = _write(
        tmp_path, "record,class,label\nA1,39732003,0\nA2,59118001,1\nA2,270492004,mask\nA3,*,drop\nB9,39732003,1\n"
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
    assert mask.dtype == np.float32 and keep.tolist() == [True, True, True, False]
    assert relabel.unmatched(names, overrides) == ["B9"]
    with pytest.raises(ValueError):
        relabel.apply_overrides(names, labels[:3], overrides)


@pytest.mark.parametrize(
    "text, where",
    [
        ("record,class,value\n", "row 1: the header must be record,class,label"),
        ("record,class,label\nA1,39732003,yes\n", "row 2, column label: 'yes' is not 1, 0, mask or drop"),
        ("record,class,label\nA1,39732003,drop\n", "row 2, column class: drop goes with class *"),
        ("record,class,label\nA1,*,1\n", "row 2, column class: drop goes with class *"),
        ("record,class,label\nA1,12345,1\n", "row 2, column class: '12345' is not a SNOMED CT code"),
        (
            "record,class,label\nA1,39732003,1\nA1,39732003,mask\n",
            "row 3, column class: record A1 and class 39732003 are already overridden on row 2",
        ),
        ("record,class,label\nA1,39732003,1\nA1,*,drop\n", "row 3, column label: record A1 is dropped"),
        ("record,class,label\n,39732003,1\n", "row 2, column record: the record name is empty"),
        ("record,class,label\nA1,39732003\n", "row 2: 2 columns, expected 3"),
    ],
)
def test_bad_overrides_name_file_row_and_column(tmp_path, text, where):
    path = _write(tmp_path, text)
    with pytest.raises(relabel.OverridesError) as error:
        relabel.read_overrides(path)
    assert str(error.value).startswith(f"{path} ") and where in str(error.value)


def test_bad_answers_stop_relabel(tmp_path, capsys):
    paths = write_kit(tmp_path / "kit")
    with open(paths[0], "a") as f:
        f.write("X1,1,0,,,,\n")
    assert relabel.main([str(tmp_path / "kit"), *paths, "--policy", "mask", "--out", str(tmp_path / "o.csv")]) == 2
    assert "review ID 'X1' is not in" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()

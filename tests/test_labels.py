"""Tests of `ecgnet.labels`: the 24 scored classes, their order, weights and encoding."""

import csv
import hashlib
from collections import Counter

import numpy as np
import pytest

from ecgnet import labels
from ecgnet.labels import LabelCounts, encode

from helpers import OFFICIAL, RECORDS, SAMPLE, needs_sample

# The git blob ids of the official files in physionetchallenges/evaluation-2020 (commit
# 8ad02421902fb5c99ad9695f480a05dc3b8969e5): the packaged copies must be those very files.
OFFICIAL_BLOBS = {
    "weights.csv": "ac35c6d318c3906ff5572457d4e672aa1692c197",
    "dx_mapping_scored.csv": "e6763298f7ee31e61c38cbb89fdfed2ff586defd",
    "dx_mapping_unscored.csv": "a9dabaed39a363d73f4040a17f8fd1687d3fb92e",
}

# weights.csv column order with 59118001, 63593006 and 17338001 removed.
EXPECTED_CLASSES = (
    "270492004",
    "164889003",
    "164890007",
    "426627000",
    "713427006",
    "713426002",
    "445118002",
    "39732003",
    "164909002",
    "251146004",
    "698252002",
    "10370003",
    "284470004",
    "427172004",
    "164947007",
    "111975006",
    "164917005",
    "47665007",
    "427393009",
    "426177001",
    "426783006",
    "427084000",
    "164934002",
    "59931005",
)
EXPECTED_ABBREVIATIONS = (
    "IAVB",
    "AF",
    "AFL",
    "Brady",
    "CRBBB",
    "IRBBB",
    "LAnFB",
    "LAD",
    "LBBB",
    "LQRSV",
    "NSIVCB",
    "PR",
    "PAC",
    "PVC",
    "LPR",
    "LQT",
    "QAb",
    "RAD",
    "SA",
    "SB",
    "NSR",
    "STach",
    "TAb",
    "TInv",
)
PAIRS = {"59118001": "713427006", "63593006": "284470004", "17338001": "427172004"}


def read_official_table():
    """The official 27 x 27 weights as {row code: {column code: value}}, read with csv."""
    with open(OFFICIAL / "weights.csv", newline="") as f:
        rows = [[cell.strip() for cell in row] for row in csv.reader(f) if row]
    columns = rows[0][1:]
    return columns, {row[0]: dict(zip(columns, map(float, row[1:]))) for row in rows[1:]}


def test_classes_in_documented_order():
    assert labels.CLASSES == EXPECTED_CLASSES
    assert labels.NUM_CLASSES == 24
    assert len(set(labels.CLASSES)) == 24
    assert labels.CLASS_INDEX == {c: i for i, c in enumerate(EXPECTED_CLASSES)}


def test_classes_are_the_official_columns_without_second_codes():
    columns, _ = read_official_table()
    assert len(columns) == 27
    assert tuple(c for c in columns if c not in PAIRS) == labels.CLASSES


def test_normal_class():
    assert labels.NORMAL_CLASS == "426783006"
    assert labels.NORMAL_INDEX == 20
    assert labels.CLASSES[labels.NORMAL_INDEX] == "426783006"


def test_abbreviations():
    assert labels.ABBREVIATIONS == EXPECTED_ABBREVIATIONS


def test_equivalent_pairs():
    assert labels.EQUIVALENT_CLASSES == (
        ("713427006", "59118001"),
        ("284470004", "63593006"),
        ("427172004", "17338001"),
    )
    for second, first in PAIRS.items():
        assert labels.canonical_code(second) == first
        assert labels.canonical_code(first) == first
    assert labels.canonical_code("164889003") == "164889003"
    assert labels.canonical_code("not a code") == "not a code"


def test_weights_are_the_official_table_collapsed():
    columns, table = read_official_table()
    # Equivalent codes have identical rows and columns in the official table...
    for second, first in PAIRS.items():
        assert table[second] == table[first]
        assert all(table[row][second] == table[row][first] for row in columns)
    # ...and the 24 x 24 matrix is the table restricted to the representatives.
    assert labels.WEIGHTS.shape == (24, 24)
    for i, a in enumerate(labels.CLASSES):
        for j, b in enumerate(labels.CLASSES):
            assert labels.WEIGHTS[i, j] == table[a][b], (a, b)


def test_weights_properties():
    w = labels.WEIGHTS
    assert np.isfinite(w).all()
    assert (np.diag(w) == 1).all()
    np.testing.assert_array_equal(w, w.T)
    assert ((w >= 0) & (w <= 1)).all()
    # Spot values of the official table (AF row: 1 on AF, 0.25 on sinus rhythm, 0.5 on AFL).
    af, normal, afl = (labels.CLASS_INDEX[c] for c in ("164889003", "426783006", "164890007"))
    assert w[af, af] == 1.0 and w[af, normal] == 0.25 and w[af, afl] == 0.5
    # Off-diagonal entries of the normal column are below 1 (so only all-normal label sets make
    # the "correct" and "inactive" references of the challenge metric equal).
    assert (np.delete(w[:, normal], normal) < 1).all()


@pytest.mark.parametrize("name", sorted(OFFICIAL_BLOBS))
def test_packaged_data_files_are_the_official_ones_byte_for_byte(name):
    data = (OFFICIAL / name).read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # as `git hash-object` computes it
    assert blob == OFFICIAL_BLOBS[name]


def test_scored_and_unscored_code_sets():
    with open(OFFICIAL / "dx_mapping_scored.csv", newline="") as f:
        scored = {row["SNOMED CT Code"] for row in csv.DictReader(f)}
    with open(OFFICIAL / "dx_mapping_unscored.csv", newline="") as f:
        unscored = {row["SNOMED CT Code"] for row in csv.DictReader(f)}
    assert len(scored) == 27
    assert labels.KNOWN_UNSCORED_CODES == unscored and len(unscored) == 84
    assert {labels.canonical_code(c) for c in scored} == set(labels.CLASSES)


def test_read_weight_table_and_collapse():
    text = ",a,59118001,713427006\na,1,0.5,0.5\n59118001,0.5,1,1\n713427006,0.5,1,1\n\n"
    codes, values = labels.read_weight_table(text)
    assert codes == ["a", "59118001", "713427006"]
    np.testing.assert_array_equal(values, [[1, 0.5, 0.5], [0.5, 1, 1], [0.5, 1, 1]])
    merged, w = labels.collapse_equivalent(codes, values)
    assert merged == ["a", "713427006"]
    np.testing.assert_array_equal(w, [[1, 0.5], [0.5, 1]])
    # Non-numeric cells become NaN, as in the official loader.
    codes, values = labels.read_weight_table(",a,b\na,1,x\nb, 2 ,1\n")
    assert np.isnan(values[0, 1]) and values[1, 0] == 2.0


def test_read_weight_table_errors():
    with pytest.raises(ValueError):
        labels.read_weight_table(",a,b\na,1,0\n")
    with pytest.raises(ValueError):
        labels.read_weight_table(",a,b\na,1,0\nb,1\n")
    with pytest.raises(ValueError):
        labels.read_weight_table(",a,b\na,1,0\nc,0,1\n")
    with pytest.raises(ValueError):  # equivalent codes with different weights
        labels.collapse_equivalent(
            *labels.read_weight_table(",a,59118001,713427006\na,1,0.5,0.4\n59118001,0.5,1,1\n713427006,0.4,1,1\n")
        )


def onehot(*codes):
    y = np.zeros(24, dtype=np.float32)
    for c in codes:
        y[EXPECTED_CLASSES.index(c)] = 1
    return y


def test_encode_basic():
    y = encode(["164889003", "426783006"])
    assert y.dtype == np.float32 and y.shape == (24,)
    np.testing.assert_array_equal(y, onehot("164889003", "426783006"))
    np.testing.assert_array_equal(encode([]), np.zeros(24))


@pytest.mark.parametrize("second, first", sorted(PAIRS.items()))
def test_encode_merges_equivalent_codes(second, first):
    np.testing.assert_array_equal(encode([second]), onehot(first))
    np.testing.assert_array_equal(encode([first, second]), onehot(first))
    np.testing.assert_array_equal(encode([second, second]), onehot(first))


def test_encode_skips_empty_items_and_strips():
    counts = LabelCounts()
    y = encode(["284470004", "89792004", "427084000", "", "  ", " 427172004 "], counts)
    np.testing.assert_array_equal(y, onehot("284470004", "427084000", "427172004"))
    assert counts.unscored == Counter({"89792004": 1})
    assert counts.unknown == Counter()


def test_encode_counts_unscored_and_unknown():
    counts = LabelCounts()
    encode(["164865005", "55827005", "251238007", "164889003"], counts)  # MI (unscored), 2021, none
    encode(["164865005", "55827005", "59118001"], counts)
    assert counts.unscored == Counter({"164865005": 2})
    assert counts.unknown == Counter({"55827005": 2, "251238007": 1})
    assert counts.summary() == ("2 unscored codes (1 distinct), 3 unknown codes (2 distinct) ignored")
    # Without a counter nothing is counted and nothing fails.
    np.testing.assert_array_equal(encode(["164865005", "xyz"]), np.zeros(24))


def test_encode_the_committed_records_labels():
    """Counted by hand from the 13 headers' #Dx lines: E00015 names PAC twice (one label),
    JS20005 has an empty item, HR20715 only unscored codes; 59118001 is CRBBB's pair."""
    from ecgnet import headers

    counts = LabelCounts()
    total = np.zeros(24)
    for path in sorted(RECORDS.glob("*.hea")):
        total += encode(headers.load_header(path).dx, counts)
    expected = {"NSR": 3, "STach": 4, "PAC": 2, "CRBBB": 1, "AF": 1, "AFL": 1, "LAD": 1, "LQRSV": 1}
    expected |= {"PVC": 1, "LPR": 1, "SB": 1}
    assert {labels.ABBREVIATIONS[i]: int(n) for i, n in enumerate(total) if n} == expected
    assert counts.unscored == Counter(
        dict.fromkeys(
            ["428750005", "67741000119109", "164865005", "164861001", "164873001", "89792004", "164867002"], 1
        )
    )
    assert not counts.unknown


@needs_sample
def test_encode_real_labels():
    from ecgnet import headers

    counts = LabelCounts()
    total = np.zeros(24)
    for path in sorted(SAMPLE.glob("*.hea")):
        total += encode(headers.load_header(path).dx, counts)
    index = labels.CLASS_INDEX
    # Counts from the sample's README (equivalent codes merged).
    assert total[index["426783006"]] == 48
    assert total[index["164889003"]] == 18
    assert total[index["713427006"]] == 23 + 3  # RBBB 23 + CRBBB 3: no record carries both
    assert total[index["284470004"]] == 28 + 1
    assert total[index["427172004"]] == 16 + 2
    assert (total > 0).all()
    assert counts.unscored["428750005"] == 16
    assert counts.unknown["55827005"] == 8 and counts.unknown["251238007"] == 1
    assert not (set(counts.unknown) & labels.KNOWN_UNSCORED_CODES)
    assert not any(labels.canonical_code(c) in labels.CLASS_INDEX for c in set(counts.unscored) | set(counts.unknown))

"""PTB-XL as PTB-XL ships it: its labels (`ecgnet.ptbxl`, `ecgnet/data/ptbxl_mapping.csv`),
`ecgnet convert`, `--labels ptbxl` in evaluate and train, and split=ptbxl.

The records are those committed under tests/data/ptbxl (six ECGs at 100 Hz, one of them at
500 Hz too, in PTB-XL's own layout). Their labels were worked out by hand from their
`ptbxl_database.csv` rows and the mapping table's rows (see EXPECTED); the table itself is
checked against the Challenge's own `dx_mapping_scored.csv` and PTB-XL's `scp_statements.csv`.
"""

import csv
import json
import os
import re
import shutil
import warnings

import numpy as np
import pytest
import scipy.io

from ecgnet import convert, labels, ptbxl, scoring
from ecgnet.errors import InputFileError, RecordError, TrainingError
from ecgnet.folders import list_records
from ecgnet.headers import load_header
from ecgnet.inference import Ensemble
from ecgnet.records import read_record
from ecgnet.runner import run_folder

from helpers import OFFICIAL, PTBXL, TINY

# ecg_id: (classes by abbreviation, age, sex, strat_fold), from each row's scp_codes and
# heart_axis by the mapping: SR and NORM -> NSR; NDT, NT_, TAB_, LOWT -> TAb; PACE -> PR;
# AFIB -> AF; IVCD -> NSIVCB; QWAVE -> QAb; IMI, ASMI, LVH, ISC_, STD_, VCLVH: none of the 24;
# 492's heart axis AXL: not mapped.
EXPECTED = {
    491: ({"NSR"}, 35.0, "female", 9),  # NORM, SR
    492: ({"NSR"}, 79.0, "female", 4),  # ASMI, SR; axis AXL
    495: ({"NSR", "TAb"}, 85.0, "female", 1),  # NDT, NT_, SR
    498: ({"PR"}, 71.0, "male", 9),  # PACE
    499: ({"NSR", "TAb"}, 60.0, "male", 10),  # NDT, NT_, SR
    500: ({"AF", "NSIVCB", "QAb"}, 67.0, "male", 8),  # IMI 50, LVH, ISC_, IVCD, QWAVE, STD_, AFIB
}
BY_ABBREVIATION = dict(zip(labels.ABBREVIATIONS, labels.CLASSES))
# The committed records: (name, folder, sampling rate, samples).
NATIVE = [(f"{k:05d}_lr", PTBXL / "records100" / "00000", 100, 1000) for k in EXPECTED]
NATIVE.insert(1, ("00491_hr", PTBXL / "records500" / "00000", 500, 5000))


def abbreviations(codes):
    return {labels.ABBREVIATIONS[labels.CLASS_INDEX[labels.canonical_code(c)]] for c in codes}


def copy_records(target, rate="100"):
    """PTB-XL's tree with one rate's records (records100/00000/...) and its two CSVs, copied."""
    shutil.copytree(PTBXL / f"records{rate}", target / f"records{rate}")
    for name in ("ptbxl_database.csv", "scp_statements.csv"):
        shutil.copy(PTBXL / name, target / name)
    return target


# ---------------------------------------------------------------------------------------------
# The labels
# ---------------------------------------------------------------------------------------------


def test_the_committed_records_labels_age_sex_and_fold_as_worked_out_by_hand():
    source = ptbxl.PtbxlLabels.beside(PTBXL)
    assert len(source.entries) == 2 * len(EXPECTED)  # a 100 Hz and a 500 Hz name per row
    for ecg_id, (classes, age, sex, fold) in EXPECTED.items():
        for name in (f"{ecg_id:05d}_hr", f"{ecg_id:05d}_lr"):
            entry = source.entry(name)
            assert entry.ecg_id == ecg_id
            assert abbreviations(entry.dx) == classes, name
            assert (entry.age, entry.sex, entry.strat_fold) == (age, sex, fold), name


def write_database(folder, rows):
    """A ptbxl_database.csv of `rows` (dicts of the columns the reader needs)."""
    columns = ["ecg_id", "age", "sex", "scp_codes", "heart_axis", "strat_fold", "filename_lr", "filename_hr"]
    with open(folder / "ptbxl_database.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        for k, row in enumerate(rows, start=1):
            defaults = {"ecg_id": k, "age": "50.0", "sex": "0", "heart_axis": "", "strat_fold": "1"}
            names = {"filename_lr": f"records100/00000/{k:05d}_lr", "filename_hr": f"records500/00000/{k:05d}_hr"}
            writer.writerow({**defaults, **names, **row})
    return folder / "ptbxl_database.csv"


def test_min_likelihood_drops_only_diagnostic_statements_below_it(tmp_path):
    path = write_database(
        tmp_path,
        [
            {"scp_codes": "{'IVCD': 50.0, 'AFIB': 0.0, 'LPR': 0.0}"},
            {"scp_codes": "{'NORM': 80.0, 'SR': 0.0}"},
            {"scp_codes": "{'NORM': 80.0}"},
            {"scp_codes": "{'1AVB': 100.0, 'CLBBB': 35.0}"},
        ],
    )
    expected = {
        0: [{"NSIVCB", "AF", "LPR"}, {"NSR"}, {"NSR"}, {"IAVB", "LBBB"}],
        50: [{"NSIVCB", "AF", "LPR"}, {"NSR"}, {"NSR"}, {"IAVB"}],
        60: [{"AF", "LPR"}, {"NSR"}, {"NSR"}, {"IAVB"}],
        90: [{"AF", "LPR"}, {"NSR"}, set(), {"IAVB"}],
    }
    for minimum, rows in expected.items():
        source = ptbxl.PtbxlLabels(path, minimum)
        assert [abbreviations(source.entry(f"{k:05d}_hr").dx) for k in range(1, 5)] == rows, minimum


def test_heart_axis_values_map_to_the_axis_classes(tmp_path):
    axes = ["LAD", "RAD", "ALAD", "ARAD", "AXL", "AXR", "MID", ""]
    path = write_database(tmp_path, [{"scp_codes": "{}", "heart_axis": axis} for axis in axes])
    source = ptbxl.PtbxlLabels(path)
    found = [abbreviations(source.entry(f"{k:05d}_lr").dx) for k in range(1, len(axes) + 1)]
    assert found == [{"LAD"}, {"RAD"}, set(), set(), set(), set(), set(), set()]


def mapping_rows():
    with open(os.path.join(os.path.dirname(ptbxl.__file__), "data", ptbxl.MAPPING)) as f:
        return list(csv.DictReader(f))


def test_the_mapping_table_agrees_with_the_challenges_and_ptbxls_own_files():
    rows = mapping_rows()
    with open(OFFICIAL / "dx_mapping_scored.csv") as f:
        official = list(csv.DictReader(f))
    ptbxl_counts = {row["SNOMED CT Code"]: int(row["PTB-XL"]) for row in official}
    abbreviation = {row["SNOMED CT Code"]: row["Abbreviation"] for row in official}
    with open(PTBXL / "scp_statements.csv") as f:
        statements = {row[""]: row for row in csv.DictReader(f)}
    for row in rows:
        assert row["evidence"] in {"name", "count", "name+count", "inferred", "gap"} and row["source"], row
        if row["column"] == "scp_codes":
            assert row["statement"] in statements, row
            diagnostic = statements[row["statement"]]["diagnostic"] == "1.0"
            assert (row["kind"] == "diagnostic") == diagnostic, row  # the likelihood rule depends on it
        else:
            assert row["column"] == "heart_axis" and row["kind"] == "axis", row
        if row["snomed_code"]:
            assert labels.canonical_code(row["snomed_code"]) in labels.CLASSES, row
            assert row["class"] == abbreviation[row["snomed_code"]], row
            assert ptbxl_counts[row["snomed_code"]] > 0, row  # the Challenge has PTB-XL records of it
        else:
            assert row["evidence"] in {"gap", "count"} and not row["class"], row
    mapped = {row["snomed_code"] for row in rows if row["snomed_code"]}
    assert mapped == {code for code, count in ptbxl_counts.items() if count > 0}  # every class the Challenge had


def test_the_counted_statements_fall_in_the_frequency_order_of_scp_statements():
    """scp_statements.csv lists PTB-XL's statements by frequency within each kind; the
    Challenge's PTB-XL counts of the statements a row maps one to one fall in that order."""
    with open(OFFICIAL / "dx_mapping_scored.csv") as f:
        counts = {row["SNOMED CT Code"]: int(row["PTB-XL"]) for row in csv.DictReader(f)}
    with open(PTBXL / "scp_statements.csv") as f:
        order = [row[""] for row in csv.DictReader(f)]
    with open(PTBXL / "scp_statements.csv") as f:
        kind = {row[""]: (row["diagnostic"], row["form"], row["rhythm"]) for row in csv.DictReader(f)}
    counted = [row for row in mapping_rows() if row["evidence"] in ("name+count", "count") and row["snomed_code"]]
    assert len(counted) == 19
    for group in {kind[row["statement"]] for row in counted}:
        rows = sorted((r for r in counted if kind[r["statement"]] == group), key=lambda r: order.index(r["statement"]))
        found = [counts[r["snomed_code"]] for r in rows]
        assert found == sorted(found, reverse=True), [(r["statement"], counts[r["snomed_code"]]) for r in rows]


@pytest.mark.parametrize(
    "change, words",
    [
        ({"scp_codes": "NORM"}, "row 2, column scp_codes"),
        ({"scp_codes": "{'NORM': 100.0"}, "row 2, column scp_codes"),
        ({"strat_fold": "11"}, "row 2, column strat_fold"),
        ({"sex": "2"}, "row 2, column sex"),
        ({"age": "old"}, "row 2, column age"),
        ({"ecg_id": "x"}, "row 2, column ecg_id"),
    ],
)
def test_a_bad_database_row_is_named(tmp_path, change, words):
    path = write_database(tmp_path, [{"scp_codes": "{'SR': 0.0}", **change}, {"scp_codes": "{'SR': 0.0}"}])
    with pytest.raises(InputFileError, match=re.escape(words)):
        ptbxl.PtbxlLabels(path)


def test_the_database_is_found_in_data_or_two_folders_above_it(tmp_path):
    write_database(tmp_path, [{"scp_codes": "{}"}])
    (tmp_path / "records500" / "00000").mkdir(parents=True)
    for folder in (tmp_path, tmp_path / "records500", tmp_path / "records500" / "00000"):
        assert ptbxl.find_database(folder) == str(tmp_path / "ptbxl_database.csv")
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    with pytest.raises(InputFileError, match="needs ptbxl_database.csv"):
        ptbxl.find_database(tmp_path / "a" / "b" / "c")


# ---------------------------------------------------------------------------------------------
# convert, and the network on native records against their Challenge copies
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("converted")
    written, failures = convert.convert_folder(str(PTBXL), str(out), ptbxl.PtbxlLabels.beside(PTBXL))
    assert (written, failures) == (len(NATIVE), [])
    return out


SIGNAL_LINE = re.compile(r"^(\d{5}_[hl]r)\.mat 16\+24 1000/mV 16 0 -?\d+ -?\d+ 0 (I|II|III|aVR|aVL|aVF|V[1-6])$")


def test_converted_records_are_laid_out_as_the_challenges(converted):
    for name, folder, rate, samples in NATIVE:
        classes, age, sex, _ = EXPECTED[int(name[:5])]
        lines = (converted / f"{name}.hea").read_text().splitlines()
        assert lines[0] == f"{name} 12 {rate} {samples}"
        assert all(SIGNAL_LINE.match(line) and SIGNAL_LINE.match(line).group(1) == name for line in lines[1:13])
        assert [line.split()[-1] for line in lines[1:13]] == list(ptbxl_leads())
        assert lines[13:15] == [f"#Age: {age:g}", f"#Sex: {sex.capitalize()}"]
        assert lines[15].startswith("#Dx: ") and abbreviations(lines[15][5:].split(",")) == classes
        assert lines[16:] == ["#Rx: Unknown", "#Hx: Unknown", "#Sx: Unknown"]
        assert abbreviations(load_header(converted / f"{name}.hea").dx) == classes
        val = scipy.io.loadmat(converted / f"{name}.mat")["val"]
        assert val.dtype == np.int16 and val.shape == (12, samples)
        native = np.fromfile(folder / f"{name}.dat", dtype="<i2").reshape(samples, 12).T
        np.testing.assert_array_equal(val, native)  # the samples unchanged, in the record's own units
        first_values = [int(line.split()[5]) for line in lines[1:13]]
        checksums = [int(line.split()[6]) for line in lines[1:13]]
        assert first_values == val[:, 0].tolist()
        assert checksums == [((int(s) + 32768) % 65536) - 32768 for s in val.astype(np.int64).sum(axis=1)]


def ptbxl_leads():
    return ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


@pytest.mark.filterwarnings("ignore")
def test_wfdb_reads_the_converted_records_as_the_native_ones(converted):
    import wfdb

    for name, folder, _, _ in NATIVE:
        native = wfdb.rdrecord(str(folder / name))
        copy = wfdb.rdrecord(str(converted / name))
        np.testing.assert_allclose(copy.p_signal, native.p_signal, rtol=0, atol=0)
        assert copy.fs == native.fs and copy.sig_len == native.sig_len


def test_network_outputs_of_native_records_equal_those_of_their_converted_copies(tiny_model, converted):
    ensemble = Ensemble.from_folder(tiny_model[0], "cpu")
    source = ptbxl.PtbxlLabels.beside(PTBXL)
    native = []
    for files in list_records(PTBXL):  # records100/ then records500/
        record = read_record(files, ensemble.config.sample_rate)
        record.demographics = source.demographics(files.name, files.header)
        native.append(record)
    native.sort(key=lambda r: r.name)
    copies = [read_record(files, ensemble.config.sample_rate) for files in list_records(converted)]
    assert [r.name for r in native] == [r.name for r in copies] and len(native) == len(NATIVE)
    for a, b in zip(native, copies):
        np.testing.assert_array_equal(a.signal, b.signal)
        np.testing.assert_array_equal(a.demographics, b.demographics)
    binary_native, probabilities_native = ensemble.classify(native)
    binary_copies, probabilities_copies = ensemble.classify(copies)
    np.testing.assert_allclose(probabilities_native, probabilities_copies, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(binary_native, binary_copies)


def test_the_driver_on_native_records_writes_what_it_writes_on_their_copies(tiny_model, converted, tmp_path):
    ensemble = Ensemble.from_folder(tiny_model[0], "cpu")
    source = ptbxl.PtbxlLabels.beside(PTBXL)
    run_folder(ensemble, str(PTBXL), str(tmp_path / "native"), labels=source, recursive=True)
    run_folder(ensemble, str(converted), str(tmp_path / "copies"))
    copies = sorted(os.listdir(tmp_path / "copies"))
    assert len(copies) == len(NATIVE) and sorted(os.listdir(tmp_path / "native")) == copies
    for name in copies:
        assert (tmp_path / "native" / name).read_text() == (tmp_path / "copies" / name).read_text(), name
    # Scored with PTB-XL's labels or with the converted headers' #Dx: the same figures.
    by_database = scoring.evaluate_folders(str(PTBXL), str(tmp_path / "native"), source)
    by_headers = scoring.evaluate_folders(str(converted), str(tmp_path / "copies"))
    assert by_database.record_names == by_headers.record_names
    np.testing.assert_array_equal(by_database.labels, by_headers.labels)
    assert json.dumps(scoring.evaluation_json(by_database)) == json.dumps(scoring.evaluation_json(by_headers))
    test_fold = scoring.evaluate_folders(str(PTBXL), str(tmp_path / "native"), source, frozenset({10}))
    assert test_fold.record_names == ["00499_lr"]


def test_the_driver_takes_only_the_asked_folds_and_names_records_missing_from_the_database(tiny_model, tmp_path):
    data = copy_records(tmp_path / "ptbxl")
    folder = data / "records100" / "00000"
    shutil.copy(folder / "00491_lr.hea", folder / "99999_lr.hea")
    shutil.copy(folder / "00491_lr.dat", folder / "99999_lr.dat")
    (folder / "99999_lr.hea").write_text((folder / "99999_lr.hea").read_text().replace("00491_lr", "99999_lr"))
    ensemble = Ensemble.from_folder(tiny_model[0], "cpu")
    source = ptbxl.PtbxlLabels.beside(data)
    report = run_folder(ensemble, str(data), str(tmp_path / "out"), labels=source, strat_folds=frozenset({9}))
    assert sorted(os.listdir(tmp_path / "out")) == ["00491_lr.csv", "00498_lr.csv", "99999_lr.csv"]
    assert list(dict(report.failures)) == ["99999_lr"] and "is not in" in report.failures[0][1]


def test_convert_fails_a_record_beyond_int16_by_name_and_writes_the_others(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    big = np.full((10, 2), 40000, dtype="<i4")
    (data / "big.dat").write_bytes(big.tobytes())
    (data / "big.hea").write_text("big 2 500 10\n" + "".join(f"big.dat 32 1e6/mV 32 0 0 0 0 {x}\n" for x in "IV"))
    (data / "fine.dat").write_bytes((big // 10).tobytes())
    (data / "fine.hea").write_text((data / "big.hea").read_text().replace("big", "fine"))
    written, failures = convert.convert_folder(str(data), str(tmp_path / "out"))
    assert written == 1 and [name for name, _ in failures] == ["big"]
    assert "beyond int16" in failures[0][1] and "big.hea" in failures[0][1]
    assert sorted(os.listdir(tmp_path / "out")) == ["fine.hea", "fine.mat"]
    header = (tmp_path / "out" / "fine.hea").read_text().splitlines()
    assert header[1] == "fine.mat 16+24 1000000/mV 16 0 4000 -25536 0 I" and header[3:6] == [
        "#Age: NaN",
        "#Sex: Unknown",
        "#Dx: ",
    ]


def test_convert_stops_before_writing_when_two_records_share_a_name(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / "src" / folder).mkdir(parents=True)
        for ext in (".hea", ".dat"):
            shutil.copy(PTBXL / "records500" / "00000" / f"00491_hr{ext}", tmp_path / "src" / folder)
    with pytest.raises(RecordError, match=r"two records are named '00491_hr': .*a/00491_hr and .*b/00491_hr"):
        convert.convert_folder(str(tmp_path / "src"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_convert_command(tmp_path, capsys):
    from ecgnet import cli

    status = cli.main(["convert", str(PTBXL / "records100"), str(tmp_path / "out"), "--labels", "ptbxl"])
    assert status == 0 and f"wrote {len(EXPECTED)} records" in capsys.readouterr().out
    assert load_header(tmp_path / "out" / "00500_lr.hea").sample_rate == 100
    with pytest.raises(SystemExit):  # a PTB-XL option without --labels ptbxl
        cli.main(["convert", str(PTBXL), str(tmp_path / "out2"), "--min-likelihood", "50"])
    assert "--min-likelihood needs --labels ptbxl" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Training on PTB-XL: its labels, its folds
# ---------------------------------------------------------------------------------------------


def test_split_ptbxl_trains_one_model_on_folds_1_to_8_validated_on_fold_9(tmp_path):
    from ecgnet.training import train

    data = copy_records(tmp_path / "ptbxl")
    model = tmp_path / "model"
    config = TINY.replace(split="ptbxl", batch_size=4)
    source = ptbxl.PtbxlLabels.beside(data)
    report = train(str(data), str(model), config=config, jobs=1, labels=source)
    manifest = json.loads((model / "model.json").read_text())
    assert len(manifest["weights"]) == 1 and manifest["training"]["labels"]["labels"] == "ptbxl"
    folds = json.loads((model / "work" / "folds.json").read_text())
    by_name = dict(zip(folds["names"], folds["folds"]))
    assert by_name == {f"{k:05d}_lr": (0 if EXPECTED[k][3] == 9 else -1) for k in EXPECTED if EXPECTED[k][3] != 10}
    oof = (model / "oof_probabilities.csv").read_text().splitlines()
    assert [row.split(",")[:2] for row in oof[1:]] == [["00491_lr", "1"], ["00498_lr", "1"]]
    assert report["overall"]["records"] == 2
    # Resuming with other labels is refused.
    os.remove(model / "model.json")
    with pytest.raises(TrainingError, match="started with labels"):
        train(str(data), str(model), jobs=1, labels=ptbxl.PtbxlLabels.beside(data, 50))


def test_split_ptbxl_needs_ptbxl_labels(tmp_path):
    from ecgnet.training import train

    data = copy_records(tmp_path / "ptbxl")
    with pytest.raises(TrainingError, match="split=ptbxl .* --labels ptbxl"):
        train(str(data), str(tmp_path / "model"), config=TINY.replace(split="ptbxl"), jobs=1)


def test_without_labels_native_ptbxl_records_have_none_to_train_on(tmp_path):
    from ecgnet.training import train

    data = copy_records(tmp_path / "ptbxl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TrainingError, match="0 usable records"):
            train(str(data), str(tmp_path / "model"), config=TINY, jobs=1)

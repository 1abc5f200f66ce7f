"""Measurements beside the network: the features (`ecgnet.features`), the stacked second stage
(`ecgnet.stacking`), rule decisions (`ecgnet.decisions`), and a model trained, driven, quantised
and compared with them."""

import json
import math
import os
import shutil

import numpy as np
import pytest
import torch

from ecgnet import cli, decisions, experiments, features, modelstore, stacking
from ecgnet import labels as label_space
from ecgnet.cache import build_cache
from ecgnet.config import Config, parse_overrides
from ecgnet.errors import ConfigError, ModelFolderError
from ecgnet.folders import list_records
from ecgnet.inference import Ensemble
from ecgnet.measure import criteria
from ecgnet.measure.criteria import BY_CODE
from ecgnet.measure.folder import measure_record
from ecgnet.measure.record import VALUES, measure
from ecgnet.metrics import class_auc
from ecgnet.model import SEResNet1d
from ecgnet.preprocess import DEMOGRAPHICS
from ecgnet.records import read_record
from ecgnet.synthetic import make_dataset, random_truth, truth_signal

from helpers import RECORDS, TINY, TINY_NETWORK, link_records, sample_names

HYBRID = TINY.replace(features="measurements", stacking="logistic", decide_rules="SB,STach,IAVB")
RATE = 257


def _table(rows: list[dict]) -> features.MeasurementTable:
    """A table of rows given as {column: value} (the others missing) with quality ok."""
    values = np.full((len(rows), len(VALUES)), np.nan)
    for i, row in enumerate(rows):
        for column, value in row.items():
            values[i, VALUES.index(column)] = value
    return features.MeasurementTable(values, ["ok"] * len(rows))


# ---------------------------------------------------------------------------------------------
# Features


def test_encoding_numbers_logarithms_axes_and_missing_flags():
    table = _table([{"heart_rate_bpm": 55.0, "rr_sd_ms": 40.0, "qrs_axis_deg": -45.0, "qrs_amp_limb_mv": 0.3}, {}])
    encoded = features.encode(table.values)
    assert encoded.shape == (2, features.FEATURE_COUNT) and encoded.dtype == np.float32
    names = features.FEATURE_NAMES
    first = dict(zip(names, encoded[0]))
    assert first["heart_rate_bpm"] == 55.0
    assert first["log rr_sd_ms"] == pytest.approx(math.log(41.0))
    assert first["log qrs_amp_limb_mv"] == pytest.approx(math.log(0.31))
    assert first["cos qrs_axis_deg"] == pytest.approx(math.cos(math.radians(-45)))
    assert first["sin qrs_axis_deg"] == pytest.approx(math.sin(math.radians(-45)))
    assert first["heart_rate_bpm missing"] == 0 and first["pr_ms missing"] == 1 and first["pr_ms"] == 0
    assert first["p_axis_deg missing"] == 1 and first["cos p_axis_deg"] == first["sin p_axis_deg"] == 0
    # a record without any measurement: every value 0, every flag 1
    assert (encoded[1, : features.VALUE_COUNT] == 0).all() and (encoded[1, features.VALUE_COUNT :] == 1).all()


def test_an_arc_of_axes_is_one_half_plane_of_the_encoding():
    """Left axis deviation (-90 to -30 deg) is one linear cut of (cos, sin), and +-180 meet."""
    angles = np.arange(-180.0, 180.0, 0.5)
    encoded = features.encode(_table([{"qrs_axis_deg": a} for a in angles]).values)
    names = list(features.FEATURE_NAMES)
    cos, sin = encoded[:, names.index("cos qrs_axis_deg")], encoded[:, names.index("sin qrs_axis_deg")]
    # the arc's centre is -60 deg and its half-width 30 deg: inside where cos(angle + 60) > cos(30)
    inside = cos * math.cos(math.radians(-60)) + sin * math.sin(math.radians(-60)) > math.cos(math.radians(30)) + 1e-6
    rule = np.array([BY_CODE["39732003"].rule({"qrs_axis_deg": float(a)}, None) for a in angles], dtype=bool)
    assert ((angles > -90) & (angles < -30) == inside).all()
    assert (inside == rule)[(angles != -90)].all()  # the rule includes -90 itself
    assert np.allclose(encoded[0, [names.index("cos qrs_axis_deg"), names.index("sin qrs_axis_deg")]], [-1, 0])


def test_scaling_is_median_and_interquartile_range_of_the_measured_values():
    rng = np.random.default_rng(3)
    rates = rng.normal(75, 15, 200)
    rates[rng.random(200) < 0.2] = np.nan
    rows = [{"heart_rate_bpm": r, "qrs_axis_deg": a} for r, a in zip(rates, rng.uniform(-180, 180, 200))]
    encoded = features.encode(_table(rows).values)
    center, spread = features.fit_scaling(encoded)
    measured = rates[~np.isnan(rates)]
    q1, q3 = np.percentile(measured, [25, 75])
    assert center[0] == pytest.approx(np.median(measured), rel=1e-6)
    assert spread[0] == pytest.approx((q3 - q1) / 1.349, rel=1e-5)
    # unmeasured numbers: 0 and 1; axes and flags are never shifted or scaled
    assert center[2] == 0 and spread[2] == 1 and (center[len(features.NUMBERS) :] == 0).all()
    assert (spread[len(features.NUMBERS) :] == 1).all()
    scaled = features.scale_array(encoded, center, spread)
    expected = np.clip((rates - center[0]) / spread[0], -features.CLIP, features.CLIP)
    np.testing.assert_allclose(scaled[:, 0], np.nan_to_num(expected, nan=0.0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(scaled[:, features.VALUE_COUNT :], encoded[:, features.VALUE_COUNT :])
    # outliers are clipped
    far = features.encode(_table([{"heart_rate_bpm": 1000.0}]).values)
    assert features.scale_array(far, center, spread)[0, 0] == features.CLIP


def test_a_record_that_cannot_be_measured_has_missing_measurements(monkeypatch):
    flat = np.zeros((12, 10 * RATE), dtype=np.float32)
    values, quality = features.measure_signal(flat, RATE)
    assert quality == "failed" and np.isnan(values).all()

    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(features, "measure", broken)
    values, quality = features.measure_signal(np.ones((12, 10 * RATE), np.float32), RATE)
    assert quality == "failed" and np.isnan(values).all()


def test_a_long_record_is_measured_on_its_first_minutes_as_measure_does():
    signal, _ = truth_signal(random_truth(np.random.default_rng(2)), fs=RATE, seconds=310.0)
    values, quality = features.measure_signal(signal, RATE)
    row = measure(signal, RATE).row()
    assert "first 300 s" in row["reason"] and quality == row["quality"]
    np.testing.assert_array_equal(values, [math.nan if row[c] is None else row[c] for c in VALUES])


def test_measurements_are_those_of_ecgnet_measure_at_the_model_rate_with_the_gains_corrected():
    """The driver's path (records read at 257 Hz, `Record.gain`) gives `ecgnet measure`'s rows
    at 257 Hz, which read the header's misstated gains themselves: on records of every source,
    the PTB-XL (200/mV) and Georgia (4880/mV) ones included."""
    found = {f.name: f for f in list_records(RECORDS)}
    names = sample_names(per_prefix=3)
    records = [read_record(found[n], RATE) for n in names]
    assert {r.gain for r in records} >= {1.0, 0.2}  # PTB-XL's 200/mV headers
    table = features.measure_records(records, RATE)
    for i, name in enumerate(names):
        row = measure_record(found[name], RATE)
        expected = [math.nan if row[c] is None else row[c] for c in VALUES]
        np.testing.assert_array_equal(table.values[i], expected, err_msg=name)
        assert table.quality[i] == row["quality"]


def test_training_measures_each_cached_record_once_as_the_driver_does(tmp_path, monkeypatch):
    names = sample_names(per_prefix=2)
    data = link_records(RECORDS, tmp_path / "data", names)
    cache = build_cache(list_records(data), tmp_path / "cache", RATE, jobs=1)
    assert all("gain" in r and "missing" in r for r in cache.records)
    table = features.cached_measurements(cache, RATE, jobs=2)
    records = [read_record(f, RATE) for f in list_records(data)]
    np.testing.assert_array_equal(table.values, features.measure_records(records, RATE).values)
    calls = []
    monkeypatch.setattr(features, "measure_signal", lambda *a, **k: calls.append(1))
    again = features.cached_measurements(cache, RATE, jobs=1)  # read back, nothing measured
    assert not calls and again.quality == table.quality
    np.testing.assert_array_equal(again.values, table.values)


# ---------------------------------------------------------------------------------------------
# The stacked stage


@pytest.mark.parametrize("seed", range(6))
def test_logistic_fit_is_scikit_learns(seed):
    linear_model = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(seed)
    n, k = rng.integers(30, 300), rng.integers(1, 12)
    x = rng.normal(size=(n, k)) * rng.uniform(0.1, 3, k)
    y = (x @ rng.normal(size=k) + rng.normal(size=n) > rng.normal()).astype(float)
    penalty = float(10 ** rng.uniform(-2, 2))
    w, b = stacking.fit_logistic(x, y, penalty, penalise_intercept=False)
    oracle = linear_model.LogisticRegression(C=1 / penalty, tol=1e-10, max_iter=10000).fit(x, y)
    np.testing.assert_allclose(w, oracle.coef_[0], atol=2e-4, rtol=2e-4)
    assert b == pytest.approx(oracle.intercept_[0], abs=2e-4)


@pytest.mark.parametrize("seed", range(3))
def test_logistic_fit_with_an_offset_is_statsmodels_ridge_glm(seed):
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(seed)
    n, k = 200, 4
    x = rng.normal(size=(n, k))
    offset = rng.normal(size=n) * 2
    y = (offset + x @ rng.normal(size=k) + rng.logistic(size=n) > 0).astype(float)
    penalty = 5.0
    w, b = stacking.fit_logistic(x, y, penalty, offset=offset)
    # statsmodels' elastic net with L1_wt=0 minimises -loglike / n + alpha / 2 |beta|^2 (every column)
    glm = sm.GLM(y, np.column_stack([x, np.ones(n)]), family=sm.families.Binomial(), offset=offset)
    oracle = glm.fit_regularized(alpha=penalty / n, L1_wt=0.0, cnvrg_tol=1e-12, maxiter=1000).params
    np.testing.assert_allclose(np.append(w, b), oracle, atol=1e-3)


def _rate_problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Records whose label is a heart rate under 60 bpm and whose network knows nothing of it:
    (network probabilities, encoded measurements, labels)."""
    rng = np.random.default_rng(seed)
    rates = rng.uniform(40, 120, n)
    encoded = features.encode(_table([{"heart_rate_bpm": r, "qrs_axis_deg": 30.0} for r in rates]).values)
    labels = np.zeros((n, label_space.NUM_CLASSES), dtype=bool)
    sb = label_space.CLASSES.index("426177001")
    labels[:, sb] = rates < 60
    probabilities = rng.uniform(0.2, 0.4, (n, label_space.NUM_CLASSES)).astype(np.float32)
    labels[:, 0] = probabilities[:, 0] + rng.normal(0, 0.03, n) > 0.3  # what the network knows
    return probabilities, encoded, labels


def test_the_stacked_stage_learns_what_a_measurement_defines():
    probabilities, encoded, labels = _rate_problem(300, 1)
    stacker = stacking.fit_stacker(probabilities, encoded, labels, penalty=1.0)
    test_p, test_x, test_y = _rate_problem(300, 2)
    out = stacker.apply(test_p, test_x)
    sb = label_space.CLASSES.index("426177001")
    assert class_auc(test_y, test_p)[0][sb] < 0.7 < 0.98 < class_auc(test_y, out)[0][sb]
    # a class the network ranks well, the measurements saying nothing of it, keeps its ranking
    assert class_auc(test_y, out)[0][0] == pytest.approx(class_auc(test_y, test_p)[0][0], abs=0.02)
    # the same stage on each fold model's probabilities (models, records, classes)
    stacked = stacker.apply(np.stack([test_p, test_p]), test_x)
    assert stacked.shape == (2, 300, label_space.NUM_CLASSES) and np.array_equal(stacked[1], out)


def test_the_criteria_stage_uses_only_what_each_criterion_reads():
    probabilities, encoded, labels = _rate_problem(300, 6)
    stacker = stacking.fit_stacker(probabilities, encoded, labels, penalty=1.0, method="criteria")
    names = np.array(features.FEATURE_NAMES)
    weights = dict(zip(label_space.CLASSES, stacker.coefficients[:, 1:] != 0))
    sinus_bradycardia = set(names[weights["426177001"]])
    assert "heart_rate_bpm" in sinus_bradycardia and sinus_bradycardia <= {
        "heart_rate_bpm", "log rr_sd_ms", "pr_ms", "cos p_axis_deg", "sin p_axis_deg",
        "heart_rate_bpm missing", "rr_sd_ms missing", "pr_ms missing", "p_axis_deg missing",
    }  # fmt: skip
    np.testing.assert_array_equal(
        stacking.inputs_of("criteria")[label_space.CLASSES.index("426177001")],
        [i for i, n in enumerate(names) if n.split(" ")[-1] in ("heart_rate_bpm", "rr_sd_ms", "pr_ms", "p_axis_deg")
         or n.split(" ")[0] in ("heart_rate_bpm", "rr_sd_ms", "pr_ms", "p_axis_deg")],
    )  # fmt: skip
    assert set(names[weights["39732003"]]) <= {"cos qrs_axis_deg", "sin qrs_axis_deg", "qrs_axis_deg missing"}
    # a class without a criterion keeps the network's probability exactly
    af = label_space.CLASSES.index("164889003")
    np.testing.assert_allclose(stacker.apply(probabilities, encoded)[:, af], probabilities[:, af], rtol=1e-5)
    test_p, test_x, test_y = _rate_problem(300, 7)
    sb = label_space.CLASSES.index("426177001")
    assert class_auc(test_y, stacker.apply(test_p, test_x))[0][sb] > 0.98


def test_a_strong_penalty_keeps_the_network_probabilities():
    probabilities, encoded, labels = _rate_problem(100, 3)
    stacker = stacking.fit_stacker(probabilities, encoded, labels, penalty=1e9)
    np.testing.assert_allclose(stacker.apply(probabilities, encoded), probabilities, atol=1e-4)


def test_cross_fitting_scores_each_fold_by_a_stage_that_never_saw_it():
    probabilities, encoded, labels = _rate_problem(120, 4)
    folds = np.repeat(np.arange(4), 30)
    before = stacking.cross_fit(probabilities, encoded, labels, folds, 1.0)
    changed = labels.copy()
    changed[folds == 2] = ~changed[folds == 2]  # every label of fold 2 flipped
    after = stacking.cross_fit(probabilities, encoded, changed, folds, 1.0)
    np.testing.assert_array_equal(before[folds == 2], after[folds == 2])
    assert not np.allclose(before[folds != 2], after[folds != 2])


def test_the_stage_round_trips_through_json_and_bad_entries_are_refused():
    probabilities, encoded, labels = _rate_problem(80, 5)
    stacker = stacking.fit_stacker(probabilities, encoded, labels, penalty=3.0)
    entry = json.loads(json.dumps(stacker.to_json()))
    again = stacking.Stacker.from_json(entry, "MODEL/model.json")
    np.testing.assert_array_equal(again.apply(probabilities, encoded), stacker.apply(probabilities, encoded))
    damaged = [
        ({**entry, "features": entry["features"][:-1]}, "other measurement features"),
        ({**entry, "coefficients": entry["coefficients"][:-1]}, "coefficients must be 24 x 26"),
        ({**entry, "intercepts": [math.nan] * 24}, "intercepts must be 24 finite"),
        ({**entry, "spread": [0.0] * features.FEATURE_COUNT}, "spread must be positive"),
        ({**entry, "center": "x"}, "center"),
        ({**entry, "method": "boosting"}, '"method": "logistic"'),
        (None, '"method": "logistic"'),
    ]
    for bad, message in damaged:
        with pytest.raises(ModelFolderError, match=message) as caught:
            stacking.Stacker.from_json(bad, "MODEL/model.json")
        assert "MODEL/model.json" in str(caught.value)


# ---------------------------------------------------------------------------------------------
# Rule decisions and the config


def test_rule_classes_by_abbreviation_or_code():
    assert decisions.rule_codes("stach, SB,270492004") == ("270492004", "426177001", "427084000")
    assert criteria.unknown_classes_problem("SB,STach") is None
    assert "'AF'" in (criteria.unknown_classes_problem("SB,AF") or "")
    with pytest.raises(ConfigError, match="decide_rules: 'AF' not a class with a rule"):
        Config(decide_rules="SB,AF")


def test_config_fields_are_checked_and_old_models_have_none():
    config = parse_overrides(["features=measurements", "stacking=logistic", "decide_rules=SB,LAD"])
    assert (config.features, config.stacking, config.decide_rules) == ("measurements", "logistic", "SB,LAD")
    assert Config.from_dict(config.to_dict()) == config
    assert parse_overrides(["stacking=criteria"]).stacking == "criteria"
    for bad in ("features=raw", "stacking=boosting", "stacking_penalty=0"):
        with pytest.raises(ConfigError):
            parse_overrides([bad])
    old = {k: v for k, v in Config().to_dict().items() if k not in ("features", "stacking", "decide_rules")}
    saved = Config.from_saved(old)
    assert (saved.features, saved.stacking, saved.decide_rules) == ("none", "none", "")
    assert not features.needed(saved) and features.needed(Config(decide_rules="SB"))


def test_rules_decide_where_they_can_tell_and_thresholds_keep_their_verdicts():
    table = _table(
        [
            {"heart_rate_bpm": 50.0, "pr_ms": 160.0, "p_axis_deg": 50.0, "qtc_fridericia_ms": 455.0},
            {"heart_rate_bpm": 80.0, "pr_ms": 230.0, "p_axis_deg": 50.0, "qtc_fridericia_ms": 455.0},
            {"heart_rate_bpm": 50.0},  # no P waves on a regular rhythm: sinus unknown
        ]
    )
    demographics = np.zeros((3, len(DEMOGRAPHICS)), np.float32)
    demographics[:, DEMOGRAPHICS.index("male")] = 1
    demographics[1, DEMOGRAPHICS.index("male")], demographics[1, DEMOGRAPHICS.index("female")] = 0, 1
    codes = decisions.rule_codes("SB,IAVB,LQT")
    verdicts = decisions.rule_verdicts(table, demographics, codes)
    column = {code: label_space.CLASSES.index(code) for code in codes}
    assert verdicts[0, column["426177001"]] == 1 and verdicts[1, column["426177001"]] == 0
    assert np.isnan(verdicts[2, column["426177001"]])
    assert verdicts[1, column["270492004"]] == 1 and verdicts[0, column["270492004"]] == 0
    assert verdicts[0, column["111975006"]] == 1 and verdicts[1, column["111975006"]] == 0  # men 450, women 460
    others = [c for c in range(label_space.NUM_CLASSES) if c not in column.values()]
    assert np.isnan(verdicts[:, others]).all()

    probabilities = np.random.default_rng(0).uniform(0.01, 0.99, (2, 3, label_space.NUM_CLASSES)).astype(np.float32)
    decided = decisions.decide(probabilities, verdicts)
    for threshold in (0.01, 0.5, 0.99, 1.0):
        from ecgnet.thresholds import apply_thresholds

        for model in decided:
            labels = apply_thresholds(model, threshold)
            known = ~np.isnan(verdicts)
            assert (labels[known] == (verdicts[known] == 1)).all() or threshold == 1.0
    np.testing.assert_array_equal(decided[:, 2, column["426177001"]], probabilities[:, 2, column["426177001"]])


def test_without_a_second_stage_the_probabilities_are_the_decisions():
    stage = decisions.SecondStage.of(Config.paper())
    p = np.random.default_rng(1).random((2, 4, label_space.NUM_CLASSES)).astype(np.float32)
    probabilities, decided = stage.apply(p, None, np.zeros((4, 5)))
    assert probabilities is p and decided is p and not stage.active


# ---------------------------------------------------------------------------------------------
# The network with measurements


def test_the_network_takes_the_scaled_measurements_and_keeps_their_scaling():
    torch.manual_seed(0)
    config = TINY.replace(features="measurements")
    model = SEResNet1d(config).eval()
    state = model.state_dict()
    assert state["feature_center"].shape == (features.FEATURE_COUNT,) and "feature_spread" in state
    encoded = features.encode(_table([{"heart_rate_bpm": 50.0, "pr_ms": 210.0}, {"heart_rate_bpm": 50.0}]).values)
    center, spread = features.fit_scaling(np.concatenate([encoded, encoded + 1e-3]))
    model.set_feature_scaling(center, spread)
    x = torch.randn(2, 12, 512)
    inputs = torch.cat([torch.zeros(2, len(DEMOGRAPHICS)), torch.from_numpy(encoded)], dim=1)
    out = model(x, inputs)
    # a measured value moves the output; a missing one's raw value does not
    moved = inputs.clone()
    moved[0, len(DEMOGRAPHICS)] = 120.0
    assert not torch.allclose(model(x, moved)[0], out[0])
    missing = inputs.clone()
    missing[1, len(DEMOGRAPHICS) + 2] = 500.0  # PR of record 1, which is flagged missing
    assert torch.equal(model(x, missing)[1], out[1])
    # without features the network is the one it always was
    assert "feature_center" not in SEResNet1d(TINY_NETWORK).state_dict()
    assert SEResNet1d(TINY_NETWORK).classifier.in_features + features.FEATURE_COUNT == model.classifier.in_features


# ---------------------------------------------------------------------------------------------
# A model trained, driven, quantised and compared with measurements


@pytest.fixture(scope="module")
def hybrid_model(tmp_path_factory):
    """(model folder, data folder) of a tiny model with features, stacking and rule decisions."""
    from ecgnet.training import train

    root = tmp_path_factory.mktemp("hybrid")
    data = link_records(RECORDS, root / "train", sample_names())
    train(data, str(root / "model"), config=HYBRID, jobs=1)
    return str(root / "model"), data


def test_training_saves_the_scaling_the_stage_and_both_reports(hybrid_model):
    model, data = hybrid_model
    manifest = modelstore.read_manifest(model)
    assert manifest["config"]["features"] == "measurements" and "stacking" in manifest
    report = json.load(open(os.path.join(model, "cv_report.json")))
    second = report["second_stage"]
    assert second["stacking"] == "logistic" and second["decide_rules"] == "SB,STach,IAVB"
    assert set(second["network_class_auroc"]) == set(report["class_auroc"]) == set(label_space.CLASSES)
    folds = json.load(open(os.path.join(model, "work", "folds.json")))
    cache = build_cache(list_records(data), os.path.join(os.path.dirname(model), "cache"), RATE, jobs=1)
    table = features.cached_measurements(cache, RATE, jobs=1)
    rows = [cache.names.index(n) for n in folds["names"]]
    encoded = features.encode(table.take(rows).values)
    for k in range(2):
        state = modelstore.load_weights(os.path.join(model, f"fold{k + 1}.pt"), Config.from_saved(manifest["config"]))
        training_rows = np.array(folds["folds"]) != k
        center, spread = features.fit_scaling(encoded[training_rows])
        np.testing.assert_array_equal(state["feature_center"].numpy(), center)
        np.testing.assert_array_equal(state["feature_spread"].numpy(), spread)


def test_the_driver_measures_stacks_and_lets_the_rules_decide(hybrid_model):
    model, data = hybrid_model
    ensemble = Ensemble.from_folder(model, "cpu")
    assert ensemble.second_stage.stacker is not None
    records = [read_record(f, RATE) for f in list_records(data)]
    labels, probabilities = ensemble.classify(records)
    alone = [ensemble.classify([r]) for r in records[:6]]
    np.testing.assert_allclose(np.concatenate([p for _, p in alone]), probabilities[:6], atol=1e-5)
    table = features.measure_records(records, RATE)
    demographics = np.stack([r.demographics for r in records])
    verdicts = decisions.rule_verdicts(table, demographics, decisions.rule_codes("SB,STach,IAVB"))
    known = ~np.isnan(verdicts)
    assert known.sum() > 20
    assert (labels[known] == (verdicts[known] == 1)).all()
    # the probabilities stay the (stacked) models' for ranking, never the 0/1 verdicts
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_a_record_the_driver_cannot_measure_is_still_classified(hybrid_model, monkeypatch):
    model, data = hybrid_model
    ensemble = Ensemble.from_folder(model, "cpu")
    record = read_record(list_records(data)[0], RATE)
    monkeypatch.setattr(features, "measure", lambda *a, **k: 1 / 0)
    labels, probabilities = ensemble.classify([record])
    assert np.isfinite(probabilities).all() and labels.any()


def test_the_int8_gate_measures_the_whole_second_stage(hybrid_model, tmp_path):
    model, data = hybrid_model
    copy = tmp_path / "model"
    shutil.copytree(model, copy)
    assert cli.quantize([str(copy), data, "--calibration-records", "8"]) == 0
    fidelity = modelstore.read_manifest(copy)["int8"]["fidelity"]
    assert fidelity["records"] == 12 and fidelity["identical_label_cells"] >= 0.995
    assert modelstore.stored_precision(copy) == "int8"
    int8_labels, _ = Ensemble.from_folder(str(copy), "cpu").classify([read_record(list_records(data)[0], RATE)])
    assert int8_labels.shape == (1, label_space.NUM_CLASSES)


def test_a_model_without_its_stage_is_refused(hybrid_model, tmp_path):
    model, _ = hybrid_model
    copy = tmp_path / "model"
    shutil.copytree(model, copy)
    manifest = modelstore.read_manifest(copy)
    del manifest["stacking"]
    modelstore.write_json(str(copy / "model.json"), manifest)
    with pytest.raises(ModelFolderError, match="stacking entry must be an object"):
        Ensemble.from_folder(str(copy), "cpu")
    with pytest.raises(ConfigError, match="needs its fitted stage"):
        Ensemble(HYBRID, [], [0.5] * label_space.NUM_CLASSES, "cpu")


def test_compare_finishes_post_training_variants_from_the_trained_folds(tmp_path, caplog):
    data = tmp_path / "data"
    for number, prefix in enumerate(("A", "E")):
        make_dataset(str(data), 8, seed=number, prefix=prefix)
    out = str(tmp_path / "out")
    base = TINY_NETWORK.replace(epochs=1, split="source")
    variants = experiments.plan_variants(
        base,
        None,
        [
            "stacked:stacking=logistic,decide_rules=SB",
            "features:features=measurements",
            "global:threshold_method=global",
        ],
    )
    with caplog.at_level("INFO"):
        summary = experiments.run_comparison(str(data), out, variants, [1], jobs=1)
    reused = [r.message for r in caplog.records if "not trained again" in r.message]
    assert len(reused) == 2 and all("baseline/seed-1" in m for m in reused)
    for name in ("stacked", "global"):
        for k in range(2):
            weights = f"fold{k + 1}.pt"
            assert (
                open(f"{out}/{name}/seed-1/{weights}", "rb").read()
                == open(f"{out}/baseline/seed-1/{weights}", "rb").read()
            )
    stacked = json.load(open(f"{out}/stacked/seed-1/cv_report.json"))
    assert stacked["second_stage"]["decide_rules"] == "SB"
    baseline = json.load(open(f"{out}/baseline/seed-1/cv_report.json"))
    assert stacked["second_stage"]["network_class_auroc"] == baseline["class_auroc"]
    assert "feature_center" in modelstore.load_tensors(f"{out}/features/seed-1/fold1.pt")
    entries = {v["name"]: v for v in summary["variants"]}
    assert entries["stacked"]["paired"]["auroc"]["n"] == 1
    assert entries["stacked"]["paired"]["auroc"]["mean"] == pytest.approx(
        entries["stacked"]["auroc"]["mean"] - entries["baseline"]["auroc"]["mean"]
    )
    text = open(f"{out}/comparison.md").read()
    assert "## Paired with the baseline" in text and "## AUROC per class" in text and "| SB (426177001) |" in text

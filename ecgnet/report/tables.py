"""The report's parts without figures: notices, the summary, per-class and per-source sections,
the class order and the fixed prose. No plotting here (and no matplotlib): `build` adds the
figure sections and puts the page together."""

import numpy as np

from .. import labels as label_space
from . import data as D
from . import html as H

DIAGNOSES = list(label_space.NAMES)
NEEDS_LABELS = (
    "Needs the training labels: the MODEL folder keeps the out-of-fold probabilities but not the "
    "labels. Run <code>ecgnet report MODEL OUT --labels DATA</code> with the folder of records the "
    "model was trained on."
)
NEEDS_TEST_CURVES = (
    "Needs the test records and outputs: add <code>--test-labels TEST_DATA --outputs OUTPUTS</code> "
    "(the folders <code>evaluate_model.py</code> scored)."
)

CONFUSION_TEXT = (
    "<p>How to read it: rows are true classes, columns predicted classes. Each record adds 1 / |true &cup; predicted "
    "labels| to <b>A</b> for every (true, predicted) pair, and the challenge metric is the sum of <b>W</b> &times; "
    "<b>A</b>, scaled so that the true labels score 1 and always answering sinus rhythm scores 0. The diagonal earns "
    "full credit (W = 1). A wrong prediction (a class the record does not have) still earns its weight: from 0.15 to "
    "0.5 in the 2020 table, so close diagnoses (AF for atrial flutter, T-wave abnormal for T-wave inversion: 0.5) are "
    "half forgiven and distant ones (Q-wave abnormal for sinus rhythm: 0.15) almost wholly lost; every extra label "
    "also dilutes the record's other credit through the 1 / |union| term. Off-diagonal cells of A also hold pairs of "
    "two true labels of one record, which are no mistake, so the lower panels keep only the wrong predictions: on "
    "the left as dots (area: their mass in A; green: forgiven, red: costly; the <i>missed</i> column holds true "
    "labels that were not predicted, which earn nothing), on the right the credit they lose, (1 &minus; W) &times; "
    "mass.</p>"
)


def _fold_rows(model):
    rows = []
    folds = model.cv_report.get("folds", [])
    computed = {}
    if model.fold_results:
        computed = dict(zip(sorted(set(model.folds.tolist())), model.fold_results))
    for fold in folds:
        number = fold.get("fold")
        before = dict(fold.get("before_thresholds") or {})
        after = dict(fold.get("after_thresholds") or {})
        if number in computed:  # fill what cv_report lacks (sensitivity and specificity in older reports)
            for target, result in zip((before, after), computed[number]):
                for key, value in D.summary_row(result).items():
                    if target.get(key) is None:
                        target[key] = value
        best = fold.get("best_validation_challenge")
        extra = f"{fold.get('best_epoch')} ({best:.3f})" if best is not None else str(fold.get("best_epoch"))
        rows.append(
            {
                "label": f"fold {number}",
                "kind": "fold",
                "records": fold.get("records"),
                "extra": extra,
                "before": before,
                "after": after,
            }
        )
    overall = model.cv_report.get("overall", {})
    before, after = dict(overall.get("before_thresholds") or {}), dict(overall.get("after_thresholds") or {})
    if model.oof is not None:
        for target, result in ((before, model.oof_before), (after, model.oof.result)):
            for key, value in D.summary_row(result).items():
                if target.get(key) is None:
                    target[key] = value
    rows.append(
        {
            "label": "out-of-fold, pooled",
            "kind": "pooled",
            "records": overall.get("records", len(model.names)),
            "extra": "",
            "before": before,
            "after": after,
        }
    )
    return rows


def class_order(model, test):
    """Class order of every per-class view: by weight in the metric on the training labels
    (or the test labels, or by test positives), heaviest first."""
    if model.oof is not None:
        key = model.oof.weight_share()
    elif test is not None and test.scored is not None:
        key = test.scored.weight_share()
    elif test is not None:
        key = np.array([row["positives"] for row in test.scores["classes"]], dtype=float)
    else:
        return list(range(label_space.NUM_CLASSES))
    return [int(k) for k in np.argsort(-key, kind="stable")]


def notices(model, test=None):
    """The notes above the sections: which labels are scored, labels that disagree with
    cv_report.json, no labels, a test set that shares records with the training set."""
    from .provenance import provenance_html, shared_records

    notes = []
    if model.provenance is not None:
        notes.append(H.note(provenance_html(model.provenance, H.esc)))
    recorded = (model.cv_report.get("overall", {}).get("after_thresholds") or {}).get("Challenge metric")
    if model.oof is not None and recorded is not None and abs(recorded - model.oof.result["Challenge metric"]) > 1e-3:
        scored = model.oof.result["Challenge metric"]
        provenance = model.provenance
        trained = provenance.trained_with if provenance is not None else None
        applied = provenance.applied if provenance is not None else None
        other_labels = trained and (applied is None or applied["sha256"] != trained.get("sha256"))
        second_stage = bool(model.config.decide_rules) or model.config.stacking != "none"
        if other_labels:
            notes.append(
                H.note(
                    f"On these labels the out-of-fold challenge metric is {scored:.4f}; cv_report.json records "
                    f"{recorded:.4f} on the labels the model was trained with (its label overrides)."
                )
            )
        if second_stage:
            # cv_report.json scores the labels after the second stage; the views here show the
            # network's probabilities and thresholds alone, so the two differ by design.
            notes.append(
                H.note(
                    f"cv_report.json records an out-of-fold challenge metric of {recorded:.4f} for this "
                    f"model's labels, which pass through a second stage after the thresholds (rule decisions "
                    f"{H.esc(model.config.decide_rules or 'none')}, stacking {H.esc(model.config.stacking)}). "
                    f"The per-class, curve, confusion and per-source views below show the network's "
                    f"probabilities and thresholds alone: {scored:.4f}."
                )
            )
        if not other_labels and not second_stage:
            notes.append(
                H.note(
                    f"The labels given give an out-of-fold challenge metric of {scored:.4f}, but cv_report.json "
                    f"records {recorded:.4f}: are they the labels the model was trained on? The per-class, curve, "
                    "confusion and per-source views below use them.",
                    error=True,
                )
            )
    if model.oof is None:
        notes.append(
            H.note(
                "No training labels were given (<code>--labels DATA</code>): the per-class, curve, "
                "threshold, confusion and per-source views of the cross-validation are left out."
            )
        )
    if test is not None and test.scored is not None:
        shared = shared_records(model.trained_names, test.scored.names)
        if shared:
            notes.append(
                H.note(
                    f"{len(shared)} of the {len(test.scored.names)} test records are also training records of this "
                    f"model (first: {H.esc(', '.join(shared[:5]))}): the model has seen them, so the test scores "
                    "are optimistic and the test set is not independent.",
                    error=True,
                )
            )
    elif test is not None:
        notes.append(
            H.note(
                "The test scores name no records, so the report cannot check that none of them was a training "
                "record; give <code>--test-labels TEST_DATA --outputs OUTPUTS</code> to check it."
            )
        )
    return notes


def _threshold_kind(cv_report: dict) -> str:
    """How the model's thresholds were searched, in words, from cv_report.json."""
    method = cv_report.get("threshold_method", "per_class")
    kinds = {"per_class": "one per class", "global": "one threshold for every class"}
    return kinds.get(method, f"threshold_method={H.esc(str(method))}")


def summary_section(model, test_data):
    """The summary table: each fold, the pooled out-of-fold predictions and the test set."""
    rows = _fold_rows(model)
    if test_data is not None:
        after = D.summary_row(test_data.scores)
        if test_data.scored is not None:
            for key, value in D.summary_row(test_data.scored.result).items():
                after[key] = value if after.get(key) is None else after[key]
        rows.append(
            {
                "label": "test set",
                "kind": "test",
                "records": test_data.scores.get("records"),
                "extra": "",
                "before": None,
                "after": after,
            }
        )
    summary = (
        H.summary_table(rows)
        + f"<p>Labels from p &ge; {model.checkpoint_threshold:g} (or the most probable class: the rule that chose "
        f"each fold's epoch) and from the searched thresholds ({_threshold_kind(model.cv_report)}). Every "
        "training record is predicted "
        f"once, by the fold model that did not see it ({len(model.names)} records pooled). The searched thresholds "
        "were fitted on these same predictions, so the 'searched' out-of-fold columns are optimistic. AUROC and "
        "AUPRC do not depend on thresholds. Sensitivity and specificity are macro averages over the classes "
        "with positives (resp. negatives). The test set row is the driver's outputs as scored by "
        "<code>evaluate_model.py</code>.</p>"
    )
    return ("summary", "Summary", summary)


def class_section(model, test_data, order, min_positives):
    """The per-class tables, out-of-fold and test set."""
    content = ""
    if model.oof is not None:
        content += "<h3>Out-of-fold</h3>" + H.class_table(
            D.class_rows(model.oof.result, model.thresholds, model.oof.weight_share()), order, min_positives, DIAGNOSES
        )
    else:
        content += H.note(NEEDS_LABELS)
    if test_data is not None:
        share = test_data.scored.weight_share() if test_data.scored is not None else None
        test_result = test_data.scores
        if test_data.scored is not None and test_result["classes"][0].get("sensitivity", "absent") == "absent":
            test_result = test_data.scored.result  # scores from before sensitivity was added
        content += '<h3 id="test-classes">Test set</h3>' + H.class_table(
            D.class_rows(test_result, model.thresholds, share), order, min_positives, DIAGNOSES
        )
    content += (
        "<p>Classes sorted by their weight in the challenge metric: the share of the score of perfect outputs "
        "that records of the class carry (each record's credit is split over its labels). Classes with fewer "
        f"than {min_positives} positives are greyed and marked <i>few</i>: their numbers rest on a handful of "
        "records. F1, sensitivity and specificity are those of the outputs at the thresholds shown.</p>"
    )
    return ("classes", "Per class", content)


def source_section(model, test_data):
    """The per-source tables, out-of-fold and test set."""
    content = ""
    if model.oof is not None:
        content += "<h3>Out-of-fold</h3>" + H.source_table(model.oof.by_source)
    else:
        content += H.note(NEEDS_LABELS)
    if test_data is not None:
        sources = test_data.scores.get("sources") or {}
        content += '<h3 id="test-sources">Test set</h3>' + (H.source_table(sources) if sources else "<p>None.</p>")
    content += (
        "<p>Sources are told by the record name's prefix (A CPSC, Q CPSC-Extra, I INCART, S PTB, HR PTB-XL, "
        "E Georgia, JS Chapman-Shaoxing/Ningbo); outputs at the chosen thresholds.</p>"
    )
    return ("sources", "Per source", content)

"""Assembles the report: numbers from `data`, figures from `plots`, the page from `html`."""

import csv
import os
import time
from importlib import resources

import numpy as np

from .. import __version__
from .. import labels as label_space
from . import data as D
from . import html as H
from . import plots as P


def _diagnoses():
    """The diagnosis name of each class, from the official dx_mapping_scored.csv."""
    with resources.files("ecgnet").joinpath("data", "dx_mapping_scored.csv").open() as f:
        names = {row["SNOMED CT Code"].strip(): row["Dx"].strip() for row in csv.DictReader(f)}
    return [names.get(code, "") for code in label_space.CLASSES]


DIAGNOSES = _diagnoses()
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


def _order(model, test):
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


def _curve_sections(scored, name, stem, order, few, out_folder, color):
    curves, points = scored.curves(), scored.operating_points()
    positives = scored.labels.sum(axis=0)
    absent = [label_space.ABBREVIATIONS[k] for k in order if positives[k] == 0]
    if len(absent) == label_space.NUM_CLASSES:
        return H.note(f"No record of the {name} has a scored label: there are no curves to draw.")
    absent_text = f" Classes without positives here (no curve): {', '.join(absent)}." if absent else ""
    parts = []
    for kind, what in (("roc", "ROC curves"), ("pr", "precision-recall curves")):
        figure = P.curve_grid(kind, [(name, color, curves, points, scored.thresholds)], order, positives, few)
        uri, files = P.save(figure, out_folder, f"{stem}_{kind}")
        caption = (
            f"Per-class {what} ({name}, {len(scored.names)} records), classes in the order of the table. "
            "The dot is the operating point of the outputs at the chosen thresholds "
            "(a record's most probable class is always on, so it can lie off the curve). Grey titles: "
            "classes with few positives, whose curves are noisy." + absent_text
        )
        parts.append(H.figure(uri, files, caption, f"{what}, {name}"))
    return "".join(parts)


def _confusion_section(scored, name, stem, out_folder):
    views = D.confusion_views(scored.labels, scored.binary)
    uri, files = P.save(P.confusion_figure(views, name), out_folder, stem)
    costly, forgiven = D.top_confusions(views)
    return (
        H.figure(
            uri,
            files,
            f"The challenge metric's confusion matrix ({name}, outputs at the chosen thresholds) with its weights.",
            f"confusion matrix and weights, {name}",
        )
        + "<h3>Costliest wrong predictions</h3>"
        + H.confusion_table(costly, lost=True)
        + "<h3>Most forgiven wrong predictions</h3>"
        + H.confusion_table(forgiven, lost=False)
    )


def write_report(model_folder, out_folder, test=None, labels=None, min_positives=10):
    """Write OUT/report.html (and a PNG and an SVG of every plot) for a MODEL folder.

    `labels`: the training records' folder (or a mapping name -> codes), for the views of the
    out-of-fold predictions that need labels. `test`: a `TestSet` (or dict with `scores`,
    `labels`, `outputs`) for the same views on a test set. Returns the report's path."""
    started = time.time()
    model = D.load_model_data(model_folder, labels)
    test_data = D.load_test(test, model.thresholds) if test else None
    os.makedirs(out_folder, exist_ok=True)
    order = _order(model, test_data)
    config = model.manifest.get("config", {})
    notices, sections = [], []
    recorded = (model.cv_report.get("overall", {}).get("after_thresholds") or {}).get("Challenge metric")
    if model.oof is not None and recorded is not None and abs(recorded - model.oof.result["Challenge metric"]) > 1e-3:
        notices.append(
            H.note(
                f"The labels given give an out-of-fold challenge metric of {model.oof.result['Challenge metric']:.4f}, "
                f"but cv_report.json records {recorded:.4f}: are they the labels the model was trained on? The "
                "per-class, curve, confusion and per-source views below use them.",
                error=True,
            )
        )
    if model.oof is None:
        notices.append(
            H.note(
                "No training labels were given (<code>--labels DATA</code>): the per-class, curve, "
                "threshold, confusion and per-source views of the cross-validation are left out."
            )
        )

    # Summary
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
    oof_records = len(model.names)
    summary = (
        H.summary_table(rows)
        + f"<p>Labels from p &ge; {model.checkpoint_threshold:g} (or the most probable class: the rule that chose "
        "each fold's epoch) and from the searched per-class thresholds. Every training record is predicted "
        f"once, by the fold model that did not see it ({oof_records} records pooled). The searched thresholds "
        "were fitted on these same predictions, so the 'searched' out-of-fold columns are optimistic. AUROC and "
        "AUPRC do not depend on thresholds. Sensitivity and specificity are macro averages over the classes "
        "with positives (resp. negatives). The test set row is the driver's outputs as scored by "
        "<code>evaluate_model.py</code>.</p>"
    )
    sections.append(("summary", "Summary", summary))

    # Per class
    few_oof = None
    content = ""
    if model.oof is not None:
        positives = model.oof.labels.sum(axis=0)
        few_oof = positives < min_positives
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
    sections.append(("classes", "Per class", content))

    # Curves
    content = ""
    if model.oof is not None:
        content += "<h3>Out-of-fold</h3>" + _curve_sections(
            model.oof, "out-of-fold", "oof", order, few_oof, out_folder, P.OOF_COLOR
        )
    else:
        content += H.note(NEEDS_LABELS)
    if test_data is not None:
        content += '<h3 id="test-curves">Test set</h3>'
        if test_data.scored is not None:
            few_test = test_data.scored.labels.sum(axis=0) < min_positives
            content += _curve_sections(test_data.scored, "test set", "test", order, few_test, out_folder, P.TEST_COLOR)
        else:
            content += H.note(NEEDS_TEST_CURVES)
    sections.append(("curves", "ROC and precision-recall curves per class", content))

    # Threshold search
    if model.oof is not None:
        grid, sweep = D.threshold_sweep(model.probabilities, model.oof.labels, model.thresholds, model.step)
        sweeps = [("out-of-fold (what the search saw)", P.OOF_COLOR, sweep)]
        if test_data is not None and test_data.scored is not None:
            sweeps.append(
                (
                    "test set (mean probability of the folds)",
                    P.TEST_COLOR,
                    D.threshold_sweep(
                        test_data.scored.probabilities, test_data.scored.labels, model.thresholds, model.step
                    )[1],
                )
            )
        flat = [k for k in order if all(np.ptp(s[k]) < 1e-12 for _, _, s in sweeps)]
        shown = [k for k in order if k not in flat]
        figure = P.sweep_grid(
            grid,
            sweeps,
            shown or order,
            model.thresholds,
            model.checkpoint_threshold,
            model.oof.labels.sum(axis=0),
            few_oof,
        )
        uri, files = P.save(figure, out_folder, "threshold_search")
        flat_text = (
            f" Left out, as no threshold changes the metric for them (every probability below or above the "
            f"grid, or no effect): {', '.join(label_space.ABBREVIATIONS[k] for k in flat)}."
            if flat and shown
            else ""
        )
        content = H.figure(
            uri,
            files,
            (
                f"The challenge metric as one class's threshold moves over the search grid (step {model.step:g}) "
                "with the other classes at their chosen thresholds: at convergence, what the coordinate search saw "
                f"in its last round ({model.cv_report.get('threshold_search_rounds', '?')} rounds). "
                "A flat curve means the class barely moves the metric; "
                "a narrow peak on few positives is likely over-fitted."
                + (
                    " The test curve thresholds the mean of the fold models' probabilities; the driver instead votes "
                    "over the fold models, so its metric can differ slightly."
                    if len(sweeps) > 1
                    else ""
                )
                + flat_text
            ),
            "challenge metric against each class's threshold",
        )
    else:
        content = H.note(NEEDS_LABELS)
    sections.append(("thresholds", "Threshold search", content))

    # Learning curves
    folds = model.cv_report.get("folds", [])
    if any(f.get("history") for f in folds):
        uri, files = P.save(P.learning_curves(folds, config.get("lr_milestones", ())), out_folder, "learning_curves")
        content = H.figure(
            uri,
            files,
            (
                "Training loss and validation challenge metric per epoch and fold. Each fold keeps the weights of the "
                "epoch with the best validation metric (ringed); the validation records are the fold's out-of-fold "
                "records, so the chosen epoch's metric is slightly optimistic."
            ),
            "learning curves per fold",
        )
    else:
        content = H.note("cv_report.json holds no epoch history.")
    sections.append(("learning", "Learning curves", content))

    # Confusion
    content = CONFUSION_TEXT
    if model.oof is not None:
        content += "<h3>Out-of-fold</h3>" + _confusion_section(model.oof, "out-of-fold", "oof_confusion", out_folder)
    else:
        content += H.note(NEEDS_LABELS)
    if test_data is not None:
        content += '<h3 id="test-confusion">Test set</h3>'
        content += (
            _confusion_section(test_data.scored, "test set", "test_confusion", out_folder)
            if test_data.scored is not None
            else H.note(NEEDS_TEST_CURVES)
        )
    sections.append(("confusion", "Which mistakes cost: the metric's confusion matrix", content))

    # Sources
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
    sections.append(("sources", "Per source", content))

    training = model.manifest.get("training", {})
    meta = (
        f'<p class="meta">Model <code>{H.esc(os.path.abspath(model.folder))}</code>, trained '
        f"{H.esc(model.manifest.get('created', '?'))} on {training.get('records', oof_records)} records "
        f"({config.get('folds', '?')} folds, {config.get('epochs', '?')} epochs, width {config.get('width', '?')}, "
        f"batch {config.get('batch_size', '?')}). Report by ecgnet {__version__}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, in {time.time() - started:.0f} s.</p>"
    )
    text = H.page("ecgnet model report", meta, notices, sections)
    path = os.path.join(out_folder, "report.html")
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(partial, path)
    return path

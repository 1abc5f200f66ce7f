"""Assembles the report: numbers from `data`, figures from `plots`, the page from `html`.

One function per section: the sections without figures are in `tables`, those with figures
(curves, threshold search, learning curves, confusion) here, and `write_report` puts them together.
"""

import os
import time

import numpy as np

from .. import __version__
from .. import labels as label_space
from ..files import atomic_write
from ..thresholds import threshold_sweep
from . import data as D
from . import html as H
from . import plots as P
from . import tables as T
from .generalisation import generalisation_section
from .measurements import measurement_section
from .tables import CONFUSION_TEXT, NEEDS_LABELS, NEEDS_TEST_CURVES


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


def _confusion_figures(scored, name, stem, out_folder):
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


def curves_section(model, test_data, order, few_oof, min_positives, out_folder):
    """ROC and precision-recall curves per class, out-of-fold and test set."""
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
    return ("curves", "ROC and precision-recall curves per class", content)


def threshold_section(model, test_data, order, few_oof, out_folder):
    """The challenge metric against each class's threshold, as the threshold search saw it."""
    if model.oof is None:
        return ("thresholds", "Threshold search", H.note(NEEDS_LABELS))
    grid, sweep = threshold_sweep(model.probabilities, model.oof.labels, model.thresholds, model.step)
    sweeps = [("out-of-fold (what the search saw)", P.OOF_COLOR, sweep)]
    if test_data is not None and test_data.scored is not None:
        sweeps.append(
            (
                "test set (mean probability of the folds)",
                P.TEST_COLOR,
                threshold_sweep(test_data.scored.probabilities, test_data.scored.labels, model.thresholds, model.step)[
                    1
                ],
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
    caption = (
        f"The challenge metric as one class's threshold moves over the search grid (step {model.step:g}) "
        "with the other classes at their chosen thresholds: at convergence, what the coordinate search saw "
        f"in its last round ({H.esc(model.cv_report.get('threshold_search_rounds') or '?')} rounds). "
        "A flat curve means the class barely moves the metric; "
        "a narrow peak on few positives is likely over-fitted."
        + (
            " The test curve thresholds the mean of the fold models' probabilities; the driver instead votes "
            "over the fold models, so its metric can differ slightly."
            if len(sweeps) > 1
            else ""
        )
        + flat_text
    )
    content = H.figure(uri, files, caption, "challenge metric against each class's threshold")
    return ("thresholds", "Threshold search", content)


LEARNING_CAPTIONS = {
    "validation": (
        "Training loss and validation challenge metric per epoch and fold. Each fold keeps the weights of the "
        "epoch with the best validation metric (ringed); the validation records are the fold's out-of-fold "
        "records, so the chosen epoch's metric is slightly optimistic."
    ),
    "inner": (
        "Training loss and challenge metric per epoch and fold, on the held-out fold (solid) and on the fold's "
        "inner split of its training records (dashed). Each fold keeps the epoch best on its inner split (ringed), "
        "so the held-out records, which give the out-of-fold score, chose nothing."
    ),
    "last": (
        "Training loss per epoch and fold; each fold keeps its last epoch (ringed), the only one validated on "
        "its held-out records."
    ),
}


def learning_section(model, out_folder):
    """Training loss and validation metric per epoch and fold."""
    folds = model.cv_report.get("folds", [])
    selection = (model.cv_report.get("selection") or {}).get("method", "validation")
    if any(f.get("history") for f in folds):
        uri, files = P.save(P.learning_curves(folds, model.config.lr_milestones), out_folder, "learning_curves")
        content = H.figure(uri, files, LEARNING_CAPTIONS[selection], "learning curves per fold")
    else:
        content = H.note("cv_report.json holds no epoch history.")
    return ("learning", "Learning curves", content)


def confusion_section(model, test_data, out_folder):
    """The metric's confusion matrix with its weights, out-of-fold and test set."""
    content = CONFUSION_TEXT
    if model.oof is not None:
        content += "<h3>Out-of-fold</h3>" + _confusion_figures(model.oof, "out-of-fold", "oof_confusion", out_folder)
    else:
        content += H.note(NEEDS_LABELS)
    if test_data is not None:
        content += '<h3 id="test-confusion">Test set</h3>'
        content += (
            _confusion_figures(test_data.scored, "test set", "test_confusion", out_folder)
            if test_data.scored is not None
            else H.note(NEEDS_TEST_CURVES)
        )
    return ("confusion", "Which mistakes cost: the metric's confusion matrix", content)


def _meta(model, started):
    """The line under the title: the model, its training and this report."""
    config = model.config
    records = (model.manifest.get("training") or {}).get("records")
    return (
        f'<p class="meta">Model <code>{H.esc(os.path.abspath(model.folder))}</code>, trained '
        f"{H.esc(model.manifest.get('created') or '?')} on {H.esc(records or len(model.names))} records "
        f"({config.folds} folds, {config.epochs} epochs, width {config.width}, "
        f"batch {config.batch_size}). Report by ecgnet {__version__}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, in {time.time() - started:.0f} s.</p>"
    )


def write_report(
    model_folder, out_folder, test=None, labels=None, min_positives=10, label_overrides=None, measurements=None
):
    """Write OUT/report.html (and a PNG and an SVG of every plot) for a MODEL folder.

    `measurements`: a measurements.csv (`ecgnet measure`) for the measurements-by-label section.

    `labels`: the training records' folder (or a mapping name -> codes), for the views of the
    out-of-fold predictions that need labels; `label_overrides`: an overrides file applied to
    them (`provenance`). `test`: a `TestSet` (or dict with `scores`, `labels`, `outputs`) for the
    same views on a test set. Returns the report's path."""
    started = time.time()
    model = D.load_model_data(model_folder, labels, label_overrides)
    test_data = D.load_test(test, model.thresholds) if test else None
    os.makedirs(out_folder, exist_ok=True)
    order = T.class_order(model, test_data)
    few_oof = model.oof.labels.sum(axis=0) < min_positives if model.oof is not None else None
    sections = [
        T.summary_section(model, test_data),
        T.class_section(model, test_data, order, min_positives),
        curves_section(model, test_data, order, few_oof, min_positives, out_folder),
        threshold_section(model, test_data, order, few_oof, out_folder),
        learning_section(model, out_folder),
        confusion_section(model, test_data, out_folder),
        T.source_section(model, test_data),
        generalisation_section(model),
    ]
    if measurements:
        sections.append(measurement_section(measurements, labels if isinstance(labels, str) else None, out_folder))
    text = H.page("ecgnet model report", _meta(model, started), T.notices(model, test_data), sections)
    path = os.path.join(out_folder, "report.html")
    atomic_write(path, text)
    return path

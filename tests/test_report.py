"""`ecgnet report`: the HTML report of a model folder (ecgnet/report/).

A model folder is made up here from random out-of-fold probabilities (no training: only its
JSON and CSV files are read), with records of every source and classes with many, few and
no positives; the tiny model trained on the committed records (conftest's `tiny_model`) checks the
real files. The page must hold every section and every class, embed its plots, name what is
missing, and render in a real browser (headless Chromium; skipped where it is absent).
"""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgnet import crossval, metrics, report, scoring
from ecgnet import labels as label_space
from ecgnet.cli.reports import report as main
from ecgnet.config import Config
from ecgnet.report import data as report_data
from ecgnet.report import generalisation, write_report
from ecgnet.report.training_labels import read_training_labels
from ecgnet.thresholds import apply_thresholds, search_thresholds, threshold_sweep
from ecgnet.transfer import threshold_transfer

from helpers import ROOT, TINY

pytestmark = pytest.mark.slow  # a report draws a dozen figures: seconds each on a busy CPU
N = label_space.NUM_CLASSES
ABBREVIATIONS = label_space.ABBREVIATIONS
SECTIONS = ("summary", "classes", "curves", "thresholds", "learning", "confusion", "sources", "generalisation")
TEST_SECTIONS = ("test-classes", "test-curves", "test-confusion", "test-sources")
PREFIXES = ("A", "Q", "S", "HR", "E", "JS", "X")
FEW, NONE = label_space.CLASS_INDEX["164890007"], label_space.CLASS_INDEX["10370003"]  # AFL, PR


def random_set(rng, count, start=1):
    """(names, labels, probabilities): labels from a class prior, probabilities that know them."""
    names = [f"{PREFIXES[i % len(PREFIXES)]}{start + i:05d}" for i in range(count)]
    prior = rng.uniform(0.04, 0.3, N)
    labels = rng.random((count, N)) < prior
    labels[:, NONE] = False
    labels[:, FEW] = False
    labels[rng.choice(count, 3, replace=False), FEW] = True
    empty = ~labels.any(axis=1)
    labels[empty, label_space.NORMAL_INDEX] = True
    logits = rng.normal(-2.5, 1.2, (count, N)) + 3.0 * labels
    return names, labels, 1 / (1 + np.exp(-logits))


def write_model(folder, rng, count=210, folds=3):
    """A MODEL folder as training leaves it (model.json, cv_report.json, oof_probabilities.csv,
    thresholds.csv), weights left out; returns {name: codes} of its training labels."""
    os.makedirs(folder)
    names, labels, oof = random_set(rng, count)
    oof = np.round(oof, 6)
    fold_of = np.arange(count) % folds
    thresholds, rounds = search_thresholds(oof, labels)
    fixed = np.full(N, 0.5)

    def evaluation(rows):
        before = metrics.evaluate(labels[rows], apply_thresholds(oof[rows], fixed), oof[rows])
        after = metrics.evaluate(labels[rows], apply_thresholds(oof[rows], thresholds), oof[rows])
        # Metrics as training wrote them before sensitivity and specificity: the report fills them in.
        return {
            "records": int(rows.sum()),
            "before_thresholds": {m: before[m] for m in metrics.METRIC_NAMES},
            "after_thresholds": {m: after[m] for m in metrics.METRIC_NAMES},
        }

    epochs = 6

    def history(f):
        return [
            {
                "epoch": e + 1,
                "loss": 0.3 / (e + 1 + f),
                "val_challenge": 0.1 * e + 0.02 * f,
                "lr": 0.003 if e < 4 else 0.0003,
                "steps": 5,
                "samples": 140,
                "seconds": 1.0,
            }
            for e in range(epochs)
        ]

    cv_report = {
        "checkpoint_threshold": 0.5,
        "threshold_search_rounds": rounds,
        "thresholds": dict(zip(label_space.CLASSES, thresholds.tolist())),
        "overall": evaluation(np.ones(count, dtype=bool)),
        "folds": [
            {
                "fold": f + 1,
                "best_epoch": epochs,
                "best_validation_challenge": 0.1 * (epochs - 1) + 0.02 * f,
                **evaluation(fold_of == f),
                "history": history(f),
            }
            for f in range(folds)
        ],
    }
    config = {
        "folds": folds,
        "epochs": epochs,
        "width": 8,
        "batch_size": 16,
        "lr_milestones": [4],
        "threshold_step": 0.01,
        "checkpoint_threshold": 0.5,
    }
    manifest = {
        "format": "ecgnet-model",
        "format_version": 1,
        "created": "2026-01-01T00:00:00+0000",
        "classes": list(label_space.CLASSES),
        "abbreviations": list(ABBREVIATIONS),
        "config": config,
        "thresholds": thresholds.tolist(),
        "weights": [],
        "training": {"records": count},
    }
    with open(os.path.join(folder, "model.json"), "w") as f:
        json.dump(manifest, f)
    with open(os.path.join(folder, "cv_report.json"), "w") as f:
        json.dump(cv_report, f)
    with open(os.path.join(folder, "oof_probabilities.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["record", "fold", *label_space.CLASSES])
        for name, fold, row in zip(names, fold_of, oof):
            writer.writerow([name, fold + 1, *(f"{p:.6f}" for p in row)])
    return {name: [c for c, on in zip(label_space.CLASSES, row) if on] for name, row in zip(names, labels)}


def write_test_set(folder, rng, thresholds, count=90, start=5001):
    """LABELS and OUTPUTS folders of a test set, and its evaluate_model.py --json file."""
    names, labels, probabilities = random_set(rng, count, start=start)
    binary = apply_thresholds(probabilities, thresholds)
    labels_dir, outputs_dir = folder / "test", folder / "outputs"
    labels_dir.mkdir()
    outputs_dir.mkdir()
    for name, y, b, p in zip(names, labels, binary, probabilities):
        codes = [c for c, on in zip(label_space.CLASSES, y) if on]
        (labels_dir / f"{name}.hea").write_text(f"{name} 12 500 5000\n#Dx: {','.join(codes)}\n")
        (outputs_dir / f"{name}.csv").write_text(
            f"#{name}\n{','.join(label_space.CLASSES)}\n{','.join(str(int(x)) for x in b)}\n"
            + ",".join(f"{x:.6f}" for x in p)
            + "\n"
        )
    scores = folder / "scores.json"
    scoring.write_json(scoring.evaluate_folders(str(labels_dir), str(outputs_dir)), scores)
    return report.TestSet(str(scores), str(labels_dir), str(outputs_dir))


@pytest.fixture(scope="module")
def made_up(tmp_path_factory):
    """(model folder, training labels, test set) made up from random numbers."""
    root = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(7)
    labels = write_model(str(root / "model"), rng)
    thresholds = np.array(json.loads((root / "model" / "model.json").read_text())["thresholds"])
    return str(root / "model"), labels, write_test_set(root, rng, thresholds)


@pytest.fixture(scope="module")
def full_report(made_up, tmp_path_factory):
    model, labels, test = made_up
    out = tmp_path_factory.mktemp("out")
    path = write_report(model, str(out), test=test, labels=labels)
    return path, open(path, encoding="utf-8").read()


def section(text, sid):
    """The HTML of section `sid` (up to the next section)."""
    start = text.index(f'<section id="{sid}">')
    end = text.find("<section id=", start + 1)
    return text[start : end if end > 0 else len(text)]


def table_classes(html):
    return re.findall(r'<td class="left"><b>([^<]+)</b>', html)


def test_every_section_and_every_class(full_report):
    path, text = full_report
    assert os.path.basename(path) == "report.html"
    for sid in SECTIONS + TEST_SECTIONS:
        assert f'id="{sid}"' in text, sid
        assert f'href="#{sid}"' in text or sid.startswith("test-"), sid
    classes = section(text, "classes")
    oof_table, test_table = classes.split('id="test-classes"')
    # Both per-class tables hold the 24 classes once, in the same order: by weight in the metric.
    assert sorted(table_classes(oof_table)) == sorted(ABBREVIATIONS)
    assert table_classes(oof_table) == table_classes(test_table)
    assert table_classes(oof_table)[-1] == ABBREVIATIONS[NONE]  # no positives: no weight
    assert "Needs" not in text  # nothing left out
    # Few positives are marked (AFL: 3, PR: 0).
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr[^>]*>.*?<b>([^<]+)</b>.*?</tr>", oof_table)}
    assert 'class="few"' in rows["AFL"] and ">few<" in rows["AFL"] and ">few<" in rows["PR"]
    assert ">few<" not in rows["NSR"]
    # Summary: 3 folds, pooled, test; sensitivity and specificity filled in where cv_report lacks them.
    summary = section(text, "summary")
    assert summary.count('<tr class="fold">') == 3 and 'class="pooled"' in summary and 'class="test"' in summary
    assert "Sensitivity" in summary and "Specificity" in summary
    pooled = re.search(r'<tr class="pooled">(.*?)</tr>', summary).group(1)
    assert "&mdash;" not in pooled
    # Per source: every prefix, out-of-fold and test.
    sources = section(text, "sources")
    for key in ("A", "Q", "S", "HR", "E", "JS", "other"):
        assert sources.count(f'<td class="left">{key}</td>') == 2, key


def test_plots_are_embedded_and_written_beside_it(full_report):
    path, text = full_report
    folder = os.path.dirname(path)
    stems = (
        "oof_roc",
        "oof_pr",
        "test_roc",
        "test_pr",
        "threshold_search",
        "learning_curves",
        "oof_confusion",
        "test_confusion",
    )
    for stem in stems:
        for ext in ("png", "svg"):
            file = os.path.join(folder, f"{stem}.{ext}")
            assert os.path.getsize(file) > 5000, file
            assert f'href="{stem}.{ext}"' in text
        assert open(os.path.join(folder, f"{stem}.png"), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert text.count('<img src="data:image/png;base64,') == len(stems)
    # Self-contained: no script, nothing fetched from elsewhere.
    assert "<script" not in text.lower()
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert not re.search(r"<link[^>]+stylesheet", text)
    # Classes without positives get no curve panel, and the caption says so.
    assert f"no curve): {ABBREVIATIONS[NONE]}" in section(text, "curves")


def test_confusion_section_explains_itself(full_report):
    _, text = full_report
    confusion = section(text, "confusion")
    assert "How to read it" in confusion and "forgiven" in confusion and "costly" in confusion
    assert "Costliest wrong predictions" in confusion and "Most forgiven wrong predictions" in confusion


def test_numbers_behind_the_views(made_up):
    model, labels, _ = made_up
    data = report_data.load_model_data(model, labels)
    oof = data.oof
    # The sweep, at the chosen thresholds, is the metric of the chosen outputs.
    grid, sweep = threshold_sweep(data.probabilities, oof.labels, data.thresholds)
    chosen = metrics.challenge_metric(oof.labels, apply_thresholds(data.probabilities, data.thresholds))
    for k in range(N):
        at = int(np.argmin(np.abs(grid - data.thresholds[k])))
        assert sweep[k, at] == pytest.approx(chosen, abs=1e-9)
        assert sweep[k].max() <= chosen + 1e-9  # the search stopped at a maximum of each
    # The curves integrate to the scorer's areas.
    auroc, auprc = metrics.class_auc(oof.labels, data.probabilities)
    for k, curve in enumerate(oof.curves()):
        if curve is None:
            assert not oof.labels[:, k].any()
            continue
        area = np.sum(0.5 * np.diff(curve["tpr"]) * ((1 - curve["fpr"][1:]) + (1 - curve["fpr"][:-1])))
        assert area == pytest.approx(auroc[k]) and np.sum(
            np.diff(curve["recall"]) * curve["precision"][1:]
        ) == pytest.approx(auprc[k])
    # The confusion view is the metric's matrix; its wrong part leaves out pairs of true labels.
    views = report_data.confusion_views(oof.labels, oof.binary)
    W = np.nan_to_num(label_space.WEIGHTS)
    assert np.sum(W * views["A"]) == pytest.approx(metrics.challenge_score(oof.labels, oof.binary, W))
    assert (views["wrong"] <= views["A"] + 1e-12).all() and np.trace(views["wrong"]) == 0
    # Each class's weight share sums to 1; sensitivity and specificity as metrics computes them.
    assert oof.weight_share().sum() == pytest.approx(1)
    sens, spec, macro_sens, macro_spec = metrics.sensitivity_specificity(oof.labels, oof.binary)
    assert oof.result["Sensitivity"] == macro_sens and oof.result["Specificity"] == macro_spec


def test_without_labels_the_report_says_what_is_missing(made_up, tmp_path):
    model, _, test = made_up
    path = write_report(model, str(tmp_path), test=report.TestSet(scores=test.scores))
    text = open(path, encoding="utf-8").read()
    for sid in SECTIONS:
        assert f'id="{sid}"' in text
    assert "--labels DATA" in text and "--test-labels TEST_DATA --outputs OUTPUTS" in text
    assert sorted(table_classes(section(text, "classes"))) == sorted(ABBREVIATIONS)  # from the test scores
    assert os.path.exists(tmp_path / "learning_curves.png") and not os.path.exists(tmp_path / "oof_roc.png")


def test_labels_that_do_not_match_the_report_are_flagged(made_up, tmp_path):
    model, labels, _ = made_up
    values = list(labels.values())
    np.random.default_rng(1).shuffle(values)
    shuffled = dict(zip(labels, values))
    text = open(write_report(model, str(tmp_path), labels=shuffled), encoding="utf-8").read()
    assert 'class="note error"' in text and "are they the labels the model was trained on?" in text
    text = open(write_report(model, str(tmp_path / "right"), labels=labels), encoding="utf-8").read()
    assert 'class="note error"' not in text


def test_the_report_says_which_labels_it_scores_and_flags_test_records_seen_in_training(made_up, tmp_path):
    model, labels, test = made_up
    text = open(write_report(model, str(tmp_path / "a"), test=test, labels=labels), encoding="utf-8").read()
    assert "<b>Labels scored:</b> labels given by the caller, as given (no label overrides applied)" in text
    assert "The model was trained without label overrides." in text and "also training records" not in text
    thresholds = np.array(json.loads((Path(model) / "model.json").read_text())["thresholds"])
    (tmp_path / "seen").mkdir()
    overlapping = write_test_set(tmp_path / "seen", np.random.default_rng(3), thresholds, count=40, start=176)
    text = open(write_report(model, str(tmp_path / "b"), test=overlapping), encoding="utf-8").read()
    assert "35 of the 40 test records are also training records of this model (first: " in text
    assert 'class="note error"' in text
    text = open(
        write_report(model, str(tmp_path / "c"), test=report.TestSet(scores=test.scores)), encoding="utf-8"
    ).read()
    assert "cannot check that none of them was a training record" in text
    # scored on other labels through an overrides file: set, dropped and counted
    names = list(labels)
    overrides = tmp_path / "o.csv"
    overrides.write_text(f"record,class,label\n{names[0]},164889003,1\n{names[1]},*,drop\nZZZ1,164889003,0\n")
    text = open(
        write_report(model, str(tmp_path / "d"), labels=labels, label_overrides=str(overrides)), encoding="utf-8"
    ).read()
    assert (
        f"<code>{overrides}</code> (SHA-256" in text
        and "among the out-of-fold records: 1 labels set, 0 cells masked, 0 down-weighted, 1 records dropped" in text
    )
    assert "1 out-of-fold records left out: dropped by the overrides applied" in text
    assert "(209 records pooled)" in text


def test_command_line(made_up, tmp_path, capsys):
    model, labels, test = made_up
    assert main([model, str(tmp_path / "a"), "--scores", test.scores]) == 0
    assert (tmp_path / "a" / "report.html").is_file()
    assert "report.html" in capsys.readouterr().out
    # A labels folder that is not the training data: one line naming the problem, status 1.
    assert main([model, str(tmp_path / "b"), "--labels", str(tmp_path)]) == 1
    assert "out-of-fold records have no header" in capsys.readouterr().err
    assert main([str(tmp_path / "missing"), str(tmp_path / "c")]) == 1
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([model, str(tmp_path / "d"), "--test-labels", test.labels])
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "ecgnet report" in capsys.readouterr().out


def test_generalisation_section_of_an_older_report_says_what_it_lacks(made_up):
    model, _, _ = made_up
    sid, _, html = generalisation.generalisation_section(report_data.load_model_data(model))
    assert sid == "generalisation" and "split=stratified" in html and "selection=validation" in html
    assert "written before the per-source" in html and "<table>" not in html


def test_generalisation_section_shows_sources_selection_and_transfer(made_up):
    model, labels, _ = made_up
    data = report_data.load_model_data(model)
    y = read_training_labels(labels, data.names)
    config = Config(split="source", selection="inner", threshold_method="global")
    cv = data.cv_report
    cv.update(split="source", threshold_method="global")
    cv["sources"] = crossval.source_results(data.names, y, data.probabilities, data.thresholds, config)
    cv["threshold_transfer"] = threshold_transfer(data.names, data.probabilities, y, methods=("per_class", "global"))
    cv["selection"] = {
        "method": "inner",
        "inner_fraction": 0.2,
        "chosen": {"epochs": [5, 6, 4], "before_thresholds": 0.31, "after_thresholds": 0.41},
        "held_out_choice": {"epochs": [6, 6, 6], "before_thresholds": 0.35, "after_thresholds": 0.47},
    }
    for fold in cv["folds"]:
        fold.update(inner_records=40, inner_challenge=0.3, held_out_best_epoch=6, held_out_best_challenge=0.52)
    _, _, html = generalisation.generalisation_section(data)
    assert "split=source" in html and "never saw it" in html and "saw other records" not in html
    for key in ("A", "Q", "S", "HR", "E", "JS", "X"):
        assert f'<td class="left">{key}</td>' in html, key
    assert "0.410" in html and "0.470" in html and "5, 6, 4" in html and "6, 6, 6" in html
    assert html.count('<td class="left">fold ') == 3
    assert "<b>global</b> (this model's)" in html and '<td class="left">per_class</td>' in html
    # The learning curves draw the inner split dashed, and an epoch that was not validated not at all.
    from ecgnet.report import plots  # matplotlib

    history = [
        {"epoch": 1, "loss": 0.3, "val_challenge": None, "inner_challenge": 0.1},
        {"epoch": 2, "loss": 0.2, "val_challenge": 0.4, "inner_challenge": 0.2},
    ]
    figure = plots.learning_curves([{"fold": 1, "best_epoch": 2, "history": history}])
    styles = [line.get_linestyle() for line in figure.axes[1].get_lines()]
    assert "--" in styles
    plots.plt.close(figure)


def test_driver_side_never_imports_matplotlib():
    code = (
        "import sys, ecgnet.report, ecgnet.scoring, ecgnet.metrics, ecgnet.inference, ecgnet.runner\n"
        "import ecgnet.cli.reports\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_report_of_a_trained_model(tiny_model, tmp_path):
    """The real MODEL files of a model trained on the committed records of five sources."""
    model, data = tiny_model
    path = write_report(model, str(tmp_path), labels=data)
    text = open(path, encoding="utf-8").read()
    for sid in SECTIONS:
        assert f'id="{sid}"' in text
    assert "Needs the training labels" not in text
    assert sorted(table_classes(section(text, "classes"))) == sorted(ABBREVIATIONS)
    for key in ("A", "E", "HR", "JS", "Q"):
        assert f'<td class="left">{key}</td>' in section(text, "sources"), key
        assert f'<td class="left">{key}</td>' in section(text, "generalisation"), key
    assert f"<b>{TINY.threshold_method}</b> (this model's)" in section(text, "generalisation")
    for stem in ("oof_roc", "oof_pr", "threshold_search", "learning_curves", "oof_confusion"):
        assert (tmp_path / f"{stem}.png").is_file() and (tmp_path / f"{stem}.svg").is_file()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install chromium)")
def test_renders_in_a_browser(full_report, tmp_path):
    """A headless Chromium screenshot of the page is not blank: text, tables and plots drawn."""
    import matplotlib.image

    path, _ = full_report
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1400,4000",
            f"file://{os.path.abspath(path)}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.is_file(), result.stderr[-2000:]
    pixels = matplotlib.image.imread(str(shot))[..., :3]
    assert pixels.shape[:2] == (4000, 1400)
    ink = (pixels < 0.9).any(axis=2)
    assert ink.mean() > 0.05, f"only {ink.mean():.1%} of the screenshot is not white"
    assert pixels.std() > 0.1
    rows_with_ink = np.flatnonzero(ink.any(axis=1))
    assert rows_with_ink.max() > 3500  # drawn all the way down, not just a header
    # Colour: the plots' blue and the shaded table cells are there, not only black text.
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    assert ((blue - red > 0.15) & (blue - green > 0.05)).mean() > 0.002


def test_area_labels_sit_where_no_curve_runs():
    """A rare class's precision-recall curve ends at its prevalence in the bottom right corner,
    where the area used to be written: the label moves to a corner no curve crosses."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ecgnet.report import plots

    rng = np.random.default_rng(5)
    labels = rng.random((400, N)) < 0.05
    scores = np.clip(labels * 0.35 + rng.random((400, N)) * 0.7, 0, 1)
    labels[:, :6] = False  # six classes of 3 positives ranked 20th, 40th and 60th: flat curves at 0.05
    for k in range(6):
        scores[:, k] = np.linspace(1, 0, 400)
        labels[[19, 39, 59], k] = True
    curves = [report_data.class_curves(labels[:, k], scores[:, k]) for k in range(N)]
    points = [report_data.operating_point(labels[:, k], scores[:, k] > 0.5) for k in range(N)]
    positives = labels.sum(axis=0)
    for kind in ("pr", "roc"):
        figure = plots.curve_grid(
            kind, [("oof", plots.OOF_COLOR, curves, points, None)], range(N), positives, positives < 3
        )
        renderer = FigureCanvasAgg(figure).get_renderer()
        for ax in figure.axes:
            if not ax.get_visible() or not ax.lines:
                continue
            # the line as drawn (steps included), sampled along every segment
            vertices = ax.transData.transform(ax.lines[0].get_path().vertices)
            t = np.linspace(0, 1, 100)[:, None, None]
            path = (vertices[:-1] + t * np.diff(vertices, axis=0)).reshape(-1, 2)
            for text in ax.texts:
                box = text.get_window_extent(renderer)
                inside = (
                    (path[:, 0] >= box.x0) & (path[:, 0] <= box.x1) & (path[:, 1] >= box.y0) & (path[:, 1] <= box.y1)
                )
                assert not inside.any(), (kind, ax.get_title(), text.get_text())
        plots.plt.close(figure)


def test_learning_curves_of_last_epoch_selection_and_a_narrow_loss_range():
    """Folds validated at their last epoch only: a labelled dot per fold, not three dots on an
    axis of their own; loss ticks in plain decimals, never 3.4x10^-1."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ecgnet.report import plots

    folds = [
        {
            "fold": f + 1,
            "best_epoch": 12,
            "history": [
                {
                    "epoch": e,
                    "loss": 0.40 - 0.008 * e - 0.01 * f,
                    "val_challenge": (0.3 + 0.05 * f) if e == 12 else None,
                }
                for e in range(1, 13)
            ],
        }
        for f in range(3)
    ]
    figure = plots.learning_curves(folds, milestones=(8,))
    FigureCanvasAgg(figure).draw()
    loss_ax, metric_ax = figure.axes
    assert [t.get_text() for t in metric_ax.get_yticklabels()] == ["fold 1", "fold 2", "fold 3"]
    assert "kept epoch" in metric_ax.get_xlabel()
    assert sorted(t.get_text() for t in metric_ax.texts) == ["0.300 (epoch 12)", "0.350 (epoch 12)", "0.400 (epoch 12)"]
    labels = [t.get_text() for t in loss_ax.get_yticklabels(which="both") if t.get_text()]
    assert labels and all(re.fullmatch(r"\d+(\.\d+)?", text) for text in labels), labels
    plots.plt.close(figure)
    # with validation at every epoch the metric panel keeps its curves on the epoch axis
    for fold in folds:
        for h in fold["history"]:
            h["val_challenge"] = 0.01 * h["epoch"]
    figure = plots.learning_curves(folds)
    assert figure.axes[1].get_xlabel() == "epoch" and len(figure.axes[1].lines) >= 3
    plots.plt.close(figure)

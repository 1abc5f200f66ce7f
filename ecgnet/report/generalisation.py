"""The report's generalisation section: how the cross-validation was split, how each fold's
epoch was chosen, each source's scores, and how each threshold method transfers to a source it
was not fitted on. All of it comes from cv_report.json (no labels needed); reports written
before these keys existed get a note instead of the tables."""

from .. import scoring
from . import html as H

SPLITS = {
    "stratified": (
        "stratified within each source (the paper's): every source is in every fold, so each out-of-fold "
        "prediction comes from a model that trained on other records of the same source (seen sources)"
    ),
    "source": (
        "one fold per source (leave-one-source-out): each source is predicted by the model that never saw it, "
        "as an undisclosed hospital would be (unseen sources)"
    ),
}
SELECTIONS = {
    "validation": (
        "the epoch best on the held-out fold (the paper's), the records the out-of-fold score is computed on, so "
        "that score is optimistic"
    ),
    "inner": (
        "the epoch best on an inner split of each fold's training records; the held-out fold chose nothing, so "
        "the out-of-fold score is honest"
    ),
    "last": "the last epoch; the held-out fold was validated only then and chose nothing",
}
OLD_REPORT = (
    "This cv_report.json was written before the per-source, selection and threshold-transfer results were "
    "recorded; retrain with this ecgnet to see them. Its run used the paper's scheme: folds stratified within "
    "each source, each fold's epoch chosen on its held-out records, per-class thresholds."
)


def _scheme(cv_report):
    split = cv_report.get("split", "stratified")
    selection = (cv_report.get("selection") or {}).get("method", "validation")
    method = cv_report.get("threshold_method", "per_class")
    return (
        f"<p><b>Folds</b> (<code>split={H.esc(split)}</code>): {SPLITS.get(split, H.esc(split))}. "
        f"<b>Epoch choice</b> (<code>selection={H.esc(selection)}</code>): {SELECTIONS.get(selection, '')}. "
        f"<b>Thresholds</b>: <code>threshold_method={H.esc(method)}</code>, fitted on all out-of-fold "
        "predictions.</p>"
    )


def source_table(sources):
    """Per source of cv_report.json: records, seen or unseen, metrics before and after thresholds."""
    head = (
        '<tr><th class="left" rowspan="2">source</th><th class="left" rowspan="2">name</th>'
        '<th rowspan="2">records</th><th rowspan="2">its fold model</th>'
        '<th class="group" colspan="2">challenge metric</th><th rowspan="2">AUROC</th>'
        '<th class="group" colspan="2">after thresholds</th></tr>'
        "<tr><th>p &ge; uniform</th><th>fitted</th><th>sensitivity</th><th>specificity</th></tr>"
    )
    body = []
    for key, entry in sources.items():
        before, after = entry.get("before_thresholds") or {}, entry.get("after_thresholds") or {}
        name = entry.get("name") or scoring.SOURCES.get(key, "other source")
        body.append(
            f'<tr><td class="left">{H.esc(key)}</td><td class="left">{H.esc(name)}</td>'
            f"<td>{H.esc(entry.get('records'))}</td>"
            f"<td>{'never saw it' if entry.get('unseen') else 'saw other records of it'}</td>"
            + H.fmt(before.get("Challenge metric"))
            + H.fmt(after.get("Challenge metric"))
            + H.fmt(after.get("AUROC"))
            + H.fmt(after.get("Sensitivity"))
            + H.fmt(after.get("Specificity"))
            + "</tr>"
        )
    return "<table>" + head + "".join(body) + "</table>"


def selection_tables(cv_report):
    """With selection=inner: the out-of-fold metric of both epoch choices, and per fold."""
    selection = cv_report.get("selection") or {}
    held_out = selection.get("held_out_choice")
    if held_out is None:
        return ""
    chosen = selection.get("chosen") or {}
    rows = (
        ("on the inner split (what the model keeps)", chosen),
        ("on the held-out fold (the paper's choice, optimistic)", held_out),
    )
    overall = (
        '<table><tr><th class="left">epochs chosen</th><th>epochs per fold</th><th>challenge metric, p &ge; '
        "uniform</th><th>fitted thresholds</th></tr>"
        + "".join(
            f'<tr><td class="left">{what}</td><td>{H.esc(", ".join(map(str, entry.get("epochs", []))))}</td>'
            + H.fmt(entry.get("before_thresholds"))
            + H.fmt(entry.get("after_thresholds"))
            + "</tr>"
            for what, entry in rows
        )
        + "</table>"
    )
    head = (
        '<tr><th class="left">fold</th><th>inner records</th><th>chosen epoch</th><th>its inner metric</th>'
        "<th>its held-out metric</th><th>held-out best epoch</th><th>held-out best metric</th></tr>"
    )
    body = "".join(
        f'<tr><td class="left">fold {H.esc(fold.get("fold"))}</td><td>{H.esc(fold.get("inner_records", ""))}</td>'
        f"<td>{H.esc(fold.get('best_epoch'))}</td>"
        + H.fmt(fold.get("inner_challenge"))
        + H.fmt(fold.get("best_validation_challenge"))
        + f"<td>{H.esc(fold.get('held_out_best_epoch', ''))}</td>"
        + H.fmt(fold.get("held_out_best_challenge"))
        + "</tr>"
        for fold in cv_report.get("folds", [])
    )
    return (
        "<h3>Epoch choice: inner split against held-out fold</h3>"
        + overall
        + "<table>"
        + head
        + body
        + "</table>"
        + "<p>Per-epoch metrics with labels p &ge; the uniform threshold (or the most probable class). The second "
        "row is what the out-of-fold score would have been had each fold kept the epoch best on the records it "
        "is scored on, as the paper did; its thresholds are fitted on those predictions the same way.</p>"
    )


def transfer_table(transfer, configured):
    """Leave-one-source-out threshold transfer: a row per method, a column per source."""
    sources = list(transfer.get("sources", {}))
    head = (
        '<tr><th class="left">threshold method</th>'
        + "".join(f"<th>{H.esc(key)}<br>({H.esc(transfer['sources'][key])})</th>" for key in sources)
        + "<th>mean</th><th>worst</th><th>pooled</th></tr>"
    )
    body = []
    for method, entry in transfer.get("methods", {}).items():
        label = f"<b>{H.esc(method)}</b> (this model's)" if method == configured else H.esc(method)
        body.append(
            f'<tr><td class="left">{label}</td>'
            + "".join(H.fmt(entry["sources"].get(key)) for key in sources)
            + H.fmt(entry.get("mean"))
            + H.fmt(entry.get("worst"))
            + H.fmt(entry.get("pooled"))
            + "</tr>"
        )
    return "<table>" + head + "".join(body) + "</table>"


def generalisation_section(model):
    """The section: scheme, per-source table, epoch choice and threshold transfer."""
    cv_report = model.cv_report
    content = _scheme(cv_report)
    if "sources" not in cv_report:
        return ("generalisation", "Generalisation to unseen sources", content + H.note(OLD_REPORT))
    content += "<h3>Per source</h3>" + source_table(cv_report["sources"])
    content += selection_tables(cv_report)
    transfer = cv_report.get("threshold_transfer")
    content += "<h3>Threshold transfer (leave-one-source-out)</h3>"
    if transfer:
        content += transfer_table(transfer, cv_report.get("threshold_method", "per_class")) + (
            "<p>Each source's challenge metric with thresholds fitted, by each method, on the other sources' "
            "out-of-fold predictions only (no retraining); <i>pooled</i> scores all records at once, each labelled by "
            "the thresholds fitted without its source. A method whose left-out scores hold up transfers to a new "
            "site; the gap to the fitted column of the per-source table is the thresholds' optimism. Under "
            "<code>split=stratified</code> the models still saw each source, so only the thresholds are tested.</p>"
        )
    else:
        content += "<p>Not computed: the records come from one source.</p>"
    return ("generalisation", "Generalisation to unseen sources", content)

"""The report page: one HTML file, styles inline, plots as data URIs, no JavaScript."""

import html
import math

from .. import labels as label_space
from .. import scoring

STYLE = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; color: #1d1d1f;
       margin: 0 auto; padding: 24px 32px 64px; max-width: 1360px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 40px 0 8px; padding-top: 12px; border-top: 2px solid #1f5fa8; }
h3 { font-size: 16px; margin: 24px 0 6px; }
p, li { max-width: 960px; }
.meta { color: #555; margin: 0 0 12px; }
.note { background: #fff7e6; border-left: 4px solid #d9730d; padding: 8px 12px; margin: 10px 0; max-width: 940px; }
.error { background: #fdecea; border-left-color: #c0392b; }
nav ol { columns: 2; max-width: 700px; margin: 8px 0; }
table { border-collapse: collapse; margin: 8px 0 4px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 9px; border-bottom: 1px solid #e3e3e3; text-align: right; white-space: nowrap; }
th { background: #f3f5f8; font-weight: 600; border-bottom: 2px solid #c8ced6; }
th.group { text-align: center; border-bottom: 1px solid #c8ced6; }
td.left, th.left { text-align: left; }
tr.pooled td { font-weight: 600; border-top: 2px solid #c8ced6; }
tr.test td { font-weight: 600; background: #fff4e8; }
tr.few td { color: #8a8a8a; }
td.na { color: #aaa; }
.badge { display: inline-block; font-size: 11px; padding: 0 5px; border-radius: 3px; background: #e5e5e5;
         color: #555; margin-left: 4px; }
figure { margin: 10px 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 13px; max-width: 1000px; }
figcaption a { color: #1f5fa8; }
code { background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
"""


def esc(text):
    return html.escape(str(text), quote=True)


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value, digits=3):
    """A number's cell; a dash where there is none (None, NaN)."""
    if not _finite(value):
        return '<td class="na">&mdash;</td>'
    return f"<td>{value:.{digits}f}</td>"


def shaded(value):
    """A metric cell in [0, 1], its background shaded by the value."""
    if not _finite(value):
        return '<td class="na">&mdash;</td>'
    alpha = max(0.0, min(1.0, value)) * 0.32
    return f'<td style="background: rgba(31, 95, 168, {alpha:.2f})">{value:.3f}</td>'


def note(text, error=False):
    return f'<p class="note{" error" if error else ""}">{text}</p>'


def figure(uri, files, caption, alt):
    links = " ".join(f'<a href="{esc(f)}">{esc(f.rsplit(".", 1)[1].upper())}</a>' for f in files)
    return f'<figure><img src="{uri}" alt="{esc(alt)}"><figcaption>{caption} Files: {links}.</figcaption></figure>'


SUMMARY_METRICS = (
    ("Challenge metric", "Challenge metric"),
    ("F-measure", "F-measure"),
    ("Sensitivity", "Sensitivity"),
    ("Specificity", "Specificity"),
)


def summary_table(rows):
    """rows: dicts with label, kind (fold/pooled/test), records, extra, before, after (metric dicts)."""
    head = [
        '<tr><th class="left" rowspan="2">set</th><th rowspan="2">records</th>'
        '<th rowspan="2">chosen epoch<br>(val. metric)</th>'
    ]
    head += [f'<th class="group" colspan="2">{esc(title)}</th>' for title, _ in SUMMARY_METRICS]
    head.append('<th rowspan="2">AUROC</th><th rowspan="2">AUPRC</th></tr><tr>')
    head += ["<th>p &ge; 0.5</th><th>searched</th>" for _ in SUMMARY_METRICS]
    head.append("</tr>")
    body = []
    for row in rows:
        cells = [
            f'<td class="left">{esc(row["label"])}</td><td>{esc(row["records"])}</td>',
            f"<td>{esc(row.get('extra') or '')}</td>",
        ]
        for _, name in SUMMARY_METRICS:
            cells.append(fmt((row["before"] or {}).get(name)))
            cells.append(fmt((row["after"] or {}).get(name)))
        ranking = row["after"] or row["before"] or {}
        cells.append(fmt(ranking.get("AUROC")))
        cells.append(fmt(ranking.get("AUPRC")))
        body.append(f'<tr class="{esc(row["kind"])}">' + "".join(cells) + "</tr>")
    return "<table>" + "".join(head) + "".join(body) + "</table>"


def class_table(rows, order, min_positives, names=None):
    """Per-class rows in `order`; rows with fewer than `min_positives` positives are greyed and
    marked 'few', their cells unshaded. `names`: diagnosis names by class index."""
    head = (
        '<tr><th>rank</th><th class="left">class</th><th class="left">diagnosis</th><th class="left">SNOMED CT</th>'
        "<th>weight in<br>the metric</th><th>positives</th><th>AUROC</th><th>AUPRC</th><th>F1</th>"
        "<th>sensitivity</th><th>specificity</th><th>threshold</th></tr>"
    )
    body = []
    for rank, k in enumerate(order, 1):
        row = rows[k]
        few = row["positives"] < min_positives
        badge = f'<span class="badge" title="fewer than {min_positives} positives">few</span>' if few else ""
        weight = "" if row["weight"] is None else f"{100 * row['weight']:.1f}%"
        name = names[k] if names else ""
        cell = (lambda v: fmt(v)) if few else shaded
        body.append(
            f'<tr class="{"few" if few else ""}"><td>{rank}</td>'
            f'<td class="left"><b>{esc(row["abbreviation"])}</b>{badge}</td><td class="left">{esc(name)}</td>'
            f'<td class="left">{esc(row["class"])}</td><td>{weight}</td><td>{row["positives"]}</td>'
            + "".join(cell(row[key]) for key in ("AUROC", "AUPRC", "F-measure", "sensitivity", "specificity"))
            + fmt(row["threshold"], 2)
            + "</tr>"
        )
    return "<table>" + head + "".join(body) + "</table>"


def source_table(sources):
    """sources: {key: metrics dict (metrics.evaluate result or --json dict)}."""
    head = (
        '<tr><th class="left">source</th><th class="left">name</th><th>records</th><th>challenge metric</th>'
        "<th>AUROC</th><th>AUPRC</th><th>F-measure</th><th>sensitivity</th><th>specificity</th></tr>"
    )
    body = []
    for key, result in sources.items():
        name = result.get("name") or scoring.SOURCES.get(key, "other sources")
        body.append(
            f'<tr><td class="left">{esc(key)}</td><td class="left">{esc(name)}</td><td>{esc(result["records"])}</td>'
            + "".join(
                fmt(result.get(m))
                for m in ("Challenge metric", "AUROC", "AUPRC", "F-measure", "Sensitivity", "Specificity")
            )
            + "</tr>"
        )
    return "<table>" + head + "".join(body) + "</table>"


def confusion_table(cells, lost):
    """(true, predicted, mass, weight) rows with the credit lost ((1 - W) x mass) or kept."""
    abbreviations = label_space.ABBREVIATIONS
    what = "credit lost: (1 &minus; W) &times; mass" if lost else "credit kept: W &times; mass"
    head = (
        f'<tr><th class="left">true class</th><th class="left">predicted</th><th>mass in A</th><th>weight W</th>'
        f"<th>{what}</th></tr>"
    )
    body = []
    for j, k, mass, weight in cells:
        share = (1 - weight) * mass if lost else weight * mass
        body.append(
            f'<tr><td class="left">{esc(abbreviations[j])}</td><td class="left">{esc(abbreviations[k])}</td>'
            f"<td>{mass:.2f}</td><td>{weight:.2f}</td><td>{share:.2f}</td></tr>"
        )
    if not body:
        return "<p>None.</p>"
    return "<table>" + head + "".join(body) + "</table>"


def page(title, meta, notices, sections):
    """sections: list of (id, heading, html)."""
    toc = "".join(f'<li><a href="#{sid}">{esc(heading)}</a></li>' for sid, heading, _ in sections)
    parts = [f'<section id="{sid}"><h2>{esc(heading)}</h2>{content}</section>' for sid, heading, content in sections]
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>{meta}{''.join(notices)}<nav><ol>{toc}</ol></nav>{''.join(parts)}"
        "</body></html>\n"
    )

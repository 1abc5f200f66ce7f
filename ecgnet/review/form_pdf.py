"""The printable answer form (answer_form.pdf): a page of instructions and class names, then
tables of review IDs with a box per asked class and per extra field."""

from .. import labels as label_space


def class_names():
    """{code: name} of every scored code, from the official mapping (the class's own name for
    merged pairs)."""
    return dict(label_space.SCORED_NAMES)


def write_form_pdf(path, ids, classes, paper):
    """The printable answer form: a page of instructions and class names, then a table."""
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(
        path, metadata={"Title": "ECG review answer form", "Creator": None, "Producer": None, "CreationDate": None}
    ) as pdf:
        pdf.savefig(form_instructions(classes, paper))
        per_page = 18
        for start in range(0, len(ids), per_page):
            pdf.savefig(form_table(ids[start : start + per_page], classes, paper))


def _page(paper):
    from matplotlib.figure import Figure

    from .sheet import MM_PER_INCH, PAPERS, mm_transform

    width, height = PAPERS[paper]
    fig = Figure(figsize=(width / MM_PER_INCH, height / MM_PER_INCH))
    return fig, mm_transform(fig), width, height


def form_instructions(classes, paper):
    fig, mm, width, height = _page(paper)
    names = class_names()
    lines = [
        ("ECG review answer form: instructions", 15, "bold"),
        ("", 10, "normal"),
        ("Reviewer: ______________________    Date: ______________", 11, "normal"),
        ("", 10, "normal"),
        ("For every review ID (one page of the packet each) and every column, write:", 11, "normal"),
        ("    1 = present     0 = absent     ? = uncertain", 11, "bold"),
        ("quality: good / acceptable / uninterpretable", 10, "normal"),
        ("axis_degrees: the frontal QRS axis in degrees, e.g. -45 (optional)", 10, "normal"),
        ("confidence: 1 (a guess) to 5 (certain), for the row as a whole;  comment: free text", 10, "normal"),
        ("Answer every column on every row: no column is more expected than another.", 10, "normal"),
        ("", 10, "normal"),
        ("Columns:", 11, "bold"),
    ]
    lines += [
        (f"    {label_space.ABBREVIATIONS[label_space.CLASS_INDEX[c]]}: {names.get(c, c)}", 10, "normal")
        for c in classes
    ]
    y = height - 20
    for text, size, weight in lines:
        fig.text(20, y, text, transform=mm, fontsize=size, fontweight=weight, va="top")
        y -= 6.5 if len(lines) < 30 else 4.5
    return fig


def form_table(ids, classes, paper):
    """Rows of review IDs, a box per class and per extra field; the comment takes the rest."""
    fig, mm, width, height = _page(paper)
    abbreviations = [label_space.ABBREVIATIONS[label_space.CLASS_INDEX[c]] for c in classes]
    left, right, top, row_h = 12.0, width - 12.0, height - 18.0, 8.5
    fixed = (
        [("Review ID", 18.0)]
        + [(a, 0.0) for a in abbreviations]
        + [("quality\n(G/A/U)", 18.0), ("axis\n(deg)", 14.0), ("confidence\n(1-5)", 18.0)]
    )
    free = right - left - sum(w for _, w in fixed) - 50.0
    class_w = max(7.0, min(16.0, free / max(1, len(classes))))
    columns = [(name, w or class_w) for name, w in fixed]
    columns.append(("comment", right - left - sum(w for _, w in columns)))
    fig.text(left, height - 10, "Answers: 1 present, 0 absent, ? uncertain", transform=mm, fontsize=10)
    head = top - 1.5 * row_h  # the column names' row is 1.5 rows tall
    bottom = head - row_h * len(ids)
    x = left
    for name, w in columns:
        rotate = len(name) > w / 1.6 and "\n" not in name  # a long name in a narrow column
        fig.text(
            x + w / 2,
            (top + head) / 2,
            name,
            transform=mm,
            fontsize=7,
            ha="center",
            va="center",
            rotation=90 if rotate else 0,
        )
        fig.add_artist(_line(mm, [x, x], [top, bottom]))
        x += w
    fig.add_artist(_line(mm, [x, x], [top, bottom]))
    for y in [top] + [head - row_h * i for i in range(len(ids) + 1)]:
        fig.add_artist(_line(mm, [left, right], [y, y]))
    for i, review_id in enumerate(ids):
        fig.text(left + 2, head - row_h * (i + 0.5), review_id, transform=mm, fontsize=9, va="center")
    return fig


def _line(transform, xs, ys):
    from matplotlib.lines import Line2D

    return Line2D(xs, ys, transform=transform, color="black", linewidth=0.5)

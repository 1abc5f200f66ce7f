"""The printable answer form (answer_form.pdf): the reviewers' instruction pages (criteria
included), then tables of review IDs with a box per asked class and per extra field; every
page names the kit and its page number."""

from .. import labels as label_space
from .instructions import footer, page_figure, stamp

ROWS_PER_PAGE = 18


def class_names():
    """{code: name} of every scored code, from the official mapping (the class's own name for
    merged pairs)."""
    return dict(label_space.SCORED_NAMES)


def write_form_pdf(path, ids: list[str], classes: list[str], paper: str, identity: str, front: list) -> None:
    """The printable answer form: the `front` pages (instruction figures), then the tables."""
    from matplotlib.backends.backend_pdf import PdfPages

    tables = [
        form_table(ids[start : start + ROWS_PER_PAGE], classes, paper, identity)
        for start in range(0, len(ids), ROWS_PER_PAGE)
    ]
    pages = front + tables
    with PdfPages(
        path, metadata={"Title": "ECG review answer form", "Creator": None, "Producer": None, "CreationDate": None}
    ) as pdf:
        for number, fig in enumerate(pages, 1):
            stamp(fig, paper, footer(identity, number, len(pages)))
            pdf.savefig(fig)


def form_table(ids: list[str], classes: list[str], paper: str, identity: str):
    """Rows of review IDs, a box per class and per extra field; the comment takes the rest."""
    from .sheet import PAPERS

    fig, mm = page_figure(paper)
    width, height = PAPERS[paper]
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
    fig.text(
        left,
        height - 10,
        f"Kit {identity}.  Answers: 1 present, 0 absent, ? uncertain; criteria on the first pages.  Reviewer: "
        "____________________",
        transform=mm,
        fontsize=10,
    )
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

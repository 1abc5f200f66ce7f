"""One review item drawn as a standard 12-lead ECG sheet, exact in millimetres.

The layout is the usual 3 x 4 one: rows I/aVR/V1/V4, II/aVL/V2/V5, III/aVF/V3/V6, each column
2.5 s of the same 10 s (columns follow one another in time), then a 10 s lead II rhythm strip;
25 mm/s, 10 mm/mV, 1 mm and 5 mm grid, a 1 mV calibration pulse (10 mm x 5 mm) at the start of
every row. The page is A4 or Letter landscape; the drawing (260 x 160 mm) fits either at 100%.

Exactness comes from matplotlib's own units: the figure size is the paper size in inches, and
the grid is one axes placed in figure coordinates from millimetres whose data units are
millimetres (x from 0 to 260, y from 0 to 160). Every trace is drawn in that one axes, so a
large deflection runs over its neighbours' rows rather than being cut at its own row; it is
cut only at the outer edge of the grid, and each such cut is marked in red.

The sheet shows a neutral review ID and, optionally, age and sex: nothing that names the
record, its source, its labels or any model output. Every other line is the same on every
sheet of a kit (`blinding`), but for the kit's identity and the page number in the footer.
"""

from dataclasses import dataclass

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure  # not pyplot: no global figure state, no GUI backend
from matplotlib.transforms import Affine2D

from ..preprocess import LEADS

MM_PER_INCH = 25.4
SPEED = 25.0  # mm/s
GAIN = 10.0  # mm/mV
PANEL_SECONDS = 2.5
STRIP_SECONDS = 10.0
ROWS = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
RHYTHM_LEAD = "II"
PAPERS = {"a4": (297.0, 210.0), "letter": (279.4, 215.9)}  # landscape, mm
PAPER_NAMES = {"a4": "A4", "letter": "Letter"}

CAL_ZONE = 10.0  # mm before the traces: 2.5 mm baseline, 5 mm pulse, 2.5 mm baseline
CAL_WIDTH = 0.2 * SPEED  # the pulse lasts 0.2 s: 5 mm
CAL_HEIGHT = 1.0 * GAIN  # 1 mV: 10 mm
ROW_HEIGHT = 40.0  # baseline in the middle: +-2 mV before a trace reaches the next row
GRID_WIDTH = CAL_ZONE + STRIP_SECONDS * SPEED  # 260 mm
GRID_HEIGHT = (len(ROWS) + 1) * ROW_HEIGHT  # 160 mm
HEADER = 32.0  # mm from the top of the page to the top of the grid (A4)
PNG_DPI = 150

TRACE, MINOR, MAJOR, CLIP = "black", "#f6c4c4", "#e58a8a", "#d00000"
HIGH_PASS_HZ = 0.67  # zero-phase, as the AHA allows for a diagnostic ECG (see kit.py)


@dataclass
class SheetItem:
    """What one page shows: `signal` is (12, n) millivolts in `LEADS` order, the drawn window
    only, starting at its first sample; leads in `missing` were not recorded and stay blank.
    `demographics` and `window` are the lines of `blinding`; `footer` names the kit and page."""

    review_id: str
    signal: np.ndarray
    sample_rate: float
    missing: tuple = ()
    demographics: str = "Age and sex not shown"
    window: str = ""
    footer: str = ""
    measurements: str | None = None  # the machine-style line above the tracing (review-kit --show-measurements)


def mm_transform(fig):
    """Figure coordinates in millimetres from the bottom left of the page."""
    return Affine2D().scale(1 / MM_PER_INCH) + fig.dpi_scale_trans


def grid_origin(paper):
    """(x, y) of the grid's bottom left corner on the page, in mm: centred across, a fixed
    header above (on Letter the extra 5.9 mm of height goes below)."""
    width, height = PAPERS[paper]
    return (width - GRID_WIDTH) / 2, height - HEADER - GRID_HEIGHT


def row_baseline(row):
    """y of a row's zero line in grid mm; row 0 is the top row, row 3 the rhythm strip."""
    return GRID_HEIGHT - (row + 0.5) * ROW_HEIGHT


def draw_sheet(item, paper="a4"):
    """A `Figure` of one page. Artists that tests measure carry a gid: `trace:LEAD`
    (`trace:II-rhythm` for the strip), `calibration:ROW`, `separator`, `grid-minor`, `grid-major`."""
    width, height = PAPERS[paper]
    fig = Figure(figsize=(width / MM_PER_INCH, height / MM_PER_INCH), dpi=PNG_DPI)
    x0, y0 = grid_origin(paper)
    ax = fig.add_axes((x0 / width, y0 / height, GRID_WIDTH / width, GRID_HEIGHT / height))
    ax.set_xlim(0, GRID_WIDTH)
    ax.set_ylim(0, GRID_HEIGHT)
    ax.set_axis_off()
    _draw_grid(ax)
    clipped = []
    for row, leads in enumerate(ROWS):
        _draw_calibration(ax, row)
        for column, lead in enumerate(leads):
            start = column * PANEL_SECONDS
            clipped += _draw_lead(ax, item, lead, row, start, start + PANEL_SECONDS, f"trace:{lead}")
            if column:
                _draw_separator(ax, row, start)
    _draw_calibration(ax, len(ROWS))
    clipped += _draw_lead(ax, item, RHYTHM_LEAD, len(ROWS), 0.0, STRIP_SECONDS, f"trace:{RHYTHM_LEAD}-rhythm")
    _mark_clipping(ax, clipped)
    _write_header(fig, item, paper)
    _write_footer(fig, item, paper)
    return fig


def _draw_grid(ax):
    """1 mm lines, every fifth one darker and thicker; the grid's outline is a 5 mm line."""

    def lines(step_mm, keep):
        xs = [x for x in np.arange(0, GRID_WIDTH + 1e-9, step_mm) if keep(x)]
        ys = [y for y in np.arange(0, GRID_HEIGHT + 1e-9, step_mm) if keep(y)]
        return [[(x, 0), (x, GRID_HEIGHT)] for x in xs] + [[(0, y), (GRID_WIDTH, y)] for y in ys]

    def on_major(v):
        return abs(v / 5 - round(v / 5)) < 1e-6

    ax.add_collection(
        LineCollection(lines(1.0, lambda v: not on_major(v)), colors=MINOR, linewidths=0.3, gid="grid-minor", zorder=0)
    )
    ax.add_collection(LineCollection(lines(5.0, on_major), colors=MAJOR, linewidths=0.7, gid="grid-major", zorder=0))


def _draw_calibration(ax, row):
    """The 1 mV, 0.2 s pulse at the start of a row."""
    base, lead_in = row_baseline(row), (CAL_ZONE - CAL_WIDTH) / 2
    xs = [0, lead_in, lead_in, lead_in + CAL_WIDTH, lead_in + CAL_WIDTH, CAL_ZONE]
    ys = [base, base, base + CAL_HEIGHT, base + CAL_HEIGHT, base, base]
    ax.plot(xs, ys, color=TRACE, linewidth=0.8, gid=f"calibration:{row}", solid_joinstyle="miter")


def _draw_separator(ax, row, seconds):
    """The short vertical mark where one lead's 2.5 s ends and the next lead's begins."""
    x, base = CAL_ZONE + seconds * SPEED, row_baseline(row)
    ax.plot([x, x], [base - 3, base + 3], color=TRACE, linewidth=0.8, gid="separator")


def _draw_lead(ax, item, lead, row, start, stop, gid):
    """Draw `lead` from `start` to `stop` seconds; returns the (x, edge) of samples cut at the
    grid's edge. Samples sit at their own time (x = 10 mm + t x 25 mm/s), so a panel of 2.5 s
    is 62.5 mm whatever the sampling rate; a record shorter than the window leaves it blank."""
    base, label_x = row_baseline(row), CAL_ZONE + start * SPEED + 1.0
    name = lead if lead not in item.missing else f"{lead} (not recorded)"
    ax.text(label_x, base + ROW_HEIGHT / 2 - 1.5, name, fontsize=9, fontweight="bold", va="top", ha="left")
    if lead in item.missing:
        return []
    rate = item.sample_rate
    first, last = int(np.ceil(start * rate - 1e-9)), int(np.floor(stop * rate + 1e-9))
    samples = item.signal[LEADS.index(lead), first : last + 1]
    x = CAL_ZONE + (first + np.arange(len(samples))) / rate * SPEED
    y = base + GAIN * samples.astype(np.float64)
    ax.plot(x, y, color=TRACE, linewidth=0.6, gid=gid, solid_joinstyle="round")
    return [(xi, GRID_HEIGHT) for xi in x[y > GRID_HEIGHT]] + [(xi, 0.0) for xi in x[y < 0]]


def _mark_clipping(ax, clipped):
    """A red triangle outside the grid edge at every millimetre where a trace is cut."""
    marks = sorted({(round(x), edge) for x, edge in clipped})
    for edge, direction, marker in ((GRID_HEIGHT, 1.5, "v"), (0.0, -1.5, "^")):
        xs = [x for x, e in marks if e == edge]
        if xs:
            ax.plot(
                xs,
                [edge + direction] * len(xs),
                linestyle="none",
                marker=marker,
                markersize=3,
                color=CLIP,
                clip_on=False,
                gid="clip-mark",
            )


def _write_header(fig, item, paper):
    """Review ID, age/sex, the window and the paper settings, above the grid."""
    mm = mm_transform(fig)
    (x0, y0), right = grid_origin(paper), grid_origin(paper)[0] + GRID_WIDTH
    top = y0 + GRID_HEIGHT
    fig.text(x0, top + 22, f"Review item {item.review_id}", transform=mm, fontsize=15, fontweight="bold")
    fig.text(x0 + 80, top + 22, item.demographics, transform=mm, fontsize=11)
    fig.text(right, top + 22, "25 mm/s    10 mm/mV", transform=mm, fontsize=12, fontweight="bold", ha="right")
    fig.text(x0, top + 14, item.window, transform=mm, fontsize=9)
    fig.text(
        right,
        top + 14,
        f"Grid 1 mm (0.04 s, 0.1 mV), bold 5 mm (0.2 s, 0.5 mV).  Filter: {HIGH_PASS_HZ} Hz high-pass, zero-phase",
        transform=mm,
        fontsize=9,
        ha="right",
    )
    fig.text(
        x0,
        top + 6,
        f"Print at 100% (actual size, not 'fit to page'), {PAPER_NAMES[paper]} landscape: "
        "the calibration pulse must measure 10 mm tall.",
        transform=mm,
        fontsize=9,
        style="italic",
    )
    if item.measurements:
        fig.text(x0, top + 1.2, item.measurements, transform=mm, fontsize=9, family="monospace", va="bottom")


def _write_footer(fig, item, paper):
    """The same notes on every sheet (a clipping note only where clipped would set those sheets
    apart), and the kit's identity and page number at the right."""
    mm = mm_transform(fig)
    x0, y0 = grid_origin(paper)
    notes = [
        "Each row starts with a 1 mV calibration pulse (10 mm x 5 mm). Columns are consecutive "
        "2.5 s of the same 10 s; bottom row: lead II, all 10 s.",
        "Red triangles (if any): a deflection cut at the edge of the grid. A recording shorter than 10 s "
        "leaves the rest blank.",
    ]
    for i, note in enumerate(notes):
        fig.text(x0, y0 - 5 - 4.5 * i, note, transform=mm, fontsize=8, va="top")
    if item.footer:
        fig.text(x0 + GRID_WIDTH, y0 - 5 - 4.5, item.footer, transform=mm, fontsize=8, va="top", ha="right")

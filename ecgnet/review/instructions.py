"""The reviewers' instruction pages, at the front of packet.pdf and of answer_form.pdf: what a
sheet shows, what to write in each column, how to measure the axis, and the criterion of every
asked class with its source (`criteria`). Also the footer every page of the kit carries: the
kit's identity and "page x of N"."""

import textwrap
from dataclasses import dataclass

from .. import labels as label_space
from . import criteria
from .blinding import WINDOW_SECONDS
from .formats import KIT_COLUMN

PT_MM = 25.4 / 72
CHAR_EM = 0.56  # mean width of a character of the sans-serif font, in em: sets the wrapping width
MARGIN = 18.0  # mm


@dataclass(frozen=True)
class Block:
    """A paragraph: wrapped to the page width, `indent` mm from the margin."""

    text: str
    size: float = 9.5
    bold: bool = False
    indent: float = 0.0
    space_before: float = 0.0  # mm


@dataclass(frozen=True)
class Shown:
    """The kit's display choices that the instructions describe."""

    demographics: bool
    age_band: int
    windows: int
    high_pass_hz: float


def class_label(code: str) -> str:
    return f"{label_space.ABBREVIATIONS[label_space.CLASS_INDEX[code]]} ({label_space.SCORED_NAMES.get(code, code)})"


def reviewer_blocks(classes: list[str], identity: str, items: int, shown: Shown) -> list[Block]:
    """The instruction text, paragraph by paragraph."""
    age = (
        "age (in bands of " + f"{shown.age_band} years, exact under 18" + ") and sex"
        if shown.demographics and shown.age_band > 1
        else "age and sex"
        if shown.demographics
        else "no age or sex"
    )
    windows = (
        f"{WINDOW_SECONDS:g} s from the start of the recording"
        if shown.windows == 1
        else f"up to {shown.windows} windows of {WINDOW_SECONDS:g} s of the recording, one page each, all for "
        "the same review ID"
    )
    columns = ", ".join(label_space.ABBREVIATIONS[label_space.CLASS_INDEX[c]] for c in classes)
    blocks = [
        Block("ECG review: instructions for reviewers", 15, True),
        Block(
            f"Kit {identity}: {items} review items. Every row of the answer form carries this identity in its "
            f"{KIT_COLUMN} column: leave that column as it is, so that your answers are scored against this kit.",
            10,
            space_before=3,
        ),
        Block("What each page shows", 11, True, space_before=3),
        Block(
            f"One review item: a 12-lead ECG at 25 mm/s and 10 mm/mV, four columns of 2.5 s and a lead II rhythm "
            f"strip; {windows}; a {shown.high_pass_hz} Hz zero-phase high-pass against baseline wander; the review "
            f"ID, {age}. Items are in random order. Print at 100% (the calibration pulse must be 10 mm tall)."
        ),
        Block("What to write: one row of the answer form per review ID", 11, True, space_before=3),
        Block(
            f"Each class column ({columns}): 1 present, 0 absent, ? uncertain. Answer every column on every row "
            "from the tracing alone, by the criteria below: no column is more expected than another."
        ),
        Block(
            "quality: G good, A acceptable (artefact, but readable), U uninterpretable (the row's class answers are "
            "then left out of the agreement statistics).  axis_degrees: the frontal QRS axis (below), or ?.  "
            "confidence: 1 (a guess) to 5 (certain), for the row as a whole.  comment: free text."
        ),
        Block(
            "Work alone; do not look items up elsewhere; do not add, remove or reorder columns. Save the form as "
            "CSV (comma-separated, UTF-8) named after you, e.g. smith.csv.",
        ),
        Block("Measuring the axis from leads I and aVF", 11, True, space_before=3),
        *[Block(line, indent=0 if i == 0 else 4) for i, line in enumerate(criteria.AXIS_METHOD)],
        Block("Criteria of the asked classes (adults)", 11, True, space_before=3),
    ]
    cited = []
    for code in classes:
        text, source = criteria.criterion(code)
        if source not in cited:
            cited.append(source)
        blocks.append(Block(f"{class_label(code)}: {text} [{cited.index(source) + 1}]", 9, indent=4))
    blocks.append(Block("Sources", 9.5, True, space_before=2))
    blocks += [Block(f"[{i}] {source}", 8, indent=4) for i, source in enumerate(cited, 1)]
    return blocks


def page_figure(paper: str) -> tuple:
    """(an empty page of `paper` size, its millimetre transform)."""
    from matplotlib.figure import Figure

    from .sheet import MM_PER_INCH, PAPERS, mm_transform

    width, height = PAPERS[paper]
    fig = Figure(figsize=(width / MM_PER_INCH, height / MM_PER_INCH))
    return fig, mm_transform(fig)


def text_pages(blocks: list[Block], paper: str) -> list:
    """Figures of `blocks` laid out from the top of each page, a new page when one is full."""
    from .sheet import PAPERS

    width, height = PAPERS[paper]
    pages, fig, y = [], None, 0.0
    for block in blocks:
        line_height = block.size * PT_MM * 1.4
        room = width - 2 * MARGIN - block.indent
        lines = textwrap.wrap(block.text, max(20, int(room / (block.size * CHAR_EM * PT_MM))))
        if fig is None or y - block.space_before - line_height * len(lines) < MARGIN + 8:
            fig, transform = page_figure(paper)
            pages.append(fig)
            y = height - MARGIN
        y -= block.space_before
        for line in lines:
            fig.text(
                MARGIN + block.indent,
                y,
                line,
                transform=transform,
                fontsize=block.size,
                fontweight="bold" if block.bold else "normal",
                va="top",
            )
            y -= line_height
    return pages


def stamp(fig, paper: str, text: str) -> None:
    """The footer of every page of the kit: `text` (identity and page number) at the bottom right."""
    from .sheet import PAPERS, mm_transform

    width, _ = PAPERS[paper]
    fig.text(width - MARGIN, 8, text, transform=mm_transform(fig), fontsize=8, ha="right", va="bottom")


def footer(identity: str, page: int, pages: int) -> str:
    return f"Kit {identity}    page {page} of {pages}"

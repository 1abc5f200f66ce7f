"""What a review sheet may say that differs from one record to another, and nothing else.

Besides the tracing and the review ID, a sheet shows only age and sex (unless hidden). Every
other line is the same on every sheet: the window is "10 s from the start of the recording"
whatever the record's length (printing "first 10 s of 12.4 s" named CPSC, the only source of
records longer than 10 s among the sample's), and the note on clipped deflections is printed on
every sheet, clipped or not. Age is shown in bands (10 years by default) so that a repeated
record is not told from its age: with exact ages most records of a kit have a line of their own.
"""

WINDOW_SECONDS = 10.0
ADULT_AGE = 18  # younger ages are shown exactly: the adult criteria do not apply to children
OLDEST_SHOWN = 90  # "90 or over", as de-identification rules ask


def age_text(age: float | None, band: int) -> str:
    """The age as a sheet prints it: exact under 18, else in `band`-year bands ("50-59"), "90
    or over" from 90; "unknown" when the header has none."""
    if age is None:
        return "unknown"
    if age >= OLDEST_SHOWN:
        return f"{OLDEST_SHOWN} or over"
    if age < ADULT_AGE or band <= 1:
        return f"{age:.0f}"
    low = max(ADULT_AGE, int(age // band * band))
    high = min(OLDEST_SHOWN - 1, int(age // band * band) + band - 1)
    return f"{low}-{high}"


def demographics_text(age: float | None, sex: str | None, shown: bool, band: int) -> str:
    """The one line of a sheet that varies with the record (the tracing aside)."""
    if not shown:
        return "Age and sex not shown"
    return f"Age {age_text(age, band)}    Sex {sex or 'unknown'}"


def window_text(window: int, windows: int, start: float, stop: float) -> str:
    """The window line: the same on every sheet of a kit with one window per item; with more
    (`--windows`), which window this page shows."""
    if windows == 1:
        return f"Shown: {WINDOW_SECONDS:g} s from the start of the recording"
    return f"Shown: window {window} of {windows}, {start:.1f}-{stop:.1f} s of the recording"

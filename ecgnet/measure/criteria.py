"""The published criteria of the scored classes that a measurement defines, as rules on a
measurements row: each gives 1 (met), 0 (not met) or None (cannot tell: a value it needs is
blank, or it falls where the criterion depends on what the row does not hold).

Sinus rhythm, which several criteria need, is read from the row: a P wave found before every
QRS of the dominant shape (PR measured) with a frontal P axis from 0 to +90 deg (P upright in
I and aVF). A record without P waves on a good signal (quality ok) whose RR intervals vary by
more than 8% (standard deviation over mean, as in atrial fibrillation) is not sinus; without P
waves but regular (P hidden in T at a fast rate, flutter, a junctional rhythm) or on a noisy
signal it is unknown.

`CRITERIA` is the table docs/measurements.md lists, with sources.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

Row = dict[str, object]
Verdict = int | None

# Sources, as cited in the table.
RATE_SOURCE = "conventional adult limits (60 and 100 bpm), as in the AHA/ACCF/HRS recommendations"
AXIS_SOURCE = "Surawicz et al., AHA/ACCF/HRS recommendations Part III, JACC 2009;53:976-81 (frontal axis, LAFB)"
QT_SOURCE = "Rautaharju et al., AHA/ACCF/HRS recommendations Part IV, JACC 2009;53:982-91 (QTc limits)"
PR_SOURCE = "conventional adult limit (PR > 200 ms), as in the AHA/ACCF/HRS recommendations"
VOLTAGE_SOURCE = "conventional limit (0.5 mV in every limb lead)"
ARRHYTHMIA_SOURCE = "conventional limit (P-P variation > 120 ms), here as RR standard deviation > 40 ms"
SINUS_P_AXIS = (0.0, 90.0)
IRREGULAR = 0.08  # RR standard deviation over mean RR: an irregular rhythm
RR_SD_SINUS_ARRHYTHMIA = 40.0  # ms: about 120 ms from longest to shortest over 8-12 beats


@dataclass(frozen=True)
class Criterion:
    code: str  # SNOMED CT code of the class (ecgnet.labels.CLASSES)
    abbreviation: str
    criterion: str  # as printed in the table
    source: str
    rule: Callable[[Row, str | None], Verdict]


def _value(row: Row, column: str) -> float | None:
    value = row.get(column)
    return None if value is None else float(cast(float, value))  # a number, as `table.read_measurements` reads it


def sinus(row: Row) -> Verdict:
    """1 sinus rhythm, 0 not, None unknown (see the module's description)."""
    pr, p_axis = _value(row, "pr_ms"), _value(row, "p_axis_deg")
    if pr is not None and p_axis is not None:
        return int(SINUS_P_AXIS[0] <= p_axis <= SINUS_P_AXIS[1])
    rate, rr_sd = _value(row, "heart_rate_bpm"), _value(row, "rr_sd_ms")
    if pr is None and row.get("quality") == "ok" and rate is not None and rr_sd is not None:
        if rr_sd > IRREGULAR * 60000.0 / rate:
            return 0
    return None


def _rate_rule(test: Callable[[float], bool], needs_sinus: bool) -> Callable[[Row, str | None], Verdict]:
    def rule(row: Row, sex: str | None = None) -> Verdict:
        rate = _value(row, "heart_rate_bpm")
        if rate is None:
            return None
        if not test(rate):
            return 0
        if not needs_sinus:
            return 1
        return sinus(row)

    return rule


def _threshold_rule(column: str, test: Callable[[float], bool]) -> Callable[[Row, str | None], Verdict]:
    def rule(row: Row, sex: str | None = None) -> Verdict:
        value = _value(row, column)
        return None if value is None else int(test(value))

    return rule


def sinus_arrhythmia(row: Row, sex: str | None = None) -> Verdict:
    rr_sd = _value(row, "rr_sd_ms")
    if rr_sd is None:
        return None
    if rr_sd <= RR_SD_SINUS_ARRHYTHMIA:
        return 0
    return sinus(row)


def prolonged_qt(row: Row, sex: str | None = None) -> Verdict:
    """QTc (Fridericia) >= 450 ms in men, >= 460 ms in women; sex unknown: unknown between."""
    qtc = _value(row, "qtc_fridericia_ms")
    if qtc is None:
        return None
    limit = {"male": 450.0, "female": 460.0}.get(sex or "")
    if limit is not None:
        return int(qtc >= limit)
    return 1 if qtc >= 460.0 else 0 if qtc < 450.0 else None


def left_anterior_fascicular_block(row: Row, sex: str | None = None) -> Verdict:
    axis, qrs = _value(row, "qrs_axis_deg"), _value(row, "qrs_ms")
    if axis is None or qrs is None:
        return None
    return int(-90.0 <= axis <= -45.0 and qrs < 120.0)


CRITERIA: tuple[Criterion, ...] = (
    Criterion("426177001", "SB", "sinus rhythm, rate < 60 bpm", RATE_SOURCE, _rate_rule(lambda r: r < 60.0, True)),
    Criterion(
        "426783006", "NSR", "sinus rhythm, rate 60-100 bpm", RATE_SOURCE, _rate_rule(lambda r: 60 <= r <= 100, True)
    ),
    Criterion("427084000", "STach", "sinus rhythm, rate > 100 bpm", RATE_SOURCE, _rate_rule(lambda r: r > 100.0, True)),
    Criterion("426627000", "Brady", "rate < 60 bpm, any rhythm", RATE_SOURCE, _rate_rule(lambda r: r < 60.0, False)),
    Criterion(
        "427393009",
        "SA",
        f"sinus rhythm, RR standard deviation > {RR_SD_SINUS_ARRHYTHMIA:g} ms",
        ARRHYTHMIA_SOURCE,
        sinus_arrhythmia,
    ),
    Criterion("270492004", "IAVB", "PR > 200 ms", PR_SOURCE, _threshold_rule("pr_ms", lambda v: v > 200.0)),
    Criterion("164947007", "LPR", "PR > 200 ms", PR_SOURCE, _threshold_rule("pr_ms", lambda v: v > 200.0)),
    Criterion(
        "39732003",
        "LAD",
        "QRS axis from -90 to below -30 deg",
        AXIS_SOURCE,
        _threshold_rule("qrs_axis_deg", lambda v: -90.0 <= v < -30.0),
    ),
    Criterion(
        "47665007",
        "RAD",
        "QRS axis above +90 deg (to +180)",
        AXIS_SOURCE,
        _threshold_rule("qrs_axis_deg", lambda v: v > 90.0),
    ),
    Criterion(
        "445118002",
        "LAnFB",
        "QRS axis -45 to -90 deg and QRS < 120 ms (qR in aVL not checked)",
        AXIS_SOURCE,
        left_anterior_fascicular_block,
    ),
    Criterion(
        "251146004",
        "LQRSV",
        "QRS peak-to-peak < 0.5 mV in every limb lead",
        VOLTAGE_SOURCE,
        _threshold_rule("qrs_amp_limb_mv", lambda v: v < 0.5),
    ),
    Criterion("111975006", "LQT", "QTc (Fridericia) >= 450 ms (men), >= 460 ms (women)", QT_SOURCE, prolonged_qt),
)
BY_CODE = {c.code: c for c in CRITERIA}
# Abbreviation or code, in lower case -> code: how a config names the classes with a rule.
BY_NAME = {**{c.code: c.code for c in CRITERIA}, **{c.abbreviation.lower(): c.code for c in CRITERIA}}


def unknown_classes_problem(text: str) -> str | None:
    """Why `text` (a config's decide_rules) is not a comma-separated list of classes with a
    criterion, or None."""
    unknown = [item.strip() for item in text.split(",") if item.strip().lower() not in BY_NAME]
    if not unknown:
        return None
    allowed = ", ".join(c.abbreviation for c in CRITERIA)
    return f"decide_rules: {', '.join(map(repr, unknown))} not a class with a rule; the classes are {allowed}"


def verdicts(row: Row, sex: str | None = None) -> dict[str, Verdict]:
    """{class code: 1, 0 or None} of every criterion for one measurements row."""
    return {c.code: c.rule(row, sex) for c in CRITERIA}

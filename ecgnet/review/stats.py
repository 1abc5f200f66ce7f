"""The agreement statistics of `ecgnet agreement`: Cohen's kappa (statsmodels' asymptotic CI and
a seeded percentile bootstrap), Fleiss' kappa with a bootstrap CI, raw agreement and PABAK (or
Randolph's free-marginal kappa), the intraclass correlation of a measurement (the axis), and the
reviewers' consensus per item and class. Undefined values are None with a reason, never NaN.

Cohen's kappa is undefined when either rater gives one answer throughout (e.g. the dataset's
labels of control items, all 1): the formula then returns 0 whatever the other rater does, a
number that measures nothing. The bootstrap leaves such resamples out the same way."""

import warnings
import zlib
from typing import Any

import numpy as np

RESAMPLES = 2000


def _number(x):
    return None if x is None or not np.isfinite(x) else round(float(x), 6) + 0.0  # never -0.0


def _rng(seed, key):
    """A generator of its own per statistic, so a result does not depend on what else is computed."""
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _percentile_ci(values, resamples):
    """95% percentile interval of the defined bootstrap values, or (None, note)."""
    if len(values) < resamples / 2:
        return None, f"kappa undefined in {resamples - len(values)} of {resamples} resamples"
    return [_number(np.percentile(values, 2.5)), _number(np.percentile(values, 97.5))], None


def cohen_table(table, raters=("the first rater", "the second rater")):
    """Cohen's kappa of a 2x2 table [[1/1, 1/0], [0/1, 0/0]] with statsmodels' asymptotic
    standard error and 95% CI (clipped to [-1, 1]), agreement and PABAK; kappa None (with
    "reason") when undefined: no item, or a rater (row or column, named by `raters`) constant."""
    from statsmodels.stats.inter_rater import cohens_kappa

    table = np.asarray(table, dtype=float)
    n = int(table.sum())
    out = {
        "kappa": None,
        "ci": None,
        "se": None,
        "n": n,
        "agreement": None,
        "pabak": None,
        "table": table.astype(int).tolist(),
    }
    if n == 0:
        return {**out, "reason": "no item with a 1 or 0 answer from both"}
    po = np.trace(table) / n
    out.update(agreement=_number(po), pabak=_number(2 * po - 1))
    for name, margin in zip(raters, (table.sum(axis=1), table.sum(axis=0))):
        if margin.min() == 0:
            value = "1" if margin[0] else "0"
            return {**out, "reason": f"{name} gave only {value}s on these items"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = cohens_kappa(table)
    out.update(kappa=_number(result.kappa), se=_number(result.std_kappa))
    if out["se"] is not None:  # clipped to kappa's range [-1, 1]
        out["ci"] = [_number(max(result.kappa_low, -1.0)), _number(min(result.kappa_upp, 1.0))]
    return out


def bootstrap_cohen(x, y, rng, resamples=RESAMPLES):
    """(95% percentile CI or None, note): Cohen's kappa of items resampled with replacement."""
    x, y = np.asarray(x, dtype=np.int8), np.asarray(y, dtype=np.int8)
    if len(x) == 0:
        return None, "no items"
    idx = rng.integers(0, len(x), (resamples, len(x)))
    xs, ys = x[idx], y[idx]
    po = (xs == ys).mean(axis=1)
    px, py = xs.mean(axis=1), ys.mean(axis=1)
    pe = px * py + (1 - px) * (1 - py)
    defined = (px > 0) & (px < 1) & (py > 0) & (py < 1)  # as cohen_table: no constant rater
    kappa = (po[defined] - pe[defined]) / (1 - pe[defined])
    return _percentile_ci(kappa, resamples)


def cohen(x, y, rng, resamples=RESAMPLES, uncertain=0, raters=("the first rater", "the second rater")):
    """Cohen's kappa of paired 0/1 answers: cohen_table's result, the bootstrap CI, counts."""
    x, y = np.asarray(x, dtype=int), np.asarray(y, dtype=int)
    table = [
        [int(((x == 1) & (y == 1)).sum()), int(((x == 1) & (y == 0)).sum())],
        [int(((x == 0) & (y == 1)).sum()), int(((x == 0) & (y == 0)).sum())],
    ]
    out = cohen_table(table, raters)
    out["ci_bootstrap"] = None
    if out["kappa"] is not None:
        out["ci_bootstrap"], note = bootstrap_cohen(x, y, rng, resamples)
        if note:
            out["bootstrap_note"] = note
    out["uncertain"] = uncertain
    return out


def fleiss_counts(ratings):
    """(items, 2) counts of 0 and 1 answers from (items, raters) 0/1 ratings."""
    ratings = np.asarray(ratings, dtype=int)
    ones = ratings.sum(axis=1)
    return np.stack([ratings.shape[1] - ones, ones], axis=1)


def _fleiss_vectorised(counts):
    """Fleiss' kappa of (..., items, categories) counts (same number of raters per item): the
    statsmodels formula over a leading resample axis; NaN where undefined."""
    counts = np.asarray(counts, dtype=float)
    raters = counts.sum(axis=-1)  # per item
    p = counts.sum(axis=-2) / counts.sum(axis=(-2, -1))[..., None]
    agreement = ((counts**2).sum(axis=-1) - raters) / (raters * (raters - 1))
    p_bar, p_e = agreement.mean(axis=-1), (p**2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p_e < 1 - 1e-12, (p_bar - p_e) / (1 - p_e), np.nan)


def fleiss(counts, rng, resamples=RESAMPLES, uncertain=0):
    """Fleiss' kappa (statsmodels) of (items, categories) counts, its bootstrap CI, the mean
    agreement and the free-marginal (Randolph) kappa; None with "reason" when undefined."""
    from statsmodels.stats.inter_rater import fleiss_kappa

    counts = np.asarray(counts, dtype=int)
    n = len(counts)
    raters = int(counts[0].sum()) if n else 0
    out = {
        "kappa": None,
        "ci": None,
        "n": n,
        "raters": raters,
        "agreement": None,
        "pabak": None,
        "uncertain": uncertain,
    }
    if n == 0:
        return {**out, "reason": "no item answered 1 or 0 by every reviewer"}
    if raters < 2:
        return {**out, "reason": "Fleiss' kappa needs two reviewers or more"}
    agreement = ((counts**2).sum(axis=1) - raters) / (raters * (raters - 1))
    out.update(agreement=_number(agreement.mean()), pabak=_number(fleiss_kappa(counts, method="randolph")))
    if np.isnan(_fleiss_vectorised(counts)):
        return {**out, "reason": f"every answer is {int(np.argmax(counts.sum(axis=0)))}"}
    out["kappa"] = _number(fleiss_kappa(counts, method="fleiss"))
    values = _fleiss_vectorised(counts[rng.integers(0, n, (resamples, n))])
    out["ci"], note = _percentile_ci(values[np.isfinite(values)], resamples)
    if note:
        out["bootstrap_note"] = note
    return out


def icc_agreement(ratings: np.ndarray | list) -> dict:
    """ICC(A,1) of McGraw and Wong (1996), Shrout and Fleiss's ICC(2,1): two-way random effects,
    absolute agreement, one rater, of an (items, raters) matrix without gaps, with its 95% CI
    (McGraw and Wong's F-based limits, as R's irr and psych and Python's pingouin give them);
    None with "reason" when undefined."""
    from scipy.stats import f as f_distribution

    y = np.asarray(ratings, dtype=float)
    n, k = y.shape if y.ndim == 2 else (0, 0)
    out: dict[str, Any] = {"icc": None, "ci": None, "n": int(n), "raters": int(k)}
    if k < 2:
        return {**out, "reason": "needs two raters or more"}
    if n < 2:
        return {**out, "reason": "needs two items or more measured by every rater"}
    grand = y.mean()
    ms_rows = k * ((y.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    ms_columns = n * ((y.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    residual = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + grand
    ms_error = (residual**2).sum() / ((n - 1) * (k - 1))
    denominator = ms_rows + (k - 1) * ms_error + k * (ms_columns - ms_error) / n
    if denominator <= 1e-12 * max(1.0, abs(grand)) ** 2:
        return {**out, "reason": "every rater gave every item the same value"}
    icc = (ms_rows - ms_error) / denominator
    out["icc"] = _number(icc)
    if icc >= 1 - 1e-12 or ms_error <= 0:
        out["ci"] = [out["icc"], 1.0]
        return out
    a = k * icc / (n * (1 - icc))
    b = 1 + k * icc * (n - 1) / (n * (1 - icc))
    v = (a * ms_columns + b * ms_error) ** 2 / (
        (a * ms_columns) ** 2 / (k - 1) + (b * ms_error) ** 2 / ((n - 1) * (k - 1))
    )
    low_f, high_f = f_distribution.ppf(0.975, n - 1, v), f_distribution.ppf(0.975, v, n - 1)
    spread = k * ms_columns + (k * n - k - n) * ms_error
    low = n * (ms_rows - low_f * ms_error) / (low_f * spread + n * ms_rows)
    high = n * (high_f * ms_rows - ms_error) / (spread + n * high_f * ms_rows)
    out["ci"] = [_number(max(low, -1.0)), _number(min(high, 1.0))]
    return out


# ---------------------------------------------------------------- consensus


def consensus(kit, answers, code=None):
    """One row per (non-repeat item, class): the given and model labels, the reviewers' votes and
    the consensus: 1 or 0 by majority of the 1/0 answers, "uncertain" on a tie (or when every
    answer is ?), "uninterpretable" when every reviewer who answered the item marked its quality
    U (such a reviewer's answers abstain), "unanswered" when no reviewer answered the item."""
    rows = []
    for q in kit.questions:
        if q.group == "repeat" or (code is not None and q.code != code):
            continue
        answering = [a for a in answers if q.review_id in a.answered]
        readable = [a for a in answering if not a.uninterpretable(q.review_id)]
        votes = [a.cells.get((q.review_id, q.code)) for a in readable]
        ones, zeros = votes.count(1), votes.count(0)
        result: int | str
        if not answering:
            result = "unanswered"
        elif not readable:
            result = "uninterpretable"
        else:
            result = 1 if ones > zeros else 0 if zeros > ones else "uncertain"
        rows.append(
            {
                "review_id": q.review_id,
                "record": q.record,
                "group": q.group,
                "class": q.code,
                "abbreviation": q.abbreviation,
                "given_label": q.given,
                "model_label": q.model,
                "votes_1": ones,
                "votes_0": zeros,
                "votes_uncertain": votes.count(None),
                "votes_uninterpretable": len(answering) - len(readable),
                "consensus": result,
            }
        )
    return rows

"""`ecgnet agreement KIT_DIR ANSWERS.csv [ANSWERS.csv ...]`: how far reviewers agree.

For each class of the kit and each group of items (suspect: the model and the label disagree;
control: they agree; reported separately, as choosing items for disagreement pushes agreement
with the label down), and for both groups pooled:
- each reviewer vs the dataset labels and vs the model's labels (where key.csv has them),
- every pair of reviewers: Cohen's kappa with a 95% CI, asymptotic (statsmodels
  `cohens_kappa`) and bootstrap (percentile, items resampled, seeded),
- all reviewers together: Fleiss' kappa (statsmodels `fleiss_kappa`) with a bootstrap CI,
  over the items every reviewer answered 1 or 0,
- raw agreement and the prevalence-adjusted bias-adjusted kappa (PABAK = 2 x agreement - 1;
  for Fleiss, Randolph's free-marginal kappa, the same for two categories),
- the consensus: per item the majority of the 1/0 answers ("?" abstains; a tie or no 1/0
  answer is uncertain), counted per class and compared with the labels;
and, per reviewer and class, the self-consistency between an item and its unannounced repeat.

Answers: the reviewer's filled answer_form.csv, named after the reviewer (the file's stem is the
reviewer's name). Cells are 1 (present), 0 (absent) or ? (uncertain). A "?" is left out of
every kappa and counted; a blank cell of an asked class is an error naming file, row and column
(rows numbered as a spreadsheet shows them, the header being row 1) unless
--blank-as-uncertain; cells of classes not asked for that item are ignored. An item missing
from a file is counted as unanswered. Kappa is undefined (None, with the reason; never NaN)
when nobody gave a usable answer or every answer is the same value.

JSON (--json): {"classes": {CODE: {"vs_labels": {REVIEWER: {"kappa", "ci", "ci_bootstrap",
"se", "n", "agreement", "pabak", "uncertain", "table", ...}}, "vs_model": {...}, "between":
{"R1~R2": {...}}, "fleiss": {...}, "consensus": {...}, "self_consistency": {REVIEWER: {...}},
"groups": {"suspect": {the same but self_consistency}, "control": {...}}}}, ...}; the keys
outside "groups" pool suspects and controls. "table" is [[1/1, 1/0], [0/1, 0/0]]: rows the
first rater (the reviewer), columns the second (labels, model or the second reviewer).
"""

import argparse
import csv
import itertools
import json
import os
import sys
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import EcgnetError, describe
from .formats import FORM_EXTRA as FREE_COLUMNS  # on the form; not used here
from .formats import KEY_COLUMNS, KEY_FILE, MANIFEST_FILE

GROUPS = ("suspect", "control")  # "repeat" items only measure self-consistency
ANSWER_VALUES = {"1": 1, "0": 0, "?": None}
RESAMPLES = 2000

DESCRIPTION = "Agreement of reviewers with the dataset labels, the model and each other (kappa with CIs)."


class KitError(EcgnetError):
    """A review kit folder (manifest.json, key.csv) that cannot be used."""


class AnswersError(EcgnetError):
    """An answers file that cannot be read; the message names the file, row and column."""


# ---------------------------------------------------------------- the kit and the answers


@dataclass(frozen=True)
class Question:
    """One row of key.csv: an item and one class asked about it."""

    review_id: str
    record: str
    group: str  # suspect, control or repeat
    repeat_of: str | None  # for a repeat: the review ID of the first showing
    code: str
    abbreviation: str
    given: int  # the dataset's label
    model: int | None  # the model's label, None without a model
    probability: float | None


@dataclass
class Kit:
    folder: str
    classes: list  # [(code, abbreviation)] in manifest order
    questions: list  # [Question] in key.csv order
    items: dict = field(default_factory=dict)  # review_id -> its first Question

    def asked(self):
        return {(q.review_id, q.code) for q in self.questions}


@dataclass
class Answers:
    reviewer: str  # the file's stem
    path: str
    cells: dict  # (review_id, code) -> 1, 0 or None (uncertain), asked classes only
    answered: set  # review IDs with a row in the file


def _read_csv(path, error):
    """The rows of a CSV file (a UTF-8 byte order mark, as spreadsheets write, is dropped)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return list(csv.reader(f))
    except FileNotFoundError:
        raise error(f"{path} is missing") from None
    except UnicodeDecodeError:
        raise error(f"{path} is not UTF-8 text (save it as CSV UTF-8)") from None
    except csv.Error as e:
        raise error(f"{path}: not a readable CSV file ({e})") from None


def load_kit(folder):
    """The kit's classes (manifest.json) and questions (key.csv), checked."""
    folder = str(folder)
    manifest_path, key_path = os.path.join(folder, MANIFEST_FILE), os.path.join(folder, KEY_FILE)
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise KitError(f"{manifest_path} is missing: {folder} is not a review kit") from None
    except ValueError as e:
        raise KitError(f"{manifest_path} is not valid JSON ({e})") from None
    entries = manifest.get("classes") if isinstance(manifest, dict) else None
    if (
        not isinstance(entries, list)
        or not entries
        or not all(
            isinstance(c, dict) and isinstance(c.get("code"), str) and isinstance(c.get("abbreviation"), str)
            for c in entries
        )
    ):
        raise KitError(f'{manifest_path}: "classes" must list objects with a "code" and an "abbreviation"')
    classes = [(c["code"], c["abbreviation"]) for c in entries]
    for what, values in (("code", [c for c, _ in classes]), ("abbreviation", [a for _, a in classes])):
        if len(set(values)) != len(values):
            raise KitError(f"{manifest_path}: a class {what} is listed twice")
    abbreviation_of = dict(classes)

    rows = _read_csv(key_path, KitError)
    if not rows:
        raise KitError(f"{key_path} is empty")
    header = [c.strip() for c in rows[0]]
    missing = [c for c in KEY_COLUMNS if c not in header]
    if missing:
        raise KitError(f"{key_path} row 1: missing column(s) {', '.join(missing)}")
    at = {c: header.index(c) for c in KEY_COLUMNS}
    kit = Kit(folder, classes, [])
    seen = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise KitError(f"{key_path} row {number}: {len(row)} columns, expected {len(header)}")
        cell = {c: row[at[c]].strip() for c in KEY_COLUMNS}

        def bad(column, problem, number=number):
            return KitError(f"{key_path} row {number}, column {column}: {problem}")

        for column in ("review_id", "record", "class"):
            if not cell[column]:
                raise bad(column, "is empty")
        if cell["group"] not in (*GROUPS, "repeat"):
            raise bad("group", f"{cell['group']!r} is not suspect, control or repeat")
        if cell["class"] not in abbreviation_of:
            raise bad("class", f"{cell['class']!r} is not a class of {manifest_path}")
        if cell["abbreviation"] != abbreviation_of[cell["class"]]:
            raise bad(
                "abbreviation",
                f"{cell['abbreviation']!r} is not {cell['class']}'s abbreviation "
                f"{abbreviation_of[cell['class']]!r} in {manifest_path}",
            )
        if cell["given_label"] not in ("0", "1"):
            raise bad("given_label", f"{cell['given_label']!r} is not 0 or 1")
        if cell["model_label"] not in ("", "0", "1"):
            raise bad("model_label", f"{cell['model_label']!r} is not 0, 1 or empty")
        try:
            probability = float(cell["model_probability"]) if cell["model_probability"] else None
        except ValueError:
            raise bad("model_probability", f"{cell['model_probability']!r} is not a number") from None
        if (cell["group"] == "repeat") != bool(cell["repeat_of"]):
            raise bad("repeat_of", "a repeat needs the review ID of its first showing, other items none")
        key = (cell["review_id"], cell["class"])
        if key in seen:
            raise bad("class", f"review ID {key[0]} asks {key[1]} again (first on row {seen[key]})")
        seen[key] = number
        question = Question(
            cell["review_id"],
            cell["record"],
            cell["group"],
            cell["repeat_of"] or None,
            cell["class"],
            cell["abbreviation"],
            int(cell["given_label"]),
            int(cell["model_label"]) if cell["model_label"] else None,
            probability,
        )
        first = kit.items.setdefault(question.review_id, question)
        if (first.record, first.group, first.repeat_of) != (question.record, question.group, question.repeat_of):
            raise bad(
                "review_id",
                f"review ID {question.review_id} has another record, group or repeat_of than on its first row",
            )
        kit.questions.append(question)
    if not kit.questions:
        raise KitError(f"{key_path} lists no review items")
    for q in kit.questions:
        original = kit.items.get(q.repeat_of) if q.repeat_of else None
        if q.repeat_of and (original is None or original.group == "repeat" or original.record != q.record):
            raise KitError(
                f"{key_path} row {seen[(q.review_id, q.code)]}, column repeat_of: {q.repeat_of!r} is not "
                f"the review ID of a first showing of record {q.record}"
            )
    return kit


def read_answers(path, kit, blank_as_uncertain=False):
    """A reviewer's answers (their filled answer_form.csv), every cell checked."""
    path = str(path)
    rows = _read_csv(path, AnswersError)
    if not rows:
        raise AnswersError(f"{path} is empty")
    header = [c.strip() for c in rows[0]]
    class_of = {abbreviation: code for code, abbreviation in kit.classes}
    known = ("review_id", *class_of, *FREE_COLUMNS)
    body = [row for row in rows[1:]]
    for j, name in enumerate(header):
        if not name and not any(j < len(row) and row[j].strip() for row in body):
            continue  # an unnamed, empty column (a trailing comma)
        if name not in known:
            raise AnswersError(
                f"{path} row 1, column {j + 1}: {name!r} is not a column of the answer form "
                f"(review_id, {', '.join(class_of)}, {', '.join(FREE_COLUMNS)})"
            )
        if header.index(name) != j:
            raise AnswersError(f"{path} row 1, column {j + 1}: column {name!r} appears twice")
    missing = [c for c in ("review_id", *class_of) if c not in header]
    if missing:
        raise AnswersError(f"{path} row 1: missing column(s) {', '.join(missing)}")
    asked = kit.asked()
    answers = Answers(os.path.splitext(os.path.basename(path))[0], path, {}, set())
    first_row = {}
    for number, row in enumerate(body, start=2):
        if not any(cell.strip() for cell in row):
            continue
        row = row + [""] * (len(header) - len(row))
        review_id = row[header.index("review_id")].strip()
        if not review_id:
            raise AnswersError(f"{path} row {number}, column review_id: the review ID is empty")
        if review_id not in kit.items:
            raise AnswersError(
                f"{path} row {number}, column review_id: review ID {review_id!r} is not in "
                f"{os.path.join(kit.folder, KEY_FILE)}"
            )
        if review_id in first_row:
            raise AnswersError(
                f"{path} row {number}, column review_id: review ID {review_id} is also on row {first_row[review_id]}"
            )
        first_row[review_id] = number
        answers.answered.add(review_id)
        for abbreviation, code in class_of.items():
            value = row[header.index(abbreviation)].strip()
            if value == "" and (review_id, code) in asked:
                if not blank_as_uncertain:
                    raise AnswersError(
                        f"{path} row {number}, column {abbreviation}: the answer is blank; write 1, 0 "
                        "or ? (or pass --blank-as-uncertain)"
                    )
                value = "?"
            if value not in ANSWER_VALUES and value != "":
                raise AnswersError(
                    f"{path} row {number}, column {abbreviation}: {value!r} is not 1 (present), "
                    "0 (absent) or ? (uncertain)"
                )
            if (review_id, code) in asked:
                answers.cells[(review_id, code)] = ANSWER_VALUES[value]
    return answers


def read_all_answers(paths, kit, blank_as_uncertain=False):
    answers = [read_answers(p, kit, blank_as_uncertain) for p in paths]
    names = [a.reviewer for a in answers]
    for a in answers:
        if names.count(a.reviewer) > 1:
            raise AnswersError(
                f"{a.path}: another answers file is also named {a.reviewer!r}; the file's name names the reviewer"
            )
        if "~" in a.reviewer:
            raise AnswersError(f"{a.path}: a reviewer's name (the file's name) must not hold '~'")
    return answers


# ---------------------------------------------------------------- statistics


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


def cohen_table(table):
    """Cohen's kappa of a 2x2 table [[1/1, 1/0], [0/1, 0/0]] with statsmodels' asymptotic
    standard error and 95% CI (clipped to [-1, 1]), agreement and PABAK; kappa None (with "reason") when undefined."""
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
    rows, columns = table.sum(axis=1) / n, table.sum(axis=0) / n
    if float(rows @ columns) >= 1 - 1e-12:
        value = "1" if table[0, 0] else "0"
        return {**out, "reason": f"every answer is {value}: kappa undefined"}
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
    defined = pe < 1 - 1e-12
    kappa = (po[defined] - pe[defined]) / (1 - pe[defined])
    return _percentile_ci(kappa, resamples)


def cohen(x, y, rng, resamples=RESAMPLES, uncertain=0):
    """Cohen's kappa of paired 0/1 answers: cohen_table's result, the bootstrap CI, counts."""
    x, y = np.asarray(x, dtype=int), np.asarray(y, dtype=int)
    table = [
        [int(((x == 1) & (y == 1)).sum()), int(((x == 1) & (y == 0)).sum())],
        [int(((x == 0) & (y == 1)).sum()), int(((x == 0) & (y == 0)).sum())],
    ]
    out = cohen_table(table)
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
        return {**out, "reason": f"every answer is {int(np.argmax(counts.sum(axis=0)))}: kappa undefined"}
    out["kappa"] = _number(fleiss_kappa(counts, method="fleiss"))
    values = _fleiss_vectorised(counts[rng.integers(0, n, (resamples, n))])
    out["ci"], note = _percentile_ci(values[np.isfinite(values)], resamples)
    if note:
        out["bootstrap_note"] = note
    return out


# ---------------------------------------------------------------- per class and group


def consensus(kit, answers, code=None):
    """One row per (non-repeat item, class): the given and model labels, the reviewers' votes and
    the consensus: 1 or 0 by majority of the 1/0 answers, "uncertain" on a tie (or when every
    answer is ?), "unanswered" when no reviewer answered the item."""
    rows = []
    for q in kit.questions:
        if q.group == "repeat" or (code is not None and q.code != code):
            continue
        votes = [a.cells.get((q.review_id, q.code), "none") for a in answers if q.review_id in a.answered]
        ones, zeros = votes.count(1), votes.count(0)
        if not votes:
            result = "unanswered"
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
                "consensus": result,
            }
        )
    return rows


def _vs_reference(questions, answer, reference, rng, resamples):
    """Cohen of one reviewer against a reference label of the questions (labels or model)."""
    pairs, uncertain = [], 0
    for q in questions:
        value, ref = answer.cells.get((q.review_id, q.code)), reference(q)
        if q.review_id not in answer.answered or ref is None:
            continue
        if value is None:
            uncertain += 1
        else:
            pairs.append((value, ref))
    x, y = (np.array(p) for p in zip(*pairs)) if pairs else ([], [])
    return cohen(x, y, rng, resamples, uncertain)


def compare(questions, answers, key, seed=0, resamples=RESAMPLES):
    """Every statistic of one class over `questions` (non-repeat items of one class)."""
    out = {"items": len(questions), "vs_labels": {}, "vs_model": {}, "between": {}}
    for a in answers:
        out["vs_labels"][a.reviewer] = _vs_reference(
            questions, a, lambda q: q.given, _rng(seed, f"{key}/labels/{a.reviewer}"), resamples
        )
        if any(q.model is not None for q in questions):
            out["vs_model"][a.reviewer] = _vs_reference(
                questions, a, lambda q: q.model, _rng(seed, f"{key}/model/{a.reviewer}"), resamples
            )
    for a, b in itertools.combinations(answers, 2):
        pairs, uncertain = [], 0
        for q in questions:
            if q.review_id in a.answered and q.review_id in b.answered:
                x, y = a.cells.get((q.review_id, q.code)), b.cells.get((q.review_id, q.code))
                if x is None or y is None:
                    uncertain += 1
                else:
                    pairs.append((x, y))
        x, y = (np.array(p) for p in zip(*pairs)) if pairs else ([], [])
        name = f"{a.reviewer}~{b.reviewer}"
        out["between"][name] = cohen(x, y, _rng(seed, f"{key}/between/{name}"), resamples, uncertain)
    ratings, uncertain = [], 0
    for q in questions:
        if all(q.review_id in a.answered for a in answers):
            values = [a.cells.get((q.review_id, q.code)) for a in answers]
            if None in values:
                uncertain += 1
            else:
                ratings.append(values)
    counts = fleiss_counts(ratings) if ratings else np.zeros((0, 2), dtype=int)
    out["fleiss"] = fleiss(counts, _rng(seed, f"{key}/fleiss"), resamples, uncertain)
    return out


def _consensus_summary(rows, rng, resamples):
    outcome = [r["consensus"] for r in rows]
    decided = [r for r in rows if r["consensus"] in (0, 1)]
    return {
        "1": outcome.count(1),
        "0": outcome.count(0),
        "uncertain": outcome.count("uncertain"),
        "unanswered": outcome.count("unanswered"),
        "confirms_label": sum(r["consensus"] == r["given_label"] for r in decided),
        "contradicts_label": sum(r["consensus"] != r["given_label"] for r in decided),
        "vs_labels": cohen(
            [r["consensus"] for r in decided],
            [r["given_label"] for r in decided],
            rng,
            resamples,
            outcome.count("uncertain"),
        ),
    }


def self_consistency(kit, answer, code, rng, resamples=RESAMPLES):
    """One reviewer's answers to each repeat vs their answers to its first showing."""
    pairs, uncertain = [], 0
    for q in kit.questions:
        if q.group != "repeat" or q.code != code:
            continue
        if q.review_id in answer.answered and q.repeat_of in answer.answered:
            first, again = answer.cells.get((q.repeat_of, code)), answer.cells.get((q.review_id, code))
            if first is None or again is None:
                uncertain += 1
            else:
                pairs.append((first, again))
    x, y = (np.array(p) for p in zip(*pairs)) if pairs else ([], [])
    return cohen(x, y, rng, resamples, uncertain)


def agreement_report(kit, answers, seed=0, resamples=RESAMPLES):
    """The whole report (the --json layout)."""
    asked_items = {q.review_id for q in kit.questions}
    report = {
        "kit": kit.folder,
        "reviewers": {
            a.reviewer: {
                "file": a.path,
                "items_answered": len(a.answered),
                "items_unanswered": len(asked_items - a.answered),
                "uncertain_answers": sum(v is None for v in a.cells.values()),
            }
            for a in answers
        },
        "bootstrap": {"resamples": resamples, "seed": seed, "ci": "95% percentile, items resampled"},
        "classes": {},
    }
    for code, abbreviation in kit.classes:
        questions = [q for q in kit.questions if q.code == code]
        if not questions:
            continue
        pooled = [q for q in questions if q.group in GROUPS]
        entry = {"abbreviation": abbreviation, **compare(pooled, answers, f"{code}/all", seed, resamples)}
        rows = consensus(kit, answers, code)
        entry["consensus"] = _consensus_summary(rows, _rng(seed, f"{code}/all/consensus"), resamples)
        entry["self_consistency"] = {
            a.reviewer: self_consistency(kit, a, code, _rng(seed, f"{code}/self/{a.reviewer}"), resamples)
            for a in answers
        }
        entry["groups"] = {}
        for group in GROUPS:
            part = [q for q in questions if q.group == group]
            entry["groups"][group] = compare(part, answers, f"{code}/{group}", seed, resamples)
            entry["groups"][group]["consensus"] = _consensus_summary(
                [r for r in rows if r["group"] == group], _rng(seed, f"{code}/{group}/consensus"), resamples
            )
        report["classes"][code] = entry
    return report


# ---------------------------------------------------------------- output


def _kappa_text(s):
    if s["kappa"] is None:
        text = f"kappa -  ({s['reason']})"
    else:
        ci = f"{s['ci'][0]:.3f}..{s['ci'][1]:.3f}" if s.get("ci") else "-"
        boot = f"{s['ci_bootstrap'][0]:.3f}..{s['ci_bootstrap'][1]:.3f}" if s.get("ci_bootstrap") else "-"
        text = f"kappa {s['kappa']:6.3f}  CI {ci} (bootstrap {boot})"
    extra = f"  agreement {s['agreement']:.3f}  PABAK {s['pabak']:.3f}" if s.get("agreement") is not None else ""
    return f"{text}  n {s['n']}{extra}  uncertain {s.get('uncertain', 0)}"


def _fleiss_text(s):
    if s["kappa"] is None:
        return f"kappa -  ({s['reason']})  n {s['n']}"
    ci = f"{s['ci'][0]:.3f}..{s['ci'][1]:.3f}" if s.get("ci") else "-"
    return (
        f"kappa {s['kappa']:6.3f}  bootstrap CI {ci}  n {s['n']}  raters {s['raters']}  agreement "
        f"{s['agreement']:.3f}  free-marginal {s['pabak']:.3f}  uncertain {s['uncertain']}"
    )


def format_report(report):
    lines = []
    for code, entry in report["classes"].items():
        lines.append(f"{entry['abbreviation']} ({code})")
        for group in GROUPS:
            part = entry["groups"][group]
            c = part["consensus"]
            lines.append(
                f"  {group}: {part['items']} items; consensus 1: {c['1']}, 0: {c['0']}, uncertain: "
                f"{c['uncertain']}, unanswered: {c['unanswered']}; contradicts the label: "
                f"{c['contradicts_label']} of {c['1'] + c['0']}"
            )
            for title, table in (
                ("vs labels", part["vs_labels"]),
                ("vs model", part["vs_model"]),
                ("between", part["between"]),
            ):
                for name, s in table.items():
                    lines.append(f"    {title:<10} {name:<20} {_kappa_text(s)}")
            lines.append(f"    {'Fleiss':<10} {'all reviewers':<20} {_fleiss_text(part['fleiss'])}")
        for name, s in entry["self_consistency"].items():
            lines.append(f"  {'repeats':<12} {name:<20} {_kappa_text(s)}")
    return "\n".join(lines)


def write_consensus(path, kit, answers):
    with open(path + ".tmp", "w", newline="") as f:
        writer = csv.DictWriter(
            f,
            fieldnames=[
                "review_id",
                "record",
                "group",
                "class",
                "abbreviation",
                "given_label",
                "model_label",
                "votes_1",
                "votes_0",
                "votes_uncertain",
                "consensus",
            ],
            lineterminator="\n",
        )
        writer.writeheader()
        for row in consensus(kit, answers):
            writer.writerow({**row, "model_label": "" if row["model_label"] is None else row["model_label"]})
    os.replace(path + ".tmp", path)


def main(argv: list[str] | None = None, prog: str = "ecgnet agreement") -> int:
    from ..cli import HelpFormatter

    rest = __doc__.partition("\n\n")[2]
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=rest, formatter_class=HelpFormatter)
    parser.add_argument("kit", help="the review kit folder (manifest.json, key.csv)")
    parser.add_argument("answers", nargs="+", help="each reviewer's filled answer_form.csv, named after the reviewer")
    parser.add_argument("--json", metavar="FILE", help="write the whole report as JSON")
    parser.add_argument("--consensus", metavar="FILE", help="write the consensus of every item and class as CSV")
    parser.add_argument("--blank-as-uncertain", action="store_true", help="read a blank answer as ?, not an error")
    parser.add_argument("--resamples", type=int, default=RESAMPLES, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed: the same seed gives the same intervals")
    args = parser.parse_args(argv)
    if args.resamples < 100:
        parser.error("--resamples must be at least 100")
    try:
        kit = load_kit(args.kit)
        answers = read_all_answers(args.answers, kit, args.blank_as_uncertain)
        report = agreement_report(kit, answers, args.seed, args.resamples)
        print(format_report(report))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)
                f.write("\n")
        if args.consensus:
            write_consensus(args.consensus, kit, answers)
    except (EcgnetError, OSError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reading and checking the files `ecgnet agreement` and `ecgnet relabel` take: the review kit
(manifest.json and key.csv, as `ecgnet review-kit` wrote them) and the reviewers' filled answer
forms.

Every problem of a file is reported at once, each with its row (as a spreadsheet numbers it, the
header being row 1), column, value and what is allowed (`csvfiles.Problems`). An answer form
must carry the kit's identity in its kit_id column on every row: answers filled in on another
kit are refused, naming both identities. A kit whose key.csv no longer has the SHA-256 its
manifest records is refused too.

An answers file may lack items: review IDs without a row are *missing*, rows without any class
answer *unanswered* (a row of quality U with no class answer is answered: the tracing cannot be
read). `read_all_answers` refuses incomplete files unless `allow_incomplete`.
"""

import math
import os
from dataclasses import dataclass, field

from ..csvfiles import Problems, Row, Table, read_table
from ..errors import EcgnetError, InputFileError, quote
from ..files import read_json
from .formats import (
    AXIS_RANGE,
    CONFIDENCE,
    FORM_EXTRA,
    KEY_COLUMNS,
    KEY_FILE,
    KEY_HASH_DIGITS,
    KIT_COLUMN,
    MANIFEST_FILE,
    QUALITY,
    kit_identity,
)

GROUPS = ("suspect", "control")  # "repeat" items only measure self-consistency
ANSWER_VALUES = {"1": 1, "0": 0, "?": None}
MAX_ANSWERS_BYTES = 4 * 1024 * 1024  # a form of 1,000 items x 24 classes is ~100 kB
MAX_KIT_BYTES = 64 * 1024 * 1024
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
SHOWN_IDS = 12  # review IDs listed in a message about missing items


class KitError(EcgnetError):
    """A review kit folder (manifest.json, key.csv) that cannot be used."""


class AnswersError(EcgnetError):
    """An answers file that cannot be read; the message names the file, row and column."""


class IncompleteAnswers(AnswersError):
    """Answers files that miss items or leave rows unanswered (allowed with --allow-incomplete);
    `ecgnet agreement` and `ecgnet relabel` exit with status 3 for them."""

    exit_status = 3


# ---------------------------------------------------------------- the kit


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
    identity: str | None = None  # None: a kit made before kits had an identity

    def asked(self):
        return {(q.review_id, q.code) for q in self.questions}


def _read_manifest(folder):
    """(manifest path, manifest, [(code, abbreviation)]) of the kit's manifest.json, checked."""
    manifest_path = os.path.join(folder, MANIFEST_FILE)
    if not os.path.isdir(folder):
        what = "a file" if os.path.exists(folder) else "missing"
        raise KitError(
            f"{folder} is {what}, not a review kit folder (give the kit's folder first, then the answers files)"
        )
    if not os.path.exists(manifest_path):
        raise KitError(f"{manifest_path} is missing: {folder} is not a review kit")
    try:
        manifest = read_json(manifest_path, "kit manifest", MAX_MANIFEST_BYTES)
    except InputFileError as e:
        raise KitError(str(e)) from None
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
    return manifest_path, manifest, classes


def _check_identity(manifest_path: str, manifest: dict, key_path: str) -> str | None:
    """The kit's identity, after checking that key.csv is the one the manifest and the identity
    were made with; None for a kit made before kits had one."""
    import hashlib

    identity = manifest.get("kit_id")
    if identity is None:
        return None
    with open(key_path, "rb") as f:
        actual = hashlib.sha256(f.read()).hexdigest()
    recorded = manifest.get("key_sha256")
    random_id = manifest.get("kit_random_id")
    if not isinstance(random_id, str) or identity != kit_identity(random_id, str(recorded)):
        raise KitError(f'{manifest_path}: "kit_id" {quote(str(identity))} does not match its random ID and key hash')
    if actual != recorded:
        raise KitError(
            f"{key_path} has SHA-256 {actual[:KEY_HASH_DIGITS]}..., but kit {identity} was made with "
            f"{str(recorded)[:KEY_HASH_DIGITS]}... ({manifest_path}): key.csv was changed after the kit was made"
        )
    return identity


def _question(
    cells: dict, problems: Problems, number: int, manifest_path: str, abbreviation_of: dict
) -> Question | None:
    """The `Question` of one key.csv row ({column: text}), or None after adding its problems."""
    before = len(problems.found)
    for column in ("review_id", "record", "class"):
        if not cells[column]:
            problems.add(number, column, "is empty")
    if cells["group"] not in (*GROUPS, "repeat"):
        problems.value(number, "group", cells["group"], "suspect, control or repeat")
    if cells["class"] and cells["class"] not in abbreviation_of:
        problems.add(number, "class", f"{quote(cells['class'])} is not a class of {manifest_path}")
    elif cells["class"] and cells["abbreviation"] != abbreviation_of[cells["class"]]:
        problems.add(
            number,
            "abbreviation",
            f"{quote(cells['abbreviation'])} is not {cells['class']}'s abbreviation "
            f"{abbreviation_of[cells['class']]!r} in {manifest_path}",
        )
    if cells["given_label"] not in ("0", "1"):
        problems.value(number, "given_label", cells["given_label"], "0 or 1")
    if cells["model_label"] not in ("", "0", "1"):
        problems.value(number, "model_label", cells["model_label"], "0, 1 or empty")
    probability = _number(cells["model_probability"]) if cells["model_probability"] else None
    if cells["model_probability"] and probability is None:
        problems.value(number, "model_probability", cells["model_probability"], "a number or empty")
    if (cells["group"] == "repeat") != bool(cells["repeat_of"]):
        problems.add(number, "repeat_of", "a repeat needs the review ID of its first showing, other items none")
    if len(problems.found) > before:
        return None
    return Question(
        cells["review_id"],
        cells["record"],
        cells["group"],
        cells["repeat_of"] or None,
        cells["class"],
        cells["abbreviation"],
        int(cells["given_label"]),
        int(cells["model_label"]) if cells["model_label"] else None,
        probability,
    )


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def load_kit(folder: str | os.PathLike) -> Kit:
    """The kit's classes (manifest.json), questions (key.csv) and identity, checked."""
    folder = str(folder)
    manifest_path, manifest, classes = _read_manifest(folder)
    abbreviation_of = dict(classes)
    key_path = os.path.join(folder, KEY_FILE)
    table = read_table(key_path, "kit key", KEY_COLUMNS, MAX_KIT_BYTES, KitError)
    kit = Kit(folder, classes, [], identity=_check_identity(manifest_path, manifest, key_path))
    problems = Problems(key_path, KitError)
    seen: dict[tuple[str, str], int] = {}
    for row in table.rows:
        question = _question(row.cells, problems, row.number, manifest_path, abbreviation_of)
        if question is None:
            continue
        key = (question.review_id, question.code)
        if key in seen:
            problems.add(row.number, "class", f"review ID {key[0]} asks {key[1]} again (first on row {seen[key]})")
            continue
        seen[key] = row.number
        first = kit.items.setdefault(question.review_id, question)
        if (first.record, first.group, first.repeat_of) != (question.record, question.group, question.repeat_of):
            problems.add(
                row.number,
                "review_id",
                f"review ID {question.review_id} has another record, group or repeat_of than on its first row",
            )
        kit.questions.append(question)
    for q in kit.questions:
        original = kit.items.get(q.repeat_of) if q.repeat_of else None
        if q.repeat_of and (original is None or original.group == "repeat" or original.record != q.record):
            problems.add(
                seen[(q.review_id, q.code)],
                "repeat_of",
                f"{quote(q.repeat_of)} is not the review ID of a first showing of record {q.record}",
            )
    problems.raise_any()
    if not kit.questions:
        raise KitError(f"{key_path} lists no review items")
    return kit


# ---------------------------------------------------------------- the answers


@dataclass(frozen=True)
class ItemAnswer:
    """A reviewer's answers to one item besides the classes."""

    row: int  # as a spreadsheet numbers it
    quality: str | None  # G, A, U or None (not given)
    axis: float | None  # degrees; None when not given or "?"
    axis_indeterminate: bool  # answered "?"
    confidence: int | None
    comment: str


@dataclass
class Answers:
    reviewer: str  # the file's stem
    path: str
    cells: dict  # (review_id, code) -> 1, 0 or None (uncertain), asked classes only
    answered: set  # review IDs with a row holding an answer
    items: dict = field(default_factory=dict)  # review_id -> ItemAnswer (answered rows)
    missing: list = field(default_factory=list)  # review IDs without a row
    unanswered: list = field(default_factory=list)  # review IDs whose row holds no answer

    def uninterpretable(self, review_id: str) -> bool:
        item = self.items.get(review_id)
        return item is not None and item.quality == "U"


def _quality(text: str) -> str | None:
    text = text.strip().upper()
    if text in QUALITY:
        return text
    return next((k for k, word in QUALITY.items() if word.upper() == text), None)


def _axis(text: str) -> tuple[float | None, bool, bool]:
    """(degrees or None, indeterminate, acceptable) of an axis_degrees cell: a number from -180
    to 180 (a unicode minus and a degree sign allowed), ? or empty."""
    text = text.replace("\u2212", "-").replace("\u00b0", "").strip()
    if text in ("", "?"):
        return None, text == "?", True
    value = _number(text)
    if value is None or not AXIS_RANGE[0] <= value <= AXIS_RANGE[1]:
        return None, False, False
    return value + 0.0, False, True


def _confidence(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) in CONFIDENCE else None


def _check_header(table: Table, problems: Problems, class_of: dict, identity: str | None) -> None:
    known = (KIT_COLUMN, "review_id", *class_of, *FORM_EXTRA)
    for j, name in enumerate(table.header, 1):
        if name and name not in known:
            problems.add(1, f"{j} ({name})", f"not a column of the answer form ({', '.join(known)})")
    if "" in table.header and any(row.cells.get("") for row in table.rows):
        problems.add(1, None, "a column without a name holds answers")
    if identity is None and KIT_COLUMN in table.header:
        problems.add(1, KIT_COLUMN, "this kit was made without an identity: these answers are of another kit")


def _check_kit_id(table: Table, problems: Problems, kit: Kit) -> None:
    """Every row carries the kit's identity; a file of another kit is refused in one line."""
    if kit.identity is None:
        return
    found = {row.cells[KIT_COLUMN] for row in table.rows}
    if len(found) == 1 and found != {kit.identity} and found != {""}:
        raise AnswersError(
            f"{table.path}: these answers are of kit {quote(found.pop())}, but {kit.folder} is kit {kit.identity}; "
            "give the answers filled in on this kit's answer form"
        )
    for row in table.rows:
        value = row.cells[KIT_COLUMN]
        if value != kit.identity:
            problems.add(
                row.number,
                KIT_COLUMN,
                f"{quote(value)} is not this kit's identity {kit.identity}"
                + (" (copy it from the other rows)" if not value else ": the row comes from another kit's form"),
            )


def _row(row: Row, problems: Problems, class_of: dict, asked: set, blank_as_uncertain: bool) -> tuple:
    """(cells of the asked classes, any class answered, ItemAnswer) of one row, problems added."""
    review_id = row["review_id"]
    cells, any_answer, blank = {}, False, []
    for abbreviation, code in class_of.items():
        value = row[abbreviation]
        if value not in ANSWER_VALUES and value != "":
            problems.value(row.number, abbreviation, value, "1 present, 0 absent, ? uncertain")
            continue
        any_answer |= value != ""
        if (review_id, code) in asked:
            if value == "":
                blank.append(abbreviation)
            cells[(review_id, code)] = ANSWER_VALUES.get(value)
    quality = _quality(row.cells.get("quality", ""))
    if row.cells.get("quality", "") and quality is None:
        problems.value(row.number, "quality", row["quality"], "G good, A acceptable, U uninterpretable, or empty")
    axis, indeterminate, acceptable = _axis(row.cells.get("axis_degrees", ""))
    if not acceptable:
        problems.value(row.number, "axis_degrees", row["axis_degrees"], "degrees from -180 to 180, ? or empty")
    confidence = _confidence(row.cells.get("confidence", ""))
    if row.cells.get("confidence", "") and confidence is None:
        problems.value(row.number, "confidence", row["confidence"], "a whole number from 1 to 5, or empty")
    answered = any_answer or quality == "U"
    if answered and blank and quality != "U" and not blank_as_uncertain:
        for abbreviation in blank:
            problems.add(
                row.number, abbreviation, "the answer is blank; write 1, 0 or ? (or pass --blank-as-uncertain)"
            )
    item = ItemAnswer(row.number, quality, axis, indeterminate, confidence, row.cells.get("comment", ""))
    return cells, answered, item


def read_answers(path: str | os.PathLike, kit: Kit, blank_as_uncertain: bool = False) -> Answers:
    """A reviewer's answers (their filled answer_form.csv), every cell checked; every problem
    of the file in one AnswersError."""
    path = str(path)
    class_of = {abbreviation: code for code, abbreviation in kit.classes}
    required = ((KIT_COLUMN,) if kit.identity else ()) + ("review_id", *class_of)
    table = read_table(path, "answers file", required, MAX_ANSWERS_BYTES, AnswersError)
    problems = Problems(path, AnswersError)
    _check_header(table, problems, class_of, kit.identity)
    _check_kit_id(table, problems, kit)
    asked = kit.asked()
    answers = Answers(os.path.splitext(os.path.basename(path))[0], path, {}, set())
    first_row: dict[str, int] = {}
    for row in table.rows:
        review_id = row["review_id"]
        if not review_id:
            problems.add(row.number, "review_id", "the review ID is empty")
            continue
        if review_id not in kit.items:
            problems.add(
                row.number, "review_id", f"review ID {quote(review_id)} is not in {os.path.join(kit.folder, KEY_FILE)}"
            )
            continue
        if review_id in first_row:
            problems.add(row.number, "review_id", f"review ID {review_id} is also on row {first_row[review_id]}")
            continue
        first_row[review_id] = row.number
        cells, answered, item = _row(row, problems, class_of, asked, blank_as_uncertain)
        if answered:
            answers.answered.add(review_id)
            answers.items[review_id] = item
            answers.cells.update(cells)
        else:
            answers.unanswered.append(review_id)
    problems.raise_any()
    answers.missing = [r for r in kit.items if r not in first_row]
    return answers


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown + (f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")


def incompleteness(answers: list[Answers]) -> list[str]:
    """One line per incomplete answers file: its missing and unanswered review IDs."""
    lines = []
    for a in answers:
        parts = []
        if a.missing:
            parts.append(f"{len(a.missing)} review IDs have no row ({_ids(a.missing)})")
        if a.unanswered:
            parts.append(f"{len(a.unanswered)} rows hold no answer ({_ids(a.unanswered)})")
        if parts:
            lines.append(f"{a.path}: " + "; ".join(parts))
    return lines


def read_all_answers(
    paths: list, kit: Kit, blank_as_uncertain: bool = False, allow_incomplete: bool = False
) -> list[Answers]:
    """Every reviewer's answers; IncompleteAnswers when any file misses items or leaves rows
    unanswered, unless `allow_incomplete`."""
    answers = [read_answers(p, kit, blank_as_uncertain) for p in paths]
    names = [a.reviewer for a in answers]
    for a in answers:
        if names.count(a.reviewer) > 1:
            raise AnswersError(
                f"{a.path}: another answers file is also named {a.reviewer!r}; the file's name names the reviewer"
            )
        if "~" in a.reviewer:
            raise AnswersError(f"{a.path}: a reviewer's name (the file's name) must not hold '~'")
    lines = incompleteness(answers)
    if lines and not allow_incomplete:
        raise IncompleteAnswers(
            "incomplete answers (pass --allow-incomplete to use them as they are):\n  " + "\n  ".join(lines)
        )
    return answers

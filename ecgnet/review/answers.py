"""Reading and checking the files `ecgnet agreement` and `ecgnet relabel` take: the review kit
(manifest.json and key.csv, as `ecgnet review-kit` wrote them) and the reviewers' filled answer
forms. Every problem is a KitError or AnswersError naming the file, row and column (rows
numbered as a spreadsheet shows them, the header being row 1)."""

import csv
import io
import json
import os
from dataclasses import dataclass, field

from ..csvfiles import MAX_CSV_BYTES
from ..errors import EcgnetError, InputFileError
from ..files import read_text
from .formats import FORM_EXTRA as FREE_COLUMNS  # the form's free-text columns, after the classes
from .formats import KEY_COLUMNS, KEY_FILE, MANIFEST_FILE

GROUPS = ("suspect", "control")  # "repeat" items only measure self-consistency
ANSWER_VALUES = {"1": 1, "0": 0, "?": None}


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
    try:  # a regular file within the size limit: never a pipe or device that blocks or never ends
        return list(csv.reader(io.StringIO(read_text(path, "CSV file", MAX_CSV_BYTES), newline="")))
    except InputFileError as e:
        raise error(str(e)) from None
    except csv.Error as e:
        raise error(f"{path}: not a readable CSV file ({e})") from None


def _read_manifest(folder):
    """(manifest path, [(code, abbreviation)]) of the kit's manifest.json, checked."""
    manifest_path = os.path.join(folder, MANIFEST_FILE)
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
    return manifest_path, classes


def _read_key(key_path):
    """(header, rows after the header) of key.csv, the header checked."""
    rows = _read_csv(key_path, KitError)
    if not rows:
        raise KitError(f"{key_path} is empty")
    header = [c.strip() for c in rows[0]]
    missing = [c for c in KEY_COLUMNS if c not in header]
    if missing:
        raise KitError(f"{key_path} row 1: missing column(s) {', '.join(missing)}")
    return header, rows[1:]


def _question(cell, bad, manifest_path, abbreviation_of):
    """The `Question` of one key.csv row's cells ({column: stripped text}), every cell checked;
    `bad(column, problem)` makes the error."""
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
    return Question(
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


def _check_repeats(kit, key_path, seen):
    """Every repeat names the review ID of a first showing of its own record."""
    for q in kit.questions:
        original = kit.items.get(q.repeat_of) if q.repeat_of else None
        if q.repeat_of and (original is None or original.group == "repeat" or original.record != q.record):
            raise KitError(
                f"{key_path} row {seen[(q.review_id, q.code)]}, column repeat_of: {q.repeat_of!r} is not "
                f"the review ID of a first showing of record {q.record}"
            )


def load_kit(folder):
    """The kit's classes (manifest.json) and questions (key.csv), checked."""
    folder = str(folder)
    manifest_path, classes = _read_manifest(folder)
    abbreviation_of = dict(classes)
    key_path = os.path.join(folder, KEY_FILE)
    header, rows = _read_key(key_path)
    at = {c: header.index(c) for c in KEY_COLUMNS}
    kit = Kit(folder, classes, [])
    seen = {}
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise KitError(f"{key_path} row {number}: {len(row)} columns, expected {len(header)}")

        def bad(column, problem, number=number):
            return KitError(f"{key_path} row {number}, column {column}: {problem}")

        question = _question({c: row[at[c]].strip() for c in KEY_COLUMNS}, bad, manifest_path, abbreviation_of)
        key = (question.review_id, question.code)
        if key in seen:
            raise bad("class", f"review ID {key[0]} asks {key[1]} again (first on row {seen[key]})")
        seen[key] = number
        first = kit.items.setdefault(question.review_id, question)
        if (first.record, first.group, first.repeat_of) != (question.record, question.group, question.repeat_of):
            raise bad(
                "review_id",
                f"review ID {question.review_id} has another record, group or repeat_of than on its first row",
            )
        kit.questions.append(question)
    if not kit.questions:
        raise KitError(f"{key_path} lists no review items")
    _check_repeats(kit, key_path, seen)
    return kit


def _check_answer_header(path, header, body, class_of):
    """Every named column is one of the form's, once; the review ID and class columns are there."""
    known = ("review_id", *class_of, *FREE_COLUMNS)
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


def _answer_cells(path, number, row, header, review_id, class_of, asked, blank_as_uncertain):
    """{(review_id, code): 1, 0 or None} of one answers row's asked classes, every cell checked."""
    cells = {}
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
                f"{path} row {number}, column {abbreviation}: {value!r} is not 1 (present), 0 (absent) or ? (uncertain)"
            )
        if (review_id, code) in asked:
            cells[(review_id, code)] = ANSWER_VALUES[value]
    return cells


def _review_id(path, number, row, header, kit, first_row):
    """The review ID of one answers row, checked: known to the kit and on no earlier row."""
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
    return review_id


def read_answers(path, kit, blank_as_uncertain=False):
    """A reviewer's answers (their filled answer_form.csv), every cell checked."""
    path = str(path)
    rows = _read_csv(path, AnswersError)
    if not rows:
        raise AnswersError(f"{path} is empty")
    header = [c.strip() for c in rows[0]]
    class_of = {abbreviation: code for code, abbreviation in kit.classes}
    body = [row for row in rows[1:]]
    _check_answer_header(path, header, body, class_of)
    asked = kit.asked()
    answers = Answers(os.path.splitext(os.path.basename(path))[0], path, {}, set())
    first_row = {}
    for number, row in enumerate(body, start=2):
        if not any(cell.strip() for cell in row):
            continue
        row = row + [""] * (len(header) - len(row))
        review_id = _review_id(path, number, row, header, kit, first_row)
        first_row[review_id] = number
        answers.answered.add(review_id)
        answers.cells.update(_answer_cells(path, number, row, header, review_id, class_of, asked, blank_as_uncertain))
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

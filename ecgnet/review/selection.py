"""Choosing the review kit's items: the suspects (from the audit or a list), the controls, the
unannounced repeats and the blinded showing order with its review IDs, all drawn from one seed.
Records that cannot be read are passed over, each with its reason.

Repeats are meant to go unrecognised: they are drawn first among records whose sheet line of
age and sex (`blinding.demographics_text`) is shared with another record of the kit, and the
second showing lies at least a quarter of the kit away from the first."""

import sys
from dataclasses import dataclass, field

import numpy as np

from .. import labels as label_space
from ..errors import RecordError, describe, first_line
from ..folders import name_problem
from ..headers import load_header
from .blinding import demographics_text
from .kit_inputs import ReviewKitError, audit_model_outputs, read_audit, read_names, unknown_records
from .signals import Drawn, sheet_signal

DEFAULT_N = 100  # suspects taken from an audit, as in the method's paper


@dataclass
class Record:
    """A record of DATA: its files, header, and per class (all 24, code -> value) the given
    label and the model's (label, probability), each None when unknown."""

    name: str
    files: object
    header: object
    given: dict
    model: dict = field(default_factory=dict)  # class -> (label or None, probability or None)
    group: str = "suspect"
    drawn: Drawn | None = None  # `sheet_signal`: read when the record is chosen


def read_header(files):
    """The header of `files` (a `folders.RecordFiles`); any failure is a RecordError."""
    problem = files.problem or name_problem(files.name) or (None if files.header else "header file is missing")
    if problem:
        raise RecordError(files.header_path, problem)
    try:
        return load_header(files.header)
    except RecordError:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged file fails its record only
        raise RecordError(files.header_path, f"reading it failed ({type(e).__name__}: {first_line(e)})") from e


def load_record(name, folder_records, outputs):
    """The `Record` of DATA named `name` (header only), or a RecordError saying why not."""
    if name not in folder_records:
        raise RecordError(name, "is not a record of DATA")
    files = folder_records[name]
    header = read_header(files)
    given = label_space.encode(header.dx)
    known = outputs.get(name, {})
    return Record(
        name,
        files,
        header,
        {c: int(given[k]) for k, c in enumerate(label_space.CLASSES)},
        {c: known.get(c, (None, None)) for c in label_space.CLASSES},
    )


def agrees(record, classes):
    """Model and label agree on every asked class (an unknown model label never agrees)."""
    return all(record.model[c][0] == record.given[c] for c in classes)


@dataclass
class Reader:
    """Reads DATA's records for the kit, remembering those passed over and why."""

    folder_records: dict
    outputs: dict
    windows: int = 1  # 10 s windows drawn per record at most
    skipped: list = field(default_factory=list)

    def header(self, name):
        try:
            return load_record(name, self.folder_records, self.outputs)
        except RecordError as e:
            self.skip(name, e)

    def draw(self, record):
        """Read the signal now, so that an unreadable record is passed over before the order is drawn."""
        try:
            record.drawn = sheet_signal(record, self.windows)
            return True
        except RecordError as e:
            self.skip(record.name, e)
            return False

    def first(self, names, count):
        """The first `count` records of `names` that can be drawn."""
        chosen: list[str] = []
        for name in names:
            if len(chosen) == count:
                break
            record = self.header(name)
            if record is not None and self.draw(record):
                chosen.append(record)
        return chosen

    def skip(self, name, error):
        self.skipped.append({"record": name, "reason": describe(error)})
        print(f"skipped {name}: {describe(error)}", file=sys.stderr)


def choose_suspects(options, reader):
    """(asked classes, suspects, every record named by the audit or the list)."""
    if options.records:
        names = read_names(options.records)
        unknown = [name for name in names if name not in reader.folder_records]
        if unknown:
            raise ReviewKitError(f"{options.records}: {len(unknown)} records are not in DATA, e.g. {unknown[0]!r}")
        return options.classes, reader.first(names, options.n or len(names)), set(names)
    rows = read_audit(options.audit, options.classes)
    unknown_records(options.audit, rows, reader.folder_records)
    for name, by_class in audit_model_outputs(rows).items():  # the audit's numbers win
        reader.outputs[name] = {**reader.outputs.get(name, {}), **by_class}
    names = list(dict.fromkeys(r["record"] for r in rows))
    suspects = reader.first(names, options.n or DEFAULT_N)
    chosen = {r.name for r in suspects}
    classes = options.classes or [
        c for c in label_space.CLASSES if any(r["class"] == c and r["record"] in chosen for r in rows)
    ]
    return classes, suspects, set(names)


def choose_controls(reader, classes, exclude, count, with_model, rng):
    """`count` controls from DATA outside `exclude`, in random order; with a model only records
    where it agrees with the label on every asked class. Half (as far as there are) have an
    asked class present, so that a reviewer meets agreed positives too, not only tracings
    without the findings asked about."""
    pool = [n for n in reader.folder_records if n not in exclude and (not with_model or n in reader.outputs)]
    wanted_positive = count - count // 2
    positive: list[str] = []
    negative: list[str] = []
    for index in rng.permutation(len(pool)):
        if len(positive) >= wanted_positive and len(negative) >= count - wanted_positive:
            break
        record = reader.header(pool[index])
        if record is None or (with_model and not agrees(record, classes)):
            continue
        bucket = positive if any(record.given[c] for c in classes) else negative
        if len(bucket) < count and reader.draw(record):  # a scarce kind is made up by the other
            record.group = "control"
            bucket.append(record)
    take_positive = min(len(positive), max(wanted_positive, count - len(negative)))
    controls = positive[:take_positive] + negative[: count - take_positive]
    if len(controls) < count:
        print(f"only {len(controls)} of {count} controls found", file=sys.stderr)
    return controls


def choose_repeats(unique: list, count: int, line, rng: np.random.Generator) -> tuple[list[int], int]:
    """Indices of `count` records of `unique` to show twice: first those whose sheet line
    (`line(record)`: age and sex as shown) another record of the kit shares, so that the line does
    not give a repeat away; others only when too few share theirs. Returns (indices, how many
    of them have a line of their own)."""
    lines = [line(record) for record in unique]
    shared = [i for i in rng.permutation(len(unique)).tolist() if lines.count(lines[i]) > 1]
    alone = [i for i in rng.permutation(len(unique)).tolist() if lines.count(lines[i]) == 1]
    chosen = (shared + alone)[:count]
    return sorted(chosen), sum(lines.count(lines[i]) == 1 for i in chosen)


def order_items(unique: list, repeated: list[int], rng: np.random.Generator) -> list[tuple]:
    """Records in showing order: each of `unique` once in random order, then each of
    `repeated` (indices) shown a second time at a random place at least a quarter of the kit
    (and never the next page) away from its other showing, as far as the kit's size allows.
    Returns [(record, index in the order of its first showing or None)]."""
    sequence = rng.permutation(len(unique)).tolist()
    gap = max(2, (len(unique) + len(repeated)) // 4)
    for index in rng.permutation(len(repeated)).tolist():
        record = repeated[index]
        first = sequence.index(record)
        # inserting at p puts the second showing p - first (after) or first + 1 - p (before) away
        distance = [p - first if p > first else first + 1 - p for p in range(len(sequence) + 1)]
        far = [p for p, d in enumerate(distance) if d >= gap]
        place = int(rng.choice(far)) if far else int(np.argmax(distance))
        sequence.insert(place, record)
    first, items = {}, []
    for position, index in enumerate(sequence):
        items.append((unique[index], first.get(index)))
        first.setdefault(index, position)
    return items


def review_ids(count):
    width = max(3, len(str(count)))
    return [f"R-{i:0{width}d}" for i in range(1, count + 1)]


def choose_items(options, reader):
    """(asked classes, distinct records, items, repeats with a sheet line of their own): items
    are (review ID, record, group, review ID of the first showing or None) in showing order;
    suspects, controls, repeats and order are drawn from `options.seed`."""
    rng = np.random.default_rng(options.seed)
    classes, suspects, named = choose_suspects(options, reader)
    if not suspects:
        raise ReviewKitError("none of the records to review can be read")
    control_count = round(len(suspects) * options.controls / (1 - options.controls))
    controls = choose_controls(reader, classes, named, control_count, bool(options.model), rng)
    unique = suspects + controls

    def line(record):
        header = record.header
        return demographics_text(header.age, header.sex, options.show_demographics, options.age_band)

    repeated, alone = choose_repeats(unique, round(options.repeats * len(unique)), line, rng)
    ordered = order_items(unique, repeated, rng)
    ids = review_ids(len(ordered))
    items = [
        (ids[i], record, "repeat" if first is not None else record.group, ids[first] if first is not None else None)
        for i, (record, first) in enumerate(ordered)
    ]
    return classes, unique, items, alone

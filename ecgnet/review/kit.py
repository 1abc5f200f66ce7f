"""A blinded clinician review kit: ECG sheets to read, an answer form, and a key kept apart.

    ecgnet review-kit DATA OUT --from AUDIT/label_issues.csv [--classes CODE,...] [--n N]
    ecgnet review-kit DATA OUT --records FILE --classes CODE,...
        [--model MODEL] [--controls 0.25] [--repeats 0.1] [--seed S] [--paper a4|letter]
        [--no-show-demographics]

OUT (new or empty) receives, for the reviewers,
    packet.pdf          one page per review item: a 12-lead sheet under a neutral review ID
    sheets/R-001.png    the same pages as pictures
    answer_form.csv     one row per review ID, one column per asked class (abbreviation), then
                        quality, axis_degrees, confidence, comment; answer_form.pdf to print
and, for the coordinator only (never hand these to a reviewer),
    key.csv             review ID -> record, group, given and model labels (one row per class)
    manifest.json       seed, classes, counts, window, gain and paper choices, versions,
                        SHA-256 of key.csv

Items: the suspects (the top N records of the audit by rank, or the records listed), controls
(records where model and label agree on every asked class: `--controls` is their share of the
distinct records), and unannounced repeats (`--repeats` is the share of distinct records shown
a second time, never on the next page), all in an order drawn from `--seed`. The same inputs
and seed give byte-identical key.csv, answer_form.csv and PDFs.

Choices stated on every sheet and in the manifest: the first 10 s of a longer record (a shorter
record is drawn whole, the rest blank); a 0.67 Hz zero-phase high-pass against baseline wander.
Choice stated in the manifest only (a sheet note would hint at the source): headers whose every
lead states 4880/mV (Georgia, first release) or 200/mV (PTB-XL, first release) are drawn at
1000/mV, the gain the later releases give for the same samples; drawn as stated they look 4.9x
too small or 5x too large.
"""

import argparse
import csv
import hashlib
import io
import json
import os
import platform
import sys
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .. import __version__
from .. import labels as label_space
from ..errors import EcgnetError, RecordError, describe, first_line
from ..folders import list_records, name_problem
from ..headers import load_header
from ..matfiles import load_signal
from ..preprocess import order_leads
from ..thresholds import apply_thresholds
from .formats import FORM_EXTRA, FORM_FILE, KEY_COLUMNS, KEY_FILE, MANIFEST_FILE

WINDOW_SECONDS = 10.0
DEFAULT_N = 100  # suspects taken from an audit, as in the method's paper
FILTER_PAD_SECONDS = 5.0  # filtered past the window so its end has no filter transient
MISSTATED_GAINS = {4880.0: 1000.0, 200.0: 1000.0}  # stated gain -> gain of the same samples
GROUPS = ("suspect", "control", "repeat")


class ReviewKitError(EcgnetError):
    """Inputs a review kit cannot be built from; the message says which and why."""


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
    drawn: tuple | None = None  # `sheet_signal`: read when the record is chosen


# ------------------------------------------------------------------ inputs


def parse_classes(text):
    """Canonical codes, in `CLASSES` order, of `--classes` (codes or abbreviations)."""
    by_abbreviation = {a.lower(): c for c, a in zip(label_space.CLASSES, label_space.ABBREVIATIONS)}
    codes = set()
    for item in filter(None, (t.strip() for t in text.split(","))):
        code = by_abbreviation.get(item.lower(), label_space.canonical_code(item))
        if code not in label_space.CLASS_INDEX:
            raise ReviewKitError(f"--classes: {item!r} is not one of the {label_space.NUM_CLASSES} scored classes")
        codes.add(code)
    if not codes:
        raise ReviewKitError("--classes names no class")
    return [c for c in label_space.CLASSES if c in codes]


def read_csv(path, required):
    """Rows of a CSV file as dictionaries, after checking that it has the `required` columns."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or ())]
        if missing:
            raise ReviewKitError(f"{path}: row 1 has no column {', '.join(missing)}")
        return list(reader)


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def read_audit(path, classes):
    """Rows of the audit's label_issues.csv (for `classes` only, when given), by rank."""
    rows = read_csv(path, ("record", "class", "given_label", "oof_probability", "threshold", "issue", "rank"))
    for row in rows:
        row["class"] = label_space.canonical_code(row["class"].strip())
        if _number(row["rank"]) is None:
            raise ReviewKitError(f"{path}: rank {row['rank']!r} of record {row['record']!r} is not a number")
    rows = [r for r in rows if r["class"] in label_space.CLASS_INDEX and (not classes or r["class"] in classes)]
    return sorted(rows, key=lambda r: (_number(r["rank"]), r["record"], r["class"]))


def audit_model_outputs(rows):
    """{record: {class: (label, probability)}} from audit rows: the label is probability >=
    threshold, or, without both, what the issue says the model thinks."""
    outputs = {}
    for row in rows:
        probability, threshold = _number(row["oof_probability"]), _number(row["threshold"])
        if probability is not None and threshold is not None:
            label = int(probability >= threshold)
        else:
            label = {"spurious": 0, "missing": 1}.get(row["issue"].strip())
        outputs.setdefault(row["record"], {})[row["class"]] = (label, probability)
    return outputs


def model_outputs(folder):
    """{record: {class: (label, probability)}} from a MODEL folder's out-of-fold probabilities
    and model.json thresholds (labels as the model gives them: threshold or most probable)."""
    from .. import modelstore  # imports torch: only when a model is given

    thresholds = modelstore.read_manifest(folder).get("thresholds")
    if (
        not isinstance(thresholds, list)
        or len(thresholds) != label_space.NUM_CLASSES
        or any(_number(t) is None or not 0 <= t <= 1 for t in thresholds)
    ):
        raise ReviewKitError(f"{folder}/model.json: thresholds must be {label_space.NUM_CLASSES} numbers from 0 to 1")
    path = os.path.join(folder, "oof_probabilities.csv")
    rows = read_csv(path, ("record",) + label_space.CLASSES)
    probabilities = {}
    for row in rows:
        values = [_number(row[c]) for c in label_space.CLASSES]
        if None in values or not all(0 <= v <= 1 for v in values):
            raise ReviewKitError(f"{path}: the probabilities of record {row['record']!r} are not all from 0 to 1")
        probabilities.setdefault(row["record"], values)
    if not probabilities:
        return {}
    labels = apply_thresholds(np.array(list(probabilities.values())), thresholds)
    return {
        name: {c: (int(labels[i, k]), values[k]) for k, c in enumerate(label_space.CLASSES)}
        for i, (name, values) in enumerate(probabilities.items())
    }


def read_names(path):
    """Record names of a `--records` file: one a line; blank lines and `#` comments skipped."""
    with open(path) as f:
        names = [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    if not names:
        raise ReviewKitError(f"{path}: lists no record")
    return list(dict.fromkeys(names))


# ------------------------------------------------------------------ selection


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
    skipped: list = field(default_factory=list)

    def header(self, name):
        try:
            return load_record(name, self.folder_records, self.outputs)
        except RecordError as e:
            self.skip(name, e)

    def draw(self, record):
        """Read the signal now, so that an unreadable record is passed over before the order is drawn."""
        try:
            record.drawn = sheet_signal(record)
            return True
        except RecordError as e:
            self.skip(record.name, e)
            return False

    def first(self, names, count):
        """The first `count` records of `names` that can be drawn."""
        chosen = []
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
    positive, negative = [], []
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


def order_items(unique, repeat_count, rng):
    """Records in showing order: each of `unique` once, `repeat_count` of them twice, never on
    consecutive pages when avoidable. Returns [(record, index of its first showing or None)]."""
    repeated = sorted(rng.choice(len(unique), size=repeat_count, replace=False).tolist()) if repeat_count else []
    showings = list(range(len(unique))) + repeated
    for _ in range(100):
        order = rng.permutation(len(showings)).tolist()
        sequence = [showings[i] for i in order]
        if all(a != b for a, b in zip(sequence, sequence[1:])):
            break
    first, items = {}, []
    for position, index in enumerate(sequence):
        items.append((unique[index], first.get(index)))
        first.setdefault(index, position)
    return items


# ------------------------------------------------------------------ signals


def gain_correction(header):
    """(factor to multiply the stated-gain millivolts by, note) for a known misstated gain."""
    gains = {lead.gain for lead in header.leads}
    if len(gains) == 1 and gains <= MISSTATED_GAINS.keys():
        stated = gains.pop()
        return stated / MISSTATED_GAINS[stated], f"stated {stated:g}/mV drawn as {MISSTATED_GAINS[stated]:g}/mV"
    return 1.0, None


def high_pass(signal, rate):
    """Zero-phase 0.67 Hz high-pass: removes baseline wander without shifting ST segments."""
    from scipy import signal as sps

    from .sheet import HIGH_PASS_HZ

    if signal.shape[1] <= 15:  # too short for the filter's padding: draw as recorded
        return signal
    sos = sps.butter(2, HIGH_PASS_HZ, btype="highpass", fs=rate, output="sos")
    return sps.sosfiltfilt(sos, signal, axis=1)


def seconds_text(value):
    return f"{value:.1f}".rstrip("0").rstrip(".")


def window_text(seconds):
    if seconds > WINDOW_SECONDS + 1e-6:
        return f"first {seconds_text(WINDOW_SECONDS)} s of {seconds_text(seconds)} s"
    if seconds < WINDOW_SECONDS - 1e-6:
        return f"whole record, {seconds_text(seconds)} s (the rest of the {seconds_text(WINDOW_SECONDS)} s is blank)"
    return f"whole record, {seconds_text(seconds)} s"


def sheet_signal(record):
    """(12 x n millivolts in LEADS order: the window and its last sample, missing leads,
    window text, gain note) of a record."""
    header = record.header
    try:
        signal = load_signal(header, record.files.mat_path).astype(np.float64)
    except RecordError:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged file fails its record only
        raise RecordError(record.files.mat_path, f"reading it failed ({type(e).__name__}: {first_line(e)})") from e
    factor, note = gain_correction(header)
    rate, total = header.sample_rate, signal.shape[1]
    keep = min(total, int(round((WINDOW_SECONDS + FILTER_PAD_SECONDS) * rate)))
    signal, missing = order_leads(signal[:, :keep] * factor, header.lead_names, header.path)
    drawn = high_pass(signal, rate)[:, : int(round(WINDOW_SECONDS * rate)) + 1]
    return drawn, missing, window_text(total / rate), note


# ------------------------------------------------------------------ files


def review_ids(count):
    width = max(3, len(str(count)))
    return [f"R-{i:0{width}d}" for i in range(1, count + 1)]


def csv_text(header, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def key_rows(items, classes):
    rows = []
    for review_id, record, group, repeat_of in items:
        for code in classes:
            label, probability = record.model[code]
            rows.append(
                (
                    review_id,
                    record.name,
                    group,
                    repeat_of or "",
                    code,
                    label_space.ABBREVIATIONS[label_space.CLASS_INDEX[code]],
                    record.given[code],
                    "" if label is None else label,
                    "" if probability is None else f"{probability:.6f}",
                )
            )
    return rows


def form_columns(classes):
    return ("review_id",) + tuple(label_space.ABBREVIATIONS[label_space.CLASS_INDEX[c]] for c in classes) + FORM_EXTRA


def class_names():
    """{code: name} from the official mapping (the class's own name for merged pairs)."""
    with resources.files("ecgnet").joinpath("data", "dx_mapping_scored.csv").open() as f:
        return {row["SNOMED CT Code"].strip(): row["Dx"].strip() for row in csv.DictReader(f)}


def versions():
    import matplotlib
    import scipy

    return {
        "ecgnet": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "matplotlib": matplotlib.__version__,
    }


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ------------------------------------------------------------------ the kit


@dataclass
class Options:
    data: str
    out: str
    audit: str | None = None
    records: str | None = None
    classes: list | None = None
    n: int | None = None
    model: str | None = None
    controls: float = 0.25
    repeats: float = 0.1
    seed: int = 0
    paper: str = "a4"
    show_demographics: bool = True


def build(options):
    """Write the kit into `options.out`; returns the manifest."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_pdf import PdfPages

    from . import sheet

    if not 0 <= options.controls < 1 or not 0 <= options.repeats <= 1:
        raise ReviewKitError("--controls must be from 0 to below 1 and --repeats from 0 to 1 (shares of the records)")
    reader = Reader(
        {r.name: r for r in list_records(options.data)}, model_outputs(options.model) if options.model else {}
    )
    if os.path.exists(options.out) and (not os.path.isdir(options.out) or os.listdir(options.out)):
        raise ReviewKitError(
            f"{options.out}: OUT must be a new or empty folder (a kit is never written over another's key)"
        )
    rng = np.random.default_rng(options.seed)
    classes, suspects, named = choose_suspects(options, reader)
    if not suspects:
        raise ReviewKitError("none of the records to review can be read")
    control_count = round(len(suspects) * options.controls / (1 - options.controls))
    controls = choose_controls(reader, classes, named, control_count, bool(options.model), rng)
    unique = suspects + controls
    os.makedirs(os.path.join(options.out, "sheets"), exist_ok=True)
    ordered = order_items(unique, round(options.repeats * len(unique)), rng)
    ids = review_ids(len(ordered))
    items = [
        (ids[i], record, "repeat" if first is not None else record.group, ids[first] if first is not None else None)
        for i, (record, first) in enumerate(ordered)
    ]

    # Text as TrueType so that the packet's text can be extracted and checked for leaks; every
    # sample drawn (no path simplification); no creation date, so the same kit gives the same bytes.
    with rc_context({"pdf.fonttype": 42, "path.simplify": False}):
        with PdfPages(
            os.path.join(options.out, "packet.pdf"),
            metadata={"Title": "ECG review packet", "Creator": None, "Producer": None, "CreationDate": None},
        ) as pdf:
            for review_id, record, _, _ in items:
                drawn, missing, window, _ = record.drawn
                fig = sheet.draw_sheet(
                    sheet.SheetItem(
                        review_id,
                        drawn,
                        record.header.sample_rate,
                        missing,
                        record.header.age,
                        record.header.sex,
                        options.show_demographics,
                        window,
                    ),
                    options.paper,
                )
                pdf.savefig(fig)
                fig.savefig(
                    os.path.join(options.out, "sheets", f"{review_id}.png"),
                    dpi=sheet.PNG_DPI,
                    metadata={"Software": None},
                )
        write_form_pdf(os.path.join(options.out, "answer_form.pdf"), ids, classes, options.paper)

    write(
        os.path.join(options.out, FORM_FILE),
        csv_text(form_columns(classes), [(i,) + ("",) * (len(classes) + len(FORM_EXTRA)) for i in ids]),
    )
    key = os.path.join(options.out, KEY_FILE)
    write(key, csv_text(KEY_COLUMNS, key_rows(items, classes)))
    manifest = make_manifest(options, classes, items, unique, reader.skipped, sha256_of(key))
    write(os.path.join(options.out, MANIFEST_FILE), json.dumps(manifest, indent=2) + "\n")
    return manifest


def write(path, text):
    with open(path, "w", newline="") as f:
        f.write(text)


def make_manifest(options, classes, items, unique, skipped, key_sha256):
    from .sheet import HIGH_PASS_HZ, PAPERS

    corrected = [{"record": r.name, "correction": r.drawn[3]} for r in unique if r.drawn[3]]
    windows = sorted({r.drawn[2] for r in unique})
    return {
        "seed": options.seed,
        "classes": [
            {"code": c, "abbreviation": label_space.ABBREVIATIONS[label_space.CLASS_INDEX[c]]} for c in classes
        ],
        "items": len(items),
        "groups": {g: sum(1 for item in items if item[2] == g) for g in GROUPS},
        "window": {
            "seconds": WINDOW_SECONDS,
            "rule": "the first 10 s of a longer record; a shorter record whole, the rest blank; stated on each sheet",
            "shown": windows,
        },
        "gain": {
            "rule": "each lead's stated gain and baseline, except headers whose every lead states 4880/mV "
            "(Georgia first release) or 200/mV (PTB-XL first release): drawn at 1000/mV, as later releases "
            "state for the same samples; not marked on the sheets",
            "corrected": corrected,
        },
        "paper": {
            "size": options.paper,
            "width_mm": PAPERS[options.paper][0],
            "height_mm": PAPERS[options.paper][1],
            "speed_mm_per_s": 25,
            "gain_mm_per_mv": 10,
            "layout": "3x4 of 2.5 s + 10 s lead II rhythm strip",
            "high_pass_hz": HIGH_PASS_HZ,
            "demographics_shown": options.show_demographics,
        },
        "source": {
            "audit": options.audit,
            "records": options.records,
            "sha256": sha256_of(options.audit or options.records),
        },
        "model": {"folder": options.model, "controls": "model and label agree on every asked class"}
        if options.model
        else {
            "folder": None,
            "controls": "records not among the suspects, not checked against a model "
            "(model fields of controls are empty)",
        },
        "skipped": skipped,
        "versions": versions(),
        "key_sha256": key_sha256,
    }


def write_form_pdf(path, ids, classes, paper):
    """The printable answer form: a page of instructions and class names, then a table."""
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(
        path, metadata={"Title": "ECG review answer form", "Creator": None, "Producer": None, "CreationDate": None}
    ) as pdf:
        pdf.savefig(form_instructions(classes, paper))
        per_page = 18
        for start in range(0, len(ids), per_page):
            pdf.savefig(form_table(ids[start : start + per_page], classes, paper))


def _page(paper):
    from matplotlib.figure import Figure

    from .sheet import MM_PER_INCH, PAPERS, mm_transform

    width, height = PAPERS[paper]
    fig = Figure(figsize=(width / MM_PER_INCH, height / MM_PER_INCH))
    return fig, mm_transform(fig), width, height


def form_instructions(classes, paper):
    fig, mm, width, height = _page(paper)
    names = class_names()
    lines = [
        ("ECG review answer form: instructions", 15, "bold"),
        ("", 10, "normal"),
        ("Reviewer: ______________________    Date: ______________", 11, "normal"),
        ("", 10, "normal"),
        ("For every review ID (one page of the packet each) and every column, write:", 11, "normal"),
        ("    1 = present     0 = absent     ? = uncertain", 11, "bold"),
        ("quality: good / acceptable / uninterpretable", 10, "normal"),
        ("axis_degrees: the frontal QRS axis in degrees, e.g. -45 (optional)", 10, "normal"),
        ("confidence: 1 (a guess) to 5 (certain), for the row as a whole;  comment: free text", 10, "normal"),
        ("Answer every column on every row: no column is more expected than another.", 10, "normal"),
        ("", 10, "normal"),
        ("Columns:", 11, "bold"),
    ]
    lines += [
        (f"    {label_space.ABBREVIATIONS[label_space.CLASS_INDEX[c]]}: {names.get(c, c)}", 10, "normal")
        for c in classes
    ]
    y = height - 20
    for text, size, weight in lines:
        fig.text(20, y, text, transform=mm, fontsize=size, fontweight=weight, va="top")
        y -= 6.5 if len(lines) < 30 else 4.5
    return fig


def form_table(ids, classes, paper):
    """Rows of review IDs, a box per class and per extra field; the comment takes the rest."""
    fig, mm, width, height = _page(paper)
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
    fig.text(left, height - 10, "Answers: 1 present, 0 absent, ? uncertain", transform=mm, fontsize=10)
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


# ------------------------------------------------------------------ command line


def parse_args(argv, prog=None):
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.strip().splitlines()[0],
        epilog="\n".join(__doc__.strip().splitlines()[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data", help="folder of the records (NAME.hea + NAME.mat)")
    parser.add_argument("out", help="new or empty folder for the kit")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="audit", metavar="LABEL_ISSUES_CSV", help="the audit's label_issues.csv")
    source.add_argument("--records", metavar="FILE", help="record names to review, one a line (needs --classes)")
    parser.add_argument(
        "--classes",
        help="classes to ask about: SNOMED CT codes or abbreviations, comma-separated "
        "(default with --from: the classes of the chosen audit rows)",
    )
    parser.add_argument(
        "--n", type=int, help="number of suspect records (default: 100 with --from, all with --records)"
    )
    parser.add_argument(
        "--model",
        metavar="MODEL",
        help="model folder whose out-of-fold probabilities and thresholds choose controls the model agrees on",
    )
    parser.add_argument(
        "--controls", type=float, default=0.25, help="share of the distinct records that are controls (default 0.25)"
    )
    parser.add_argument(
        "--repeats", type=float, default=0.1, help="share of the distinct records shown twice (default 0.1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the choice and order (default 0)")
    parser.add_argument("--paper", choices=("a4", "letter"), default="a4", help="page size, landscape (default a4)")
    parser.add_argument(
        "--show-demographics",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="print age and sex on the sheets (default: yes)",
    )
    args = parser.parse_args(argv)
    if args.records and not args.classes:
        parser.error("--records needs --classes")
    if args.n is not None and args.n < 1:
        parser.error("--n must be at least 1")
    return args


def main(argv=None, prog=None):
    """`ecgnet review-kit`: 0 when the kit is written, 1 on an error (named in one line)."""
    args = parse_args(sys.argv[1:] if argv is None else argv, prog)
    try:
        options = Options(
            args.data,
            args.out,
            args.audit,
            args.records,
            parse_classes(args.classes) if args.classes else None,
            args.n,
            args.model,
            args.controls,
            args.repeats,
            args.seed,
            args.paper,
            args.show_demographics,
        )
        manifest = build(options)
    except (EcgnetError, OSError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 1
    groups = manifest["groups"]
    print(
        f"wrote {manifest['items']} review items ({groups['suspect']} suspect, {groups['control']} control, "
        f"{groups['repeat']} repeat) to {args.out}: give reviewers packet.pdf and answer_form.csv/.pdf; "
        "keep key.csv and manifest.json apart"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

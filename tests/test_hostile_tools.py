"""Hostile inputs to the tools beside the driver (audit, review kit, agreement, relabel, report,
quantize, evaluate, synth, train's options): markup in every string a report reads, links
planted at output names, a refused relabel that replaced a good file, record names that run
as spreadsheet formulas, a full disk, out-of-range numbers in every numeric option, and the
smaller ones (pipes, encodings, rows longer than the header, unknown records).
Each test is one defect's recipe; it fails on the code before the fix."""

import contextlib
import copy
import errno
import json
import os
import shutil
import stat
import subprocess
import threading

import numpy as np
import pytest

from ecgnet import cli, modelstore, overrides, synthetic
from ecgnet import labels as label_space
from ecgnet.csvfiles import MAX_CSV_BYTES
from ecgnet.review.formats import ISSUE_COLUMNS

from helpers import TINY

pytest.importorskip("cleanlab")
pytest.importorskip("matplotlib")
pytest.importorskip("statsmodels")
from test_agreement import LAD, write_kit  # noqa: E402
from test_audit import _write_headers, _write_model  # noqa: E402

from ecgnet.cli import review as commands  # noqa: E402
from ecgnet.report import TestSet as Scores  # noqa: E402  (not named Test*: pytest would collect it)
from ecgnet.report import build, data, plots  # noqa: E402
from ecgnet.review import audit  # noqa: E402

# A record name that a spreadsheet would run (the usual payload without its space and slash,
# which a header's record line and a file name cannot hold).
FORMULA = "=cmd|'Ccalc'!A4"
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>"
K = label_space.NUM_CLASSES


def one_error_line(err):
    """The stderr of a refused command: exactly one line, `error: ...`, no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def leftovers(folder):
    """Temporary and empty files a failed write must not leave behind."""
    return sorted(
        name
        for name in os.listdir(folder)
        if name.endswith((".tmp", ".partial"))
        or (os.path.isfile(os.path.join(folder, name)) and not os.path.getsize(os.path.join(folder, name)))
    )


@pytest.fixture(scope="module")
def audit_case(tmp_path_factory):
    """A hand-made MODEL (out-of-fold probabilities that flag some labels) and DATA of 120
    records, the first named FORMULA; (model, data, names)."""
    root = tmp_path_factory.mktemp("hostile_audit")
    rng = np.random.default_rng(3)
    n = 120
    names = [FORMULA] + [f"{'A' if i % 2 else 'E'}{i:04d}" for i in range(1, n)]
    codes = [label_space.CLASS_INDEX[c] for c in ("426783006", "164889003", "270492004")]
    truth = np.zeros((n, K), dtype=int)
    for k, prevalence in zip(codes, (0.5, 0.3, 0.25)):
        truth[:, k] = rng.random(n) < prevalence
    probabilities = np.clip(np.where(truth == 1, 0.85, 0.08) + rng.normal(0, 0.05, truth.shape), 0.001, 0.999)
    given = truth.copy()
    given[0, codes[0]] = 1 - given[0, codes[0]]  # FORMULA's label contradicts its probability
    for i in rng.choice(np.arange(1, n), 8, replace=False):
        given[i, codes[1]] = 1 - given[i, codes[1]]
    _write_model(root / "model", names, np.arange(n) % 3 + 1, probabilities, np.full(K, 0.5))
    _write_headers(root / "data", names, given)
    return str(root / "model"), str(root / "data"), names


def issues_file(path, rows):
    """A label_issues.csv of (record, class) rows, ranked in order."""
    audit.write_issues(
        str(path),
        [
            dict(zip(ISSUE_COLUMNS, (record, "A", code, "", 1, "0.1", "0.5", "0.1", "spurious", rank)))
            for rank, (record, code) in enumerate(rows, start=1)
        ],
    )
    return str(path)


# ---------------------------------------------------------------------------------------------
# 1. Markup in any string the report reads lands in report.html
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scored_model(tiny_model, tmp_path_factory):
    """(model, training data, scores JSON of the model's outputs on its training records)."""
    model, data_folder = tiny_model
    root = tmp_path_factory.mktemp("scored")
    assert cli.drive([model, data_folder, str(root / "outputs")]) == 0
    assert cli.evaluate([data_folder, str(root / "outputs"), "--json", str(root / "scores.json")]) == 0
    return model, data_folder, str(root / "scores.json")


def planting_sites(document):
    """A path to every value and every key of a JSON document; of the items of a list only
    the first stands for the others (they are read alike)."""
    sites, seen = [], set()

    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                yield (*path, ("key", key))
                yield from walk(item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield from walk(item, (*path, i))
        else:
            yield path

    for path in walk(document, ()):
        place = tuple("[]" if isinstance(p, int) else p for p in path)
        if place not in seen:
            seen.add(place)
            sites.append(path)
    return sites


def planted(document, path, text=MARKUP):
    """A copy of `document` with `text` at `path` (a value, or a key: ("key", name))."""
    document = copy.deepcopy(document)
    *parents, last = path
    target = document
    for step in parents:
        target = target[step]
    if isinstance(last, tuple):
        target[text] = target.pop(last[1])
    else:
        target[last] = text
    return document


def assert_no_markup(text, where):
    assert "<script" not in text.lower() and "<img src=x" not in text.lower(), where


@pytest.mark.parametrize("file", ["cv_report.json", "model.json", "scores.json"])
def test_markup_planted_in_any_string_never_reaches_the_page(scored_model, tmp_path, monkeypatch, file):
    """Markup at every value and key of the JSON files the report reads: refused in one line
    (a string where a number belongs) or shown escaped, never as markup. The figures are stubbed
    (matplotlib writes its own text) so that hundreds of variants run in seconds."""
    model, data_folder, scores = scored_model
    monkeypatch.setattr(plots, "save", lambda figure, folder, stem: ("data:,", (stem + ".png", stem + ".svg")))
    for name in ("curve_grid", "sweep_grid", "learning_curves", "confusion_figure"):
        monkeypatch.setattr(plots, name, lambda *args, **kwargs: None)
    source = scores if file == "scores.json" else os.path.join(model, file)
    document = json.loads(open(source).read())
    refused = shown = 0
    for path in planting_sites(document):
        folder = tmp_path / "model"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        for name in ("model.json", "cv_report.json", "oof_probabilities.csv"):
            shutil.copy(os.path.join(model, name), folder / name)
        shutil.copy(scores, folder / "scores.json")
        (folder / file).write_text(json.dumps(planted(document, path)))
        try:
            page = build.write_report(
                str(folder), str(tmp_path / "out"), labels=data_folder, test=Scores(str(folder / "scores.json"))
            )
        except data.ReportError as e:
            assert "\n" not in str(e) and file in str(e), (path, str(e))
            refused += 1
            continue
        assert_no_markup(open(page, encoding="utf-8").read(), (file, path))
        shown += 1
    assert refused and shown  # numbers refused, text (names, keys, choices) shown escaped


def test_markup_in_every_text_field_of_a_real_report_is_escaped(scored_model, tmp_path):
    """A full report (figures drawn) of a model whose every text field and source name holds
    markup: the page and the SVG files hold it only escaped."""
    model, data_folder, scores = scored_model
    folder = tmp_path / "model"
    shutil.copytree(model, folder)
    cv = json.loads((folder / "cv_report.json").read_text())
    cv.update(split=MARKUP, threshold_method=MARKUP)
    cv["sources"] = {MARKUP + key: {**entry, "name": MARKUP} for key, entry in cv["sources"].items()}
    transfer = cv["threshold_transfer"]
    transfer["sources"] = {MARKUP + key: count for key, count in transfer["sources"].items()}
    transfer["methods"] = {MARKUP + m: entry for m, entry in transfer["methods"].items()}
    (folder / "cv_report.json").write_text(json.dumps(cv))
    manifest = json.loads((folder / "model.json").read_text())
    manifest["created"] = MARKUP
    (folder / "model.json").write_text(json.dumps(manifest))
    scored = json.loads(open(scores).read())
    scored["sources"] = {MARKUP + key: {**entry, "name": MARKUP} for key, entry in scored["sources"].items()}
    (tmp_path / "scores.json").write_text(json.dumps(scored))
    out = tmp_path / "out"
    page = build.write_report(str(folder), str(out), labels=data_folder, test=Scores(str(tmp_path / "scores.json")))
    text = open(page, encoding="utf-8").read()
    assert_no_markup(text, "report.html")
    assert text.count("&lt;script&gt;") >= 5  # shown, escaped
    for name in os.listdir(out):
        if name.endswith(".svg"):
            assert_no_markup((out / name).read_text(), name)


# ---------------------------------------------------------------------------------------------
# 2. Links planted at temporary or output names are followed
# ---------------------------------------------------------------------------------------------


def plant_links(victim, paths):
    for path in paths:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(victim, path)


def _audit_run(tmp_path, case, scored):
    out = tmp_path / "out"
    names = ("label_issues.csv", "summary.json")
    return (
        lambda: commands.audit([case[0], case[1], str(out)]),
        [out / n for n in names] + [out / (n + ".tmp") for n in names],
    )


def _report_run(tmp_path, case, scored):
    out = tmp_path / "out"
    return (
        lambda: cli.main(["report", scored[0], str(out), "--labels", scored[1]]),
        [out / "report.html", out / "report.html.partial", out / "oof_roc.png", out / "learning_curves.svg"],
    )


def _relabel_run(tmp_path, case, scored):
    issues = issues_file(tmp_path / "issues.csv", [("A0001", LAD)])
    out = tmp_path / "o" / "overrides.csv"
    argv = ["--from-audit", issues, "--weight", "0.5", "--out", str(out)]
    return lambda: commands.relabel(argv), [out, tmp_path / "o" / "overrides.csv.tmp"]


def _agreement_run(tmp_path, case, scored):
    paths = write_kit(tmp_path / "kit")
    c, j = tmp_path / "o" / "consensus.csv", tmp_path / "o" / "a.json"
    argv = [str(tmp_path / "kit"), *paths, "--consensus", str(c), "--json", str(j), "--resamples", "100"]
    return lambda: commands.agreement(argv), [c, j, tmp_path / "o" / "consensus.csv.tmp"]


def _evaluate_run(tmp_path, case, scored):
    outputs = os.path.join(os.path.dirname(scored[2]), "outputs")
    o = tmp_path / "o"
    argv = [scored[1], outputs, str(o / "scores.csv"), str(o / "class_scores.csv"), "--json", str(o / "s.json")]
    return lambda: cli.evaluate(argv), [o / "scores.csv", o / "class_scores.csv", o / "s.json"]


def _synth_run(tmp_path, case, scored):
    o = tmp_path / "o"
    argv = [str(o), "2", "--label-noise", "0.2"]
    return lambda: cli.records.synth(argv), [o / "SYN00001.hea", o / "SYN00001.mat", o / "true_labels.csv.tmp"]


@pytest.mark.parametrize("command", [_audit_run, _report_run, _relabel_run, _agreement_run, _evaluate_run, _synth_run])
def test_links_planted_at_output_and_temporary_names_are_never_followed(
    audit_case, scored_model, tmp_path, command, capsys
):
    run, links = command(tmp_path, audit_case, scored_model)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    plant_links(victim, links)
    assert run() == 0, capsys.readouterr().err
    assert victim.read_text() == "precious"
    for path in links:  # an output name now holds the output itself; a temporary name is untouched
        assert not os.path.islink(path) or os.readlink(path) == str(victim), path
        if not str(path).endswith((".tmp", ".partial")):
            assert stat.S_ISREG(os.lstat(path).st_mode), path


# ---------------------------------------------------------------------------------------------
# 3. A refused relabel replaced the good overrides file, naming rows of its own output
# ---------------------------------------------------------------------------------------------


def test_a_refused_relabel_keeps_the_good_file_and_names_the_input_rows(tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_text(f"record,class,label\nA0001,{LAD},weight:0.5\n")
    issues = issues_file(tmp_path / "dup.csv", [("A0002", LAD), ("A0003", LAD), ("A0002", LAD), ("", LAD)])
    assert commands.relabel(["--from-audit", issues, "--weight", "0.3", "--out", str(good)]) == 2
    err = capsys.readouterr().err
    assert f"{issues}: 2 problems" in err and "row 4, column class: record A0002 and class" in err
    assert "are also on row 2" in err and "row 5, column record: the record name is empty" in err
    assert good.read_text() == f"record,class,label\nA0001,{LAD},weight:0.5\n"
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# 4. Record names that a spreadsheet runs as formulas
# ---------------------------------------------------------------------------------------------


def test_a_formula_record_name_is_written_as_text_and_read_back_as_itself(audit_case, tmp_path, capsys):
    """audit -> label_issues.csv -> relabel --from-audit -> overrides -> training's reader and
    the review kit: the name is never a formula cell and always comes back exactly."""
    model, data_folder, names = audit_case
    out = tmp_path / "audit"
    assert commands.audit([model, data_folder, str(out)]) == 0
    cells = [line.split(",")[0] for line in (out / "label_issues.csv").read_text().splitlines()]
    assert "'" + FORMULA in cells and not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    assert FORMULA in {row["record"] for row in audit.read_issues(str(out / "label_issues.csv"))}

    overrides_path = tmp_path / "overrides.csv"
    issues = str(out / "label_issues.csv")
    assert commands.relabel(["--from-audit", issues, "--weight", "0.5", "--out", str(overrides_path)]) == 0
    assert f"'{FORMULA}," in overrides_path.read_text()
    read = overrides.read_overrides(overrides_path)
    assert FORMULA in read.records
    labels, mask, keep = overrides.apply_overrides(names, np.zeros((len(names), K)), read)
    assert (mask[0] < 1).any()  # the record of that name got its down-weighted cells

    kit = tmp_path / "kit"
    argv = [data_folder, str(kit), "--from", issues, "--controls", "0", "--repeats", "0"]
    assert commands.review_kit(argv) == 0, capsys.readouterr().err
    assert FORMULA in (kit / "key.csv").read_text()  # the kit found the record by its name


def test_the_out_of_fold_file_keeps_formula_names_as_text(tmp_path):
    store = modelstore.ModelFolder(tmp_path)
    names = [FORMULA, "'quoted", "-minus", "A1"]
    store.write_oof_probabilities(names, np.zeros(4, dtype=int), np.full((4, K), 0.25))
    text = (tmp_path / "oof_probabilities.csv").read_text()
    assert not any(line.startswith(("=", "-")) for line in text.splitlines())
    assert modelstore.read_oof_probabilities(str(tmp_path / "oof_probabilities.csv")).names == names


# ---------------------------------------------------------------------------------------------
# 6. A full disk: one line naming the file, nothing half-written, the old file kept
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path):
    """(folder, fill): a folder on a 1 MiB tmpfs; `fill()` takes the room that is left, after
    which every new file fails to write (ENOSPC). Mounting needs root: skipped elsewhere (the
    torch writer's test below simulates the full disk instead)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")

    def fill():
        with open(folder / ".filler", "wb", buffering=0) as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 4096)

    yield folder, fill
    subprocess.run(["umount", "-l", str(folder)], check=True)


def _full_audit(folder, case, scored, tmp_path):
    return lambda: commands.audit([case[0], case[1], str(folder)]), ["label_issues.csv", "summary.json"]


def _full_report(folder, case, scored, tmp_path):
    return lambda: cli.main(["report", scored[0], str(folder), "--labels", scored[1]]), ["report.html"]


def _full_relabel(folder, case, scored, tmp_path):
    issues = issues_file(tmp_path / "issues.csv", [("A0001", LAD)])
    return lambda: commands.relabel(["--from-audit", issues, "--weight", "0.5", "--out", str(folder / "o.csv")]), [
        "o.csv"
    ]


def _full_agreement(folder, case, scored, tmp_path):
    paths = write_kit(tmp_path / "kit")
    argv = [str(tmp_path / "kit"), *paths, "--json", str(folder / "a.json"), "--consensus", str(folder / "c.csv")]
    return lambda: commands.agreement([*argv, "--resamples", "100"]), ["a.json", "c.csv"]


def _full_evaluate(folder, case, scored, tmp_path):
    outputs = os.path.join(os.path.dirname(scored[2]), "outputs")
    argv = [scored[1], outputs, str(folder / "scores.csv"), str(folder / "class.csv"), "--json", str(folder / "s.json")]
    return lambda: cli.evaluate(argv), ["scores.csv", "class.csv", "s.json"]


def _full_synth(folder, case, scored, tmp_path):
    return lambda: cli.records.synth([str(folder), "3"]), ["SYN00001.hea"]


@pytest.mark.parametrize(
    "command", [_full_audit, _full_report, _full_relabel, _full_agreement, _full_evaluate, _full_synth]
)
def test_a_full_disk_is_one_line_naming_the_file_and_the_old_files_stay(
    full_disk, audit_case, scored_model, tmp_path, capsys, command
):
    folder, fill = full_disk
    run, outputs = command(folder, audit_case, scored_model, tmp_path)
    for name in outputs:
        (folder / name).write_text("good old content")
    before = set(os.listdir(folder))
    fill()
    assert run() != 0
    line = one_error_line(capsys.readouterr().err)
    assert str(folder) in line and "No space left on device" in line
    assert set(os.listdir(folder)) == before | {".filler"} and leftovers(folder) == []
    for name in outputs:
        assert (folder / name).read_text() == "good old content", name


class FullFile:
    """A file whose every write fails as on a full disk."""

    def __init__(self, file):
        self.file = file

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.file, name)


def test_training_on_a_full_disk_is_one_line_naming_the_weight_file(tmp_path, monkeypatch, capsys):
    """torch's writer turns the failed write into its own RuntimeError ('[enforce fail at
    inline_container.cc]'); training must say which file could not be written, and leave none."""
    real = modelstore.atomic_file

    @contextlib.contextmanager
    def full(path, binary=False):
        with real(path, binary) as f:
            yield FullFile(f)

    monkeypatch.setattr(modelstore, "atomic_file", full)
    data_folder = tmp_path / "data"
    synthetic.make_dataset(str(data_folder), 12, seed=1)
    model = tmp_path / "model"
    settings = ["--set", "folds=2", "--set", "epochs=1", "--set", "width=8", "--set", "blocks=1"]
    settings += ["--set", "se_reduction=4", "--set", "window=1024", "--set", "overlap=128"]
    assert cli.train([str(data_folder), str(model), *settings, "--jobs", "1", "--no-report"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "enforce fail" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: {model / 'work' / 'fold1_checkpoint.pt'}: No space left on device"
    ]
    assert [n for n in os.listdir(model / "work") if n.endswith(".tmp") or n.endswith(".pt")] == []


def test_a_full_disk_under_torch_save_names_the_file(full_disk):
    import torch

    folder, fill = full_disk
    (folder / "fold1.pt").write_bytes(b"old weights")
    fill()
    with pytest.raises(OSError) as error:
        modelstore.save_tensors(str(folder / "fold1.pt"), {"w": torch.zeros(100_000)})
    assert error.value.errno == errno.ENOSPC and error.value.filename == str(folder / "fold1.pt")
    assert (folder / "fold1.pt").read_bytes() == b"old weights" and leftovers(folder) == []


# ---------------------------------------------------------------------------------------------
# 7. Numbers out of range or not finite in numeric options; settings that failed kept in work/
# ---------------------------------------------------------------------------------------------

HUGE = "100000000000000000000"
BAD_OPTIONS = (
    [("audit", "--n", v) for v in ("0", "-1", "nan", "1e3")]
    + [("audit", "--seed", v) for v in ("-1", HUGE, "nan")]
    + [("audit", "--min-positives", v) for v in ("0", "-5")]
    + [("review-kit", "--seed", v) for v in ("-1", HUGE)]
    + [("review-kit", "--n", v) for v in ("0", "-1")]
    + [("agreement", "--seed", v) for v in ("-1", HUGE)]
    + [("agreement", "--resamples", v) for v in ("5", "1000000000", "nan")]
    + [("relabel", "--weight", v) for v in ("nan", "inf", "-0.1", "1.5")]
    + [("relabel", "--top", v) for v in ("0", "-2", "nan")]
    + [("report", "--min-positives", v) for v in ("-1", "nan")]
    + [("synth", "--seed", v) for v in ("-1", HUGE)]
    + [("synth", "--rate", v) for v in ("0", "-500", "nan", "1000000000")]
    + [("synth", "--start", v) for v in ("-1", HUGE)]
    + [("synth", "--label-noise", v) for v in ("nan", "inf", "-0.5", "2")]
    + [("synth", "--prefix", v) for v in ("../escape", "a,b", ".hidden", "a\nb")]
    + [("train", "--workers", v) for v in ("-2", "1000000")]
    + [("train", "--jobs", v) for v in ("nan", "100000")]
    + [("compare", "--seeds", v) for v in ("-1", HUGE, "1,1", "1e3")]
    + [("quantize", "--min-identical", "nan"), ("benchmark", "--records", "0")]
    + [("rules", "--seed", v) for v in ("-1", HUGE)]
    + [("rules", "--jobs", v) for v in ("0", "100000")]
    + [("measure", "--jobs", v) for v in ("-2", "100000")]
)


@pytest.mark.parametrize("command, option, value", BAD_OPTIONS)
def test_numeric_options_are_checked_where_parsed(tmp_path, capsys, command, option, value):
    positional = {
        "audit": ["M", "D", "O"],
        "review-kit": ["D", "O", "--records", "R", "--classes", "LAD"],
        "agreement": ["K", "A.csv"],
        "relabel": ["--from-audit", "I.csv", "--weight", "0.5", "--out", "O.csv"],
        "report": ["M", "O"],
        "synth": [str(tmp_path / "s"), "2"],
        "train": ["D", "M"],
        "compare": ["D", "O"],
        "quantize": ["M", "D"],
        "benchmark": [],
        "rules": ["D", "O"],
        "measure": ["D", "O"],
    }[command]
    with pytest.raises(SystemExit) as exit:
        cli.main([command, *positional, option, value])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "error:" in err and option in err and "Traceback" not in err
    assert not os.listdir(tmp_path)  # nothing was written


@pytest.mark.parametrize(
    "setting, problem",
    [
        ("seed=-1", "seed must be from 0 to 4294967295"),
        (f"seed={HUGE}", "seed must be from 0 to 4294967295"),
        ("seed=1e20", "seed takes a whole number, not '1e20'"),
        ("folds=100000", "folds must be from 2 to 1000"),
        ("epochs=1000000000", "epochs <= 100000"),
        ("batch_size=100000000", "batch_size <= 65536"),
        ("sample_rate=1000000000", "sample_rate must be from 1 to 10000 Hz"),
        ("threshold_step=1e-9", "threshold_step must be from 0.0001"),
        ("lr=nan", "lr must be a finite number"),
        ("lr=inf", "lr must be a finite number"),
        ("noise=1e300", "noise must be <= 10000 mV"),
        ("mixup=1e300", "mixup, asl_gamma_neg and asl_gamma_pos <= 1000"),
        ("workers=100000", "workers from -1 to 1024"),
        ("demographics_features=100000000", "demographics_features <= 4096"),
        ("lr_milestones=0,-3", "lr_milestones must be epochs from 1"),
    ],
)
def test_bad_settings_are_one_line_and_never_stored_in_the_work_folder(tmp_path, capsys, setting, problem):
    data_folder = tmp_path / "data"
    synthetic.make_dataset(str(data_folder), 4)
    assert cli.train([str(data_folder), str(tmp_path / "model"), "--set", setting]) == 1
    assert problem in one_error_line(capsys.readouterr().err)
    assert not os.path.exists(tmp_path / "model" / "work" / "config.json")


def test_settings_that_fail_on_the_data_are_not_kept_and_a_second_call_can_fix_them(tmp_path, capsys):
    """Too many folds for the records fails only once the data are read: the work folder must
    not keep those settings, or every later call would be refused as 'other settings'."""
    data_folder = tmp_path / "data"
    synthetic.make_dataset(str(data_folder), 6, seed=2)
    model = tmp_path / "model"
    tiny = ["--set", "epochs=1", "--set", "width=8", "--set", "blocks=1", "--set", "se_reduction=4"]
    tiny += ["--set", "window=1024", "--set", "overlap=128", "--jobs", "1", "--no-report"]
    assert cli.train([str(data_folder), str(model), "--set", "folds=40", *tiny]) == 1
    assert "6 usable records cannot make 40 folds" in capsys.readouterr().err
    assert not any(os.path.exists(model / "work" / n) for n in ("config.json", "labels.json", "label_overrides.json"))
    assert cli.train([str(data_folder), str(model), "--set", "folds=2", *tiny]) == 0
    assert json.loads((model / "model.json").read_text())["config"]["folds"] == 2
    assert json.loads((model / "work" / "labels.json").read_text()) == {"labels": "header"}


def test_compare_refuses_seeds_out_of_range_before_writing(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.compare([str(tmp_path), str(tmp_path / "out"), "--seeds", "1,-1"])
    assert "expected seeds from 0 to 4294967295" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "out")


# ---------------------------------------------------------------------------------------------
# 8. Pipes, encodings, sizes, long rows, all-masked overrides, unknown records
# ---------------------------------------------------------------------------------------------


def returns_within(seconds, function, *args):
    """function(*args)'s value, or the exception it raised, failing the test if it blocks past
    `seconds` (a pipe read would never return)."""
    outcome = {}

    def call():
        try:
            outcome["value"] = function(*args)
        except BaseException as e:  # noqa: BLE001  (handed to the test)
            outcome["value"] = e

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{getattr(function, '__name__', function)} blocked on {args}"
    return outcome["value"]


def test_an_overrides_file_that_is_a_pipe_is_refused_at_once(tmp_path, capsys):
    fifo = tmp_path / "overrides.csv"
    os.mkfifo(fifo)
    error = returns_within(10, overrides.read_overrides, str(fifo))
    assert isinstance(error, overrides.OverridesError) and "not a regular file" in str(error)
    data_folder = tmp_path / "data"
    synthetic.make_dataset(str(data_folder), 2)
    argv = [str(data_folder), str(tmp_path / "m"), "--label-overrides", str(fifo)]
    assert returns_within(30, cli.train, argv) == 1 and "not a regular file" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "content, outcome",
    [
        (b"\xef\xbb\xbfrecord,class,label\nA1,39732003,1\n", None),  # a spreadsheet's byte order mark
        (b"record,class,label\r\nA1,39732003,mask\r\n", None),  # Windows line ends
        ("record,class,label\nRécord\xe9,39732003,1\n".encode("latin-1"), "is not UTF-8 text (line 2"),
        (b"record,class,label\nA1,39732003,1,extra\n", "row 2: 4 cells where the header has 3 columns"),
        (b"\x00\x01\x02binary\xff\xfe", "is not UTF-8 text"),
        (b"record;class;label\nA1;39732003;1\n", "seems to use semicolons"),
        (b"", "is empty"),
    ],
)
def test_overrides_files_in_every_encoding_and_shape(tmp_path, content, outcome):
    path = tmp_path / "o.csv"
    path.write_bytes(content)
    if outcome is None:
        assert overrides.read_overrides(path).records == {"A1"}
    else:
        with pytest.raises(overrides.OverridesError) as error:
            overrides.read_overrides(path)
        assert str(error.value).startswith(str(path)) and outcome in str(error.value)


def test_an_overrides_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "o.csv"
    with open(path, "wb") as f:  # sparse: no disk used, nothing worth reading
        f.write(b"record,class,label\n")
        f.truncate(MAX_CSV_BYTES + 1)
    error = returns_within(5, overrides.read_overrides, str(path))
    assert isinstance(error, overrides.OverridesError) and "more than the" in str(error)


def test_every_problem_of_an_overrides_file_is_named_at_once(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(f"record,class,label\nA1,{LAD},yes\n,{LAD},1\nA2,12345,1\nA3,{LAD},weight:nan\n")
    with pytest.raises(overrides.OverridesError) as error:
        overrides.read_overrides(path)
    message = str(error.value)
    assert message.startswith(f"{path}: 4 problems")
    for where in ("row 2, column label", "row 3, column record", "row 4, column class", "row 5, column label"):
        assert where in message


def test_overrides_that_mask_every_cell_are_warned_about(tmp_path, caplog):
    import logging

    from ecgnet.dataset import prepare_data
    from ecgnet.distributed import Runtime

    data_folder = tmp_path / "data"
    names = synthetic.make_dataset(str(data_folder), 6, seed=3)
    path = tmp_path / "o.csv"
    overrides.write_overrides(str(path), [(n, c, "weight:0") for n in names for c in label_space.CLASSES])
    with caplog.at_level(logging.WARNING):
        prepare_data(
            str(data_folder),
            modelstore.ModelFolder(tmp_path / "m"),
            TINY,
            Runtime(),
            jobs=1,
            overrides=overrides.read_overrides(path),
        )
    assert "every (record, class) cell of the 6 training records is masked or weighted 0" in caplog.text


@pytest.mark.parametrize(
    "content, outcome",
    [
        (lambda text: b"\xef\xbb\xbf" + text.encode(), "wrote"),
        (lambda text: text.replace("\n", "\r\n").encode(), "wrote"),
        (lambda text: text.replace("A0002", "Ä0002").encode("latin-1"), "is not UTF-8 text"),
        (
            lambda text: (text + "A0009" + ",x" * (len(ISSUE_COLUMNS) + 1) + "\n").encode(),
            f"{len(ISSUE_COLUMNS) + 2} cells where the header has {len(ISSUE_COLUMNS)}",
        ),
        (lambda text: text.replace("record,", "name,").encode(), "row 1 has no column record"),
    ],
)
def test_label_issues_files_in_every_encoding_and_shape(tmp_path, capsys, content, outcome):
    issues = issues_file(tmp_path / "issues.csv", [("A0001", LAD), ("A0002", LAD)])
    (tmp_path / "issues.csv").write_bytes(content(open(issues).read()))
    status = commands.relabel(["--from-audit", issues, "--weight", "0.5", "--out", str(tmp_path / "o.csv")])
    captured = capsys.readouterr()
    if outcome == "wrote":
        assert status == 0 and "wrote 2 overrides" in captured.out
    else:
        assert status == 2 and outcome in one_error_line(captured.err) and issues in captured.err


def test_review_kit_names_the_audit_rows_of_records_that_are_not_in_data(audit_case, tmp_path, capsys):
    _, data_folder, _ = audit_case
    issues = issues_file(tmp_path / "issues.csv", [("A0001", LAD), ("GONE1", LAD), ("GONE2", LAD)])
    assert commands.review_kit([data_folder, str(tmp_path / "kit"), "--from", issues]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "2 of its rows name records that are not in DATA (row 3 'GONE1', row 4 'GONE2')" in line
    assert not os.path.exists(tmp_path / "kit")


def test_review_kit_names_rows_of_unscored_classes_and_bad_ranks(audit_case, tmp_path, capsys):
    _, data_folder, _ = audit_case
    issues = issues_file(tmp_path / "issues.csv", [("A0001", LAD), ("A0003", "12345")])
    lines = open(issues).read().splitlines()
    cells = lines[1].split(",")
    cells[ISSUE_COLUMNS.index("rank")] = "first"
    (tmp_path / "issues.csv").write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    assert commands.review_kit([data_folder, str(tmp_path / "kit"), "--from", issues]) == 1
    err = capsys.readouterr().err
    assert f"{issues}: 2 problems" in err and "row 2, column rank: 'first'" in err and "row 3, column class" in err


def test_an_answers_file_that_is_a_pipe_or_device_is_refused_at_once(tmp_path, capsys):
    paths = write_kit(tmp_path / "kit")
    fifo = tmp_path / "kit" / "carol.csv"
    os.mkfifo(fifo)
    for answers in (str(fifo), "/dev/zero"):
        assert returns_within(20, commands.agreement, [str(tmp_path / "kit"), *paths, answers]) == 2
        assert "not a regular file" in one_error_line(capsys.readouterr().err)


def test_training_on_a_full_disk_names_the_file_even_when_the_log_cannot_be_written(full_disk, capsys):
    folder, fill = full_disk
    data_folder = folder.parent / "data"
    synthetic.make_dataset(str(data_folder), 4)
    fill()
    assert cli.train([str(data_folder), str(folder / "model"), "--jobs", "1"]) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert "Traceback" not in err and len(errors) == 1 and f"{folder / 'model'}/" in errors[0], err
    assert errors[0].endswith("No space left on device")


@pytest.mark.parametrize("which", ["label", "output"])
def test_evaluate_refuses_a_huge_label_or_output_file_without_reading_it(tmp_path, capsys, which):
    import tracemalloc

    labels_folder, outputs_folder = tmp_path / "labels", tmp_path / "outputs"
    synthetic.make_dataset(str(labels_folder), 2)
    outputs_folder.mkdir()
    for name in ("SYN00001", "SYN00002"):
        (outputs_folder / f"{name}.csv").write_text(f"#{name}\n{LAD}\n1\n0.9\n")
    huge = (labels_folder / "SYN00002.hea") if which == "label" else (outputs_folder / "SYN00002.csv")
    with open(huge, "wb") as f:  # sparse: 2 GiB of nothing, no disk used
        f.truncate(2 * 1024**3)
    tracemalloc.start()
    try:
        status = cli.evaluate([str(labels_folder), str(outputs_folder)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 1 and f"{huge}: the {which} file is more than" in one_error_line(capsys.readouterr().err)
    assert peak < 20 * 1024**2


def test_a_pipe_swapped_in_after_the_check_is_still_refused_at_once(tmp_path, monkeypatch):
    """The race: the path was a regular file when checked and is a pipe when opened."""
    from ecgnet import files

    regular = os.stat(__file__)
    fifo = tmp_path / "o.csv"
    os.mkfifo(fifo)
    real_stat = os.stat
    monkeypatch.setattr(files.os, "stat", lambda path, *a, **k: regular if str(path) == str(fifo) else real_stat(path))
    error = returns_within(10, overrides.read_overrides, str(fifo))
    assert isinstance(error, overrides.OverridesError) and "not a regular file" in str(error)

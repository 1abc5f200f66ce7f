"""The MODEL folder: a versioned layout that loads without executing code.

    MODEL/
      model.json             format name and version, classes, config, thresholds, the
                             SHA-256 of every weight file and the stacked stage if any
                             (stacking=logistic); written last, so a folder without it is an
                             unfinished training run
      fold1.pt ... foldK.pt  the best weights of each fold (PyTorch tensors only, read with
                             weights_only=True: no pickled code is ever run)
      foldK.int8-HASH.pt     optional int8 weights and activation scales of each fold
                             (`ecgnet quantize`; tensors only, like foldK.pt), named after
                             their content so that model.json never points at a half-replaced
                             set; model.json's "int8" entry lists them with the calibration and
                             fidelity numbers, and its "precision" says which set the driver
                             uses by default
      thresholds.csv         the per-class thresholds, for people
      oof_probabilities.csv  out-of-fold probabilities of every training record
      cv_report.json         every metric per fold and overall, before and after thresholds
      train.log              the training log
      report/                the cross-validation report (report.html and its plots), unless
                             training ran with --no-report or without matplotlib
      work/                  resumable training state: config.json, label_overrides.json,
                             folds.json, per-fold checkpoints and results, and the signal cache

Every file is written whole or not at all (`files.atomic_file`). The module is long because it
owns the whole layout, writing and reading every file above (with every check a model folder
from elsewhere needs), so that the layout lives in one place.
"""

import contextlib
import hashlib
import io
import json
import os
import pickle
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, cast

import numpy as np

from . import __version__, jsonshape
from . import labels as label_space
from .config import Config
from .csvfiles import Problems, read_table, write_table
from .errors import ConfigError, InputFileError, ModelFolderError, first_line, quote
from .files import atomic_file, atomic_write, read_json
from .stacking import Stacker

if TYPE_CHECKING:
    # torch (with the network modules) is imported where tensors are: the driver reads the
    # model's config, and starts reading records, before its second of importing torch.
    import torch

FORMAT = "ecgnet-model"
FORMAT_VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_MANIFEST_BYTES = 16 * 1024 * 1024  # model.json is a few kilobytes


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Writes:
    """A file's `write`, keeping the OSError it raised: torch's writer turns that (a full disk)
    into a RuntimeError of its own ('[enforce fail at inline_container.cc]') naming nothing."""

    def __init__(self, file: IO[bytes]):
        self.file = file
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.file.write(data)
        except OSError as e:
            self.error = e
            raise

    def flush(self) -> None:
        self.file.flush()


def save_tensors(path: str, obj: object) -> None:
    """torch.save of tensors, primitives and containers of them, written whole or not at all;
    a failed write is the OSError naming `path` (`files.atomic_file`), not torch's RuntimeError."""
    import torch

    with atomic_file(path, binary=True) as f:
        writes = _Writes(f)
        try:
            torch.save(obj, cast(IO[bytes], writes))  # it needs only `write`
        except RuntimeError:
            if writes.error is None:
                raise
            raise writes.error from None


def load_tensors(path: str) -> Any:
    """Load a file written by `save_tensors` without executing pickled code."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelFolderError(f"{path} is missing") from None
    except pickle.UnpicklingError:  # torch's message is ten lines of advice to load it unsafely
        raise ModelFolderError(
            f"{path} is damaged or not a tensor file: it holds Python objects other "
            "than tensors, refused without running any of its code"
        ) from None
    except Exception as e:
        raise ModelFolderError(
            f"{path} is damaged or not a tensor file ({type(e).__name__}: {first_line(e)})"
        ) from None


def _checked_state(path: str, expected: dict[str, tuple[tuple[int, ...], "torch.dtype"]], what: str) -> dict:
    """The tensors of `path` (`load_tensors`), checked to be exactly `expected` ({name: (shape,
    dtype)}), and finite. `what` names the kind of file in messages ("weight file")."""
    import torch

    state = load_tensors(path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFolderError(
            f"{path} is not {what}: it holds a {type(state).__name__}, expected a dictionary of named tensors"
        )
    problems = [f"{name} is missing" for name in expected if name not in state]
    problems += [f"{name} is not a weight of this network" for name in state if name not in expected]
    problems += [
        f"{name} is {tuple(state[name].shape)} {state[name].dtype}, expected {shape} {dtype}"
        for name, (shape, dtype) in expected.items()
        if name in state and (tuple(state[name].shape), state[name].dtype) != (shape, dtype)
    ]
    if problems:
        raise ModelFolderError(
            f"{path}: weights do not fit the saved config: {'; '.join(problems[:3])}"
            + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        )
    not_finite = [name for name, t in state.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if not_finite:
        raise ModelFolderError(
            f"{path} holds weights that are not finite (NaN or infinite): {', '.join(not_finite[:3])}"
        )
    return state


def load_weights(path: str, config: Config) -> dict[str, "torch.Tensor"]:
    """A fold's weights (`load_tensors`), checked to be exactly the tensors, shapes and types
    of the network `config` describes, and finite."""
    from .model import state_shapes

    return _checked_state(path, state_shapes(config), "a weight file")


def load_int8_weights(path: str, config: Config) -> dict[str, "torch.Tensor"]:
    """A fold's int8 weights (`ecgnet quantize`), checked like `load_weights` against the int8
    network of `config` (`int8.state_shapes`), every scale a positive number."""
    from . import int8

    state = _checked_state(path, int8.state_shapes(config), "an int8 weight file")
    not_positive = [name for name, t in state.items() if name.endswith("_scale") and not (t > 0).all()]
    if not_positive:
        raise ModelFolderError(f"{path} holds scales that are not positive: {', '.join(not_positive[:3])}")
    return state


def write_json(path: str, obj: object) -> None:
    """`obj` as JSON, whole or not at all; NaN and infinities, which are not JSON, are refused."""
    atomic_write(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


class ModelFolder:
    """The paths of a MODEL folder's files, and the writing and reading of those that are
    not weights: the training run's config and folds (resume checks them), thresholds.csv,
    oof_probabilities.csv and cv_report.json."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = str(folder)
        self.work = os.path.join(self.folder, "work")

    def path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def work_path(self, name: str) -> str:
        return os.path.join(self.work, name)

    @property
    def manifest(self) -> str:
        return self.path("model.json")

    @property
    def log(self) -> str:
        return self.path("train.log")

    def weights(self, fold: int) -> str:
        return self.path(f"fold{fold + 1}.pt")

    def checkpoint(self, fold: int) -> str:
        return self.work_path(f"fold{fold + 1}_checkpoint.pt")

    def fold_result(self, fold: int) -> str:
        return self.work_path(f"fold{fold + 1}_result.pt")

    @property
    def cache(self) -> str:
        return self.work_path("cache")

    def _read_work(self, name: str, shape: jsonshape.Shape) -> Any:
        """The JSON value of MODEL/work/`name` (None where absent), of `shape`; ModelFolderError
        names a damaged file."""
        path = self.work_path(name)
        if not os.path.lexists(path):
            return None
        try:
            value = read_json(path, "training run's state", MAX_MANIFEST_BYTES)
        except InputFileError as e:
            raise ModelFolderError(f"{e}; train into a new MODEL folder") from None
        problems = jsonshape.problems(value, shape)
        if problems:
            raise ModelFolderError(f"{path} is damaged ({problems[0]}); train into a new MODEL folder")
        return value

    def read_run_config(self) -> Config | None:
        """The config a training run in this folder started with, or None before one started."""
        saved = self._read_work("config.json", jsonshape.Fields())
        if saved is None:
            return None
        try:
            return Config.from_saved(saved)
        except ConfigError as e:
            raise ModelFolderError(
                f"{self.work_path('config.json')} is damaged ({e}); train into a new MODEL folder"
            ) from None

    def write_run_config(self, config: Config) -> None:
        write_json(self.work_path("config.json"), config.to_dict())

    def read_run_overrides(self) -> dict | None:
        """The label overrides a training run in this folder started with ({"file", "sha256"},
        or {"file": None, "sha256": None} for none), or None where the run did not record them
        (before one started, or a run of an ecgnet without label overrides: it had none)."""
        shape = jsonshape.Fields({"file": jsonshape.Text(), "sha256": jsonshape.Text()}, required=("file", "sha256"))
        return self._read_work("label_overrides.json", shape)

    def write_run_overrides(self, record: dict) -> None:
        write_json(self.work_path("label_overrides.json"), record)

    def read_run_labels(self) -> dict | None:
        """The label source a training run in this folder started with (`--labels`), or None
        where it did not record one (before one started, or a run of an ecgnet before --labels)."""
        return self._read_work("labels.json", jsonshape.Fields())

    def write_run_labels(self, record: dict) -> None:
        write_json(self.work_path("labels.json"), record)

    def read_folds(self) -> tuple[list[str], list[int]] | None:
        """(record names, fold of each) the training run started with, or None."""
        shape = jsonshape.Fields(
            {
                "names": jsonshape.ListOf(jsonshape.Text(null=False)),
                "folds": jsonshape.ListOf(jsonshape.Integer(null=False)),
            },
            required=("names", "folds"),
        )
        saved = self._read_work("folds.json", shape)
        return None if saved is None else (saved["names"], saved["folds"])

    def write_folds(self, names: Sequence[str], folds: np.ndarray) -> None:
        write_json(self.work_path("folds.json"), {"names": list(names), "folds": folds.tolist()})

    def write_thresholds(self, thresholds: np.ndarray) -> None:
        """thresholds.csv: class code, abbreviation and threshold, in CLASSES order."""
        rows = [
            f"{code},{abbreviation},{t:.2f}\n"
            for code, abbreviation, t in zip(label_space.CLASSES, label_space.ABBREVIATIONS, thresholds)
        ]
        atomic_write(self.path("thresholds.csv"), "class,abbreviation,threshold\n" + "".join(rows))

    def write_oof_probabilities(self, names: Sequence[str], folds: np.ndarray, probabilities: np.ndarray) -> None:
        """oof_probabilities.csv: each training record's fold (from 1) and out-of-fold
        probabilities, names spreadsheet-safe (`csvfiles.write_table`)."""
        rows = ([name, fold + 1, *(f"{p:.6f}" for p in row)] for name, fold, row in zip(names, folds, probabilities))
        write_table(self.path("oof_probabilities.csv"), ["record", "fold", *label_space.CLASSES], rows)

    def write_cv_report(self, report: dict) -> None:
        write_json(self.path("cv_report.json"), report)


def save_model(
    folder: str,
    config: Config,
    thresholds: Sequence[float] | np.ndarray,
    num_folds: int,
    training_summary: dict,
    stacker: Stacker | None = None,
) -> None:
    """Write model.json over the fold weight files already in `folder`, with the stacked
    stage (config stacking) if there is one."""
    store = ModelFolder(folder)
    files = [os.path.basename(store.weights(k)) for k in range(num_folds)]
    write_json(
        store.manifest,
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "ecgnet_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "classes": list(label_space.CLASSES),
            "abbreviations": list(label_space.ABBREVIATIONS),
            "config": config.to_dict(),
            "thresholds": [float(t) for t in thresholds],
            "weights": [{"file": name, "sha256": sha256(store.path(name))} for name in files],
            "training": training_summary,
            **({"stacking": stacker.to_json()} if stacker is not None else {}),
        },
    )


def load_stacker(folder: str | os.PathLike) -> Stacker:
    """The stacked stage model.json holds (`stacking.Stacker`), every field checked."""
    path = ModelFolder(folder).manifest
    return Stacker.from_json(read_manifest(folder).get("stacking"), path)


def read_manifest(folder: str | os.PathLike) -> dict:
    store = ModelFolder(folder)
    if not os.path.isdir(store.folder):
        problem = "is not a folder" if os.path.exists(store.folder) else "does not exist"
        raise ModelFolderError(f"model folder {store.folder} {problem}")
    if not os.path.isfile(store.manifest):
        raise ModelFolderError(
            f"{store.folder} is not a finished ecgnet model: {store.manifest} is missing "
            "(train into it with train_model.py, or resume an interrupted run)"
        )
    try:
        manifest = read_json(store.manifest, "model description", MAX_MANIFEST_BYTES)
    except InputFileError as e:
        raise ModelFolderError(str(e)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFolderError(f"{store.manifest} is not an ecgnet model description")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFolderError(
            f"{store.manifest} has model format version {version}; this ecgnet "
            f"({__version__}) reads version {FORMAT_VERSION}"
        )
    if manifest.get("classes") != list(label_space.CLASSES):
        raise ModelFolderError(f"{store.manifest} was trained on other classes than this ecgnet scores")
    return manifest


def _threshold(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1  # NaN fails too


def _weight_entry_problem(entry):
    if not (isinstance(entry, dict) and isinstance(entry.get("file"), str) and isinstance(entry.get("sha256"), str)):
        return f'weight entry {json.dumps(entry)[:80]} needs a "file" name and a "sha256" checksum'
    if entry["file"] != os.path.basename(entry["file"]) or entry["file"] in ("", ".", ".."):
        return f"weight file {entry['file']!r} is not a plain file name in the model folder"
    if not _SHA256.match(entry["sha256"]):
        return f"checksum {entry['sha256'][:80]!r} of {entry['file']} is not a SHA-256 in hexadecimal"
    return None


def _manifest_fields(manifest, path):
    """(config, thresholds, weight entries) of a manifest, every field checked."""

    def invalid(problem):
        return ModelFolderError(f"{path} is incomplete or invalid: {problem}")

    missing = [key for key in ("config", "thresholds", "weights") if key not in manifest]
    if missing:
        raise invalid(f"it has no {', '.join(missing)}")
    if not isinstance(manifest["config"], dict):
        raise invalid("config is not an object")
    try:
        config = Config.from_saved(manifest["config"])
    except ConfigError as e:
        raise invalid(str(e)) from None
    thresholds = manifest["thresholds"]
    if (
        not isinstance(thresholds, list)
        or len(thresholds) != label_space.NUM_CLASSES
        or not all(map(_threshold, thresholds))
    ):
        raise invalid(f"thresholds must be {label_space.NUM_CLASSES} numbers from 0 to 1")
    weights = manifest["weights"]
    if not isinstance(weights, list) or not weights:
        raise invalid("weights must list at least one weight file")
    problem = next(filter(None, map(_weight_entry_problem, weights)), None)
    if problem:
        raise invalid(problem)
    return config, [float(t) for t in thresholds], weights


PRECISIONS = ("fp32", "int8")


def _int8_entries(manifest, path, folds):
    """The int8 weight entries of a manifest (None without any) and its default precision,
    every field checked."""

    def invalid(problem):
        return ModelFolderError(f"{path} is incomplete or invalid: {problem}")

    precision = manifest.get("precision", "fp32")
    if precision not in PRECISIONS:
        raise invalid(f"precision {json.dumps(precision)[:40]} is not one of {', '.join(PRECISIONS)}")
    section = manifest.get("int8")
    if section is None:
        if precision == "int8":
            raise invalid('precision is int8 but there is no "int8" entry listing int8 weights')
        return None, precision
    weights = section.get("weights") if isinstance(section, dict) else None
    if not isinstance(weights, list) or len(weights) != folds:
        raise invalid(f'"int8" must be an object whose "weights" list one file for each of the {folds} folds')
    problem = next(filter(None, map(_weight_entry_problem, weights)), None)
    if problem:
        raise invalid(problem)
    return weights, precision


def _checked_paths(store: ModelFolder, entries: list[dict]) -> list[str]:
    """Paths of the weight files `entries` list, each present and of its checksum."""
    paths = []
    for entry in entries:
        path = store.path(entry["file"])
        if not os.path.isfile(path):
            raise ModelFolderError(f"{path} is missing")
        if sha256(path) != entry["sha256"]:
            raise ModelFolderError(f"{path} is damaged: its checksum differs from the one in model.json")
        paths.append(path)
    return paths


def stored_precision(folder: str | os.PathLike) -> str:
    """The precision model.json says the driver uses by default: "int8" after `ecgnet quantize`
    (unless told otherwise), else "fp32"."""
    manifest = read_manifest(folder)
    path = ModelFolder(folder).manifest
    _, _, weights = _manifest_fields(manifest, path)
    return _int8_entries(manifest, path, len(weights))[1]


def read_config(folder: str | os.PathLike) -> Config:
    """The config of a finished MODEL folder, from model.json checked as `load_model` checks
    it, without looking at the weights."""
    config, _, _ = _manifest_fields(read_manifest(folder), ModelFolder(folder).manifest)
    return config


def load_model(folder: str | os.PathLike, precision: str = "fp32") -> tuple[Config, list[str], list[float]]:
    """(config, fold weight files, thresholds) of a finished MODEL folder, every file checked.

    `precision` "int8" gives the int8 weight files (`ecgnet quantize`) instead of the float32
    ones. Load the weight files with `load_weights` (`load_int8_weights`); they are returned
    as paths so that callers can hold one fold's tensors at a time."""
    manifest = read_manifest(folder)
    store = ModelFolder(folder)
    config, thresholds, weights = _manifest_fields(manifest, store.manifest)
    int8_weights, _ = _int8_entries(manifest, store.manifest, len(weights))
    if precision == "int8":
        if int8_weights is None:
            raise ModelFolderError(
                f"{store.folder} has no int8 weights: make them with `ecgnet quantize {store.folder} DATA`"
            )
        weights = int8_weights
    return config, _checked_paths(store, weights), thresholds


def int8_file_name(fold: int, digest: str) -> str:
    """The name of fold `fold`'s (from 0) int8 weight file of SHA-256 `digest`."""
    return f"fold{fold + 1}.int8-{digest[:16]}.pt"


def save_int8(folder: str | os.PathLike, states: Sequence[dict], record: dict, default: bool) -> None:
    """Write the int8 states of every fold and list them in model.json, with `record` (the
    calibration and fidelity numbers) and the default precision (int8 if `default`). The new
    files get new names; model.json is replaced last and older int8 files are removed after,
    so the folder is complete and consistent at every moment."""
    import torch

    store = ModelFolder(folder)
    manifest = read_manifest(folder)
    entries = []
    for fold, state in enumerate(states):
        buffer = io.BytesIO()
        torch.save(state, buffer)
        data = buffer.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        name = int8_file_name(fold, digest)
        atomic_write(store.path(name), data)
        entries.append({"file": name, "sha256": digest})
    old = manifest.get("int8") or {}
    manifest["int8"] = {"weights": entries, **record}
    manifest["precision"] = "int8" if default else "fp32"
    write_json(store.manifest, manifest)
    kept = {entry["file"] for entry in entries}
    for entry in old.get("weights", []):
        if isinstance(entry, dict) and entry.get("file") not in kept and not _weight_entry_problem(entry):
            with contextlib.suppress(FileNotFoundError):
                os.remove(store.path(entry["file"]))


@dataclass
class OutOfFold:
    """The rows of MODEL/oof_probabilities.csv."""

    path: str
    names: list  # record names, file order
    folds: np.ndarray  # 1-based fold of each record
    probabilities: np.ndarray  # (records, 24) float64, CLASSES order


def read_oof_probabilities(path: str) -> OutOfFold:
    """Read and check `oof_probabilities.csv` (`csvfiles.read_table`): header `record,fold,<CLASSES>`,
    one row per record, folds whole numbers from 1, probabilities finite numbers from 0 to 1;
    ModelFolderError lists every problem with its row and column."""
    expected = ["record", "fold", *label_space.CLASSES]
    if not os.path.lexists(path):
        raise ModelFolderError(
            f"{path} is missing: the model folder has no out-of-fold probabilities (train it with this ecgnet)"
        )
    table = read_table(path, "out-of-fold probabilities file", expected, error=ModelFolderError)
    if table.header != expected:
        raise ModelFolderError(
            f"{path}: row 1: the header must be record,fold and the {label_space.NUM_CLASSES} class "
            f"codes in ecgnet's order, found {','.join(table.header)[:80]!r}"
        )
    problems = Problems(path, ModelFolderError)
    names: list[str] = []
    folds: list[int | None] = []
    values: list[list[float | None]] = []
    seen: dict[str, int] = {}
    for row in table.rows:
        name, fold = row["record"], _whole_number(row["fold"])
        if not name:
            problems.add(row.number, "record", "the record name is empty")
        elif name in seen:
            problems.add(row.number, "record", f"record {quote(name)} is also on row {seen[name]}")
        seen.setdefault(name, row.number)
        if fold is None or fold < 1:
            problems.value(row.number, "fold", row["fold"], "a fold number: 1, 2, ...")
        probabilities = [_probability(row[code]) for code in label_space.CLASSES]
        for code, p in zip(label_space.CLASSES, probabilities):
            if p is None:
                problems.value(row.number, code, row[code], "a probability from 0 to 1")
        names.append(name)
        folds.append(fold)
        values.append(probabilities)
    problems.raise_any()
    if not names:
        raise ModelFolderError(f"{path} holds no records")
    return OutOfFold(str(path), names, np.array(folds), np.array(values, dtype=np.float64))


def _whole_number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _probability(text: str) -> float | None:
    try:
        p = float(text)
    except ValueError:
        return None
    return p if 0.0 <= p <= 1.0 else None  # NaN fails too

"""One record, from its files to the network's input: `read_record(files, sample_rate) -> Record`.

The one read path of the driver, the training cache, the tools and the challenge functions:
the header (`headers`), the signals in millivolts from the files it names (`record_signal`:
the Challenge's NAME.mat through `matfiles`, native WFDB signal files through `datfiles`),
then the 12 leads at the model's rate (`preprocess`), in `make_record`. `read_record` is the
one place where reading a record is guarded: every failure on the way, the named problems
(`RecordError`) and the unexpected ones (a damaged file that trips a library), becomes that
record's `RecordError`, naming its file and, when unexpected, the exception's type. A run
over a folder then reports the record by name and goes on.
"""

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import datfiles, preprocess
from .errors import RecordError, first_line
from .folders import RecordFiles, name_problem
from .headers import Header, load_header, misstated_gain
from .limits import MAX_RATIO_TERM
from .matfiles import load_signal, to_millivolts


@dataclass
class Record:
    """A record ready for the network."""

    name: str
    signal: np.ndarray  # (12, n) float32 at the model's rate, finite, leads in `preprocess.LEADS` order
    demographics: np.ndarray  # (5,) float32 (`preprocess.demographics`)
    dx: tuple[str, ...] = ()  # SNOMED CT codes as written (the training labels)
    missing: tuple[str, ...] = ()  # leads the record lacks (`preprocess.prepare_signal`; limb leads derived)
    # The signal times `gain` is in true millivolts: not 1 only for a header gain known to be
    # misstated (`headers.misstated_gain`). The network is given the signal as stated; the
    # measurements' voltages need the true one.
    gain: float = 1.0


@contextlib.contextmanager
def _failures_of(path: str) -> Iterator[None]:
    """Anything raised inside is the record's failure: a RecordError naming `path`."""
    try:
        yield
    except RecordError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever one record's files cause, only that record fails
        raise RecordError(path, f"reading it failed unexpectedly ({type(e).__name__}: {first_line(e)})") from e


def make_record(header: Header, signal: np.ndarray, sample_rate: int, name: str | None = None) -> Record:
    """The Record of a header and its millivolt signal (header lead order): finite (12, n)
    float32 at `sample_rate`, named `name` (default: the header's record name)."""
    up, down = preprocess.resampling_ratio(header.sample_rate, sample_rate)
    if max(up, down) > MAX_RATIO_TERM:
        raise RecordError(
            header.path,
            f"sampling rate {header.sample_rate:g} Hz needs too fine a ratio ({up}/{down}) "
            f"to resample to {sample_rate} Hz; give the rate with fewer decimals",
        )
    resampled, missing = preprocess.prepare_signal(
        signal, header.lead_names, header.sample_rate, sample_rate, header.path
    )
    if not np.isfinite(resampled).all():
        raise RecordError(
            header.path,
            f"resampling its {signal.shape[1]} samples from {header.sample_rate:g} Hz "
            f"to {sample_rate} Hz gives values that are not finite",
        )
    gains = misstated_gain(header)
    return Record(
        header.name if name is None else name,
        resampled,
        preprocess.demographics(header.age, header.sex),
        header.dx,
        missing,
        gains[0] / gains[1] if gains else 1.0,
    )


def _read_header(files: RecordFiles) -> Header:
    if files.problem:
        raise RecordError(files.header_path, files.problem)
    if files.header is None:
        raise RecordError(files.header_path, f"header file is missing (there is only {files.mat})")
    problem = name_problem(files.name)
    if problem:
        raise RecordError(files.header_path, problem)
    return load_header(files.header)


def record_signal(header: Header, files: RecordFiles) -> np.ndarray:
    """The millivolt signal (header lead order) of the record of `files` whose header is
    `header`: the `val` of NAME.mat, or the native WFDB signal files its header names (inside
    `files.data_root`)."""
    if header.is_native:
        return to_millivolts(datfiles.load_adc(header, files.folder, files.data_root), header, header.path)
    if files.mat is None:
        raise RecordError(files.mat_path, "signal file is missing")
    return load_signal(header, files.mat)


def read_record(files: RecordFiles | str | os.PathLike, sample_rate: int) -> Record:
    """The Record of `files` (a `folders.RecordFiles`, or the path of a NAME.hea with its
    signal files beside it) at `sample_rate`, named after its files whatever its header says.
    Any failure is a RecordError naming the file."""
    if not isinstance(files, RecordFiles):
        files = RecordFiles.of_header(files)
    with _failures_of(files.header_path):
        header = _read_header(files)
        return make_record(header, record_signal(header, files), sample_rate, files.name)

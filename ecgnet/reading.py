"""One record of a folder, from its files to the network's input signal.

`read_header` and `read_record` are the one place where reading a record is guarded: every
failure on the way, the named problems (`RecordError`) and the unexpected ones (a damaged
file that trips a library), becomes that record's `RecordError`, naming its file and, when
unexpected, the exception's type. A run over a folder then reports the record by name and
goes on. The driver and the training cache both read records through here.
"""
import contextlib

import numpy as np

from . import preprocess
from .records import RecordError, load_header, load_signal, name_problem

# Resampling from rate r to the model's rate uses a filter of about 20 x max(up, down) taps,
# where up/down is the ratio in lowest terms: 500 Hz to 257 Hz is 257/500, but 359.999 Hz is
# 257000/359999 (7 million taps, gigabytes). Every whole-number rate stays far below this.
MAX_RATIO_TERM = 100_000


def _first_line(error, limit=200):
    text = (str(error).splitlines() or [""])[0]
    return text if len(text) <= limit else text[:limit] + "..."


@contextlib.contextmanager
def _failures_of(path):
    """Anything raised inside is the record's failure: a RecordError naming `path`."""
    try:
        yield
    except RecordError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever one record's files cause, only that record fails
        raise RecordError(path, f"reading it failed unexpectedly ({type(e).__name__}: {_first_line(e)})") from e


def read_header(files):
    """The parsed header of `files` (a `records.RecordFiles`)."""
    with _failures_of(files.header_path):
        if files.problem:
            raise RecordError(files.header_path, files.problem)
        if files.header is None:
            raise RecordError(files.header_path, f"header file is missing (there is only {files.mat})")
        problem = name_problem(files.name)
        if problem:
            raise RecordError(files.header_path, problem)
        return load_header(files.header)


def prepare_signal(header, signal, sample_rate):
    """A millivolt signal in header lead order -> finite (12, n) float32 at `sample_rate`."""
    up, down = preprocess.resampling_ratio(header.sample_rate, sample_rate)
    if max(up, down) > MAX_RATIO_TERM:
        raise RecordError(header.path, f"sampling rate {header.sample_rate:g} Hz needs too fine a ratio ({up}/{down}) "
                                       f"to resample to {sample_rate} Hz; give the rate with fewer decimals")
    resampled, _ = preprocess.prepare_signal(signal, header.lead_names, header.sample_rate, sample_rate, header.path)
    if not np.isfinite(resampled).all():
        raise RecordError(header.path, f"resampling its {signal.shape[1]} samples from {header.sample_rate:g} Hz "
                                       f"to {sample_rate} Hz gives values that are not finite")
    return resampled


def read_record(files, sample_rate):
    """(header, signal) of `files`: the signal is finite (12, n) float32 at `sample_rate`."""
    with _failures_of(files.header_path):
        header = read_header(files)
        if files.mat is None:
            raise RecordError(files.mat_path, "signal file is missing")
        return header, prepare_signal(header, load_signal(header, files.mat), sample_rate)

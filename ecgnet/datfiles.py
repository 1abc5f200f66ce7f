"""A native WFDB record's signal files (`NAME.dat`, ...): read within limits, as ADC values.

The header names each signal's file, format, byte offset and initial value (`headers.Storage`);
signals that name the same file are interleaved in it frame by frame, and a record may spread
its signals over several files. Every file name is untrusted: it must be a plain file name in
the record's folder, and the file it opens (links followed) must lie inside DATA, the folder
being read. Each file's size is checked against what the header declares before a byte is read,
and the record against the `limits`. Samples are decoded by `wfdbformats`; WFDB's invalid-sample
value (a gap in the recording) is read as the signal's baseline, 0 mV. Every problem raises
`RecordError` naming the file.
"""

import os
from dataclasses import dataclass

import numpy as np

from . import wfdbformats
from .errors import RecordError, quote
from .files import open_regular
from .headers import Header, Lead, Storage
from .limits import check_size


@dataclass
class _SignalFile:
    name: str  # as the header writes it
    leads: list[int]  # rows of the record, in the file's frame order
    format: wfdbformats.Format
    byte_offset: int


def _storage(lead: Lead) -> Storage:
    """A native record's lead's signal file entry (a header gives it for every lead or none)."""
    assert lead.storage is not None, "only native WFDB records are read here"
    return lead.storage


def _signal_files(header: Header) -> list[_SignalFile]:
    """The files of a native record, each with its signals (consecutive signal lines of one
    file name), checked to share one format and byte offset and to use only what is read here."""
    files: list[_SignalFile] = []
    for row, lead in enumerate(header.leads):
        storage = _storage(lead)
        where = f"signal line {row + 1} ({quote(lead.name)})"
        fmt = wfdbformats.format_of(storage.format)
        if isinstance(fmt, str):
            raise RecordError(header.path, f"{where}: {fmt}")
        if storage.samples_per_frame != 1:
            raise RecordError(
                header.path,
                f"{where} has {storage.samples_per_frame} samples per frame (a multi-frequency record), "
                "which is not supported",
            )
        if storage.skew:
            raise RecordError(header.path, f"{where} has a skew of {storage.skew} samples, which is not supported")
        if files and files[-1].name == lead.file:
            current = files[-1]
            if (fmt, storage.byte_offset) != (current.format, current.byte_offset):
                raise RecordError(
                    header.path, f"{where}: the signals of {quote(lead.file)} differ in format or byte offset"
                )
            current.leads.append(row)
            continue
        if any(f.name == lead.file for f in files):
            raise RecordError(header.path, f"{where}: the signal lines of {quote(lead.file)} are not one after another")
        files.append(_SignalFile(lead.file, [row], fmt, storage.byte_offset))
    return files


def signal_path(name: str, folder: str, root: str, header_path: str) -> str:
    """The path of signal file `name` (as a header writes it) of a record in `folder`, refused
    unless it is a plain file name there whose file (links followed) lies inside `root`."""
    plain = name not in ("", ".", "..") and not any(c in name for c in "/\\\0") and not os.path.isabs(name)
    if not plain:
        raise RecordError(header_path, f"signal file {quote(name)} is not a plain file name in the record's folder")
    path = os.path.join(folder, name)
    real, top = os.path.realpath(path), os.path.realpath(root)
    if real != top and not real.startswith(top.rstrip(os.sep) + os.sep):
        raise RecordError(path, f"signal file is a link to a file outside the data folder {root}")
    return path


def _frames(file: _SignalFile, size: int, header: Header, path: str) -> int:
    """The frames `file` (of `size` bytes) holds: the header's sample count, checked against
    the size, or, where the header gives none, as many as the size holds."""
    signals = len(file.leads)
    data = size - file.byte_offset
    if header.num_samples is None:
        frames = file.format.values_in(max(data, 0)) // signals
    else:
        frames = header.num_samples
    fewest, most = file.format.byte_range(frames * signals)
    if not fewest <= data <= most:
        declared = "the header's" if header.num_samples is not None else "whole"
        need = f"{file.byte_offset + fewest}" + (f" to {file.byte_offset + most}" if most > fewest else "")
        raise RecordError(
            path,
            f"signal file is {size} bytes, but {declared} {frames} samples of {signals} signal(s) in format "
            f"{file.format.code} after a {file.byte_offset}-byte offset take {need} bytes",
        )
    return frames


def _read(file: _SignalFile, path: str, header: Header, frames: int | None) -> np.ndarray:
    """The samples (frames x signals) of one signal file, its size checked before reading."""
    with open_regular(path, "signal file") as f:
        opened = os.fstat(f.fileno())
        real = os.stat(os.path.realpath(path))
        if (opened.st_dev, opened.st_ino) != (real.st_dev, real.st_ino):
            raise RecordError(path, "signal file changed while it was opened")
        count = _frames(file, opened.st_size, header, path)
        if frames is not None and count != frames:
            raise RecordError(path, f"signal file holds {count} samples per signal, other files of the record {frames}")
        check_size(len(header.leads), count, header.sample_rate, path)
        f.seek(file.byte_offset)
        need = file.format.byte_range(count * len(file.leads))[0]
        data = f.read(need)
    if len(data) != need:
        raise RecordError(path, f"signal file ended after {len(data)} of {need} bytes while it was read")
    initial = [_storage(header.leads[row]).initial_value for row in file.leads]
    return wfdbformats.decode(data, file.format, len(file.leads), count, initial)


def load_adc(header: Header, folder: str, root: str | None = None) -> np.ndarray:
    """The ADC values (int32, leads x samples, header lead order) of a native WFDB record whose
    header is in `folder`, its signal files confined to `root` (default: `folder`); WFDB's
    invalid samples are set to their lead's baseline."""
    root = folder if root is None else root
    files = _signal_files(header)
    adc: np.ndarray | None = None
    frames: int | None = None
    for file in files:
        path = signal_path(file.name, folder, root, header.path)
        samples = _read(file, path, header, frames)
        frames = samples.shape[0]
        if adc is None:
            adc = np.empty((len(header.leads), frames), dtype=np.int32)
        if file.format.code == "8" and samples.size and not (-(2**31) <= samples.min() <= samples.max() < 2**31):
            raise RecordError(path, "format 8 differences add up beyond 32-bit values: is the initial value right?")
        for column, row in enumerate(file.leads):
            values = samples[:, column]
            if file.format.invalid is not None:
                baseline = min(max(round(header.leads[row].baseline), -(2**31)), 2**31 - 1)
                values = np.where(values == file.format.invalid, baseline, values)
            adc[row] = values
    if adc is None or frames == 0:
        raise RecordError(os.path.join(folder, files[0].name), "record has no samples")
    return adc

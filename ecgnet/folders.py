"""Which files of a folder make which records, and which record names can be written.

`list_records` is the one lister: the driver, training and the scorer (through `find_records`,
the official scorer's view of the same rules) all see a folder's records through it.
"""

import os
import re
from dataclasses import dataclass

from .errors import RecordError


def name_prefix(record_name: str) -> str:
    """The letters a record name starts with, which name its source (A, Q, I, S, HR, E, JS...)."""
    match = re.match(r"[A-Za-z]*", record_name)
    return match.group(0)


def name_problem(record_name: str) -> str | None:
    """Why a record name cannot be written into a CSV file (and its first line), or None."""
    if not record_name.isprintable():
        return f"record name {record_name!r} holds a line break or another unprintable character"
    for character, what in ((",", "a comma"), ('"', "a double quote")):
        if character in record_name:
            return f"record name {record_name!r} holds {what}, which would break CSV files"
    return None


@dataclass(frozen=True)
class RecordFiles:
    """One record of a folder: its name and files. A file that is absent is None; `problem`
    says why the files cannot make a record (two headers of one name, say)."""

    folder: str
    name: str
    header: str | None
    mat: str | None
    problem: str | None = None

    @classmethod
    def of_header(cls, header_path: str | os.PathLike) -> "RecordFiles":
        """The record of a header file, its signal file beside it."""
        stem = os.path.splitext(str(header_path))[0]
        return cls(os.path.dirname(stem), os.path.basename(stem), str(header_path), stem + ".mat")

    @property
    def header_path(self) -> str:
        """The header, or where it should be."""
        return self.header or os.path.join(self.folder, self.name + ".hea")

    @property
    def mat_path(self) -> str:
        """The signal file, or where it should be."""
        return self.mat or os.path.join(self.folder, self.name + ".mat")


def list_records(folder: str | os.PathLike, require: bool = False) -> list[RecordFiles]:
    """Every record of a folder, sorted by name: each NAME.hea and NAME.mat (extensions in any
    case: NAME.HEA pairs with NAME.MAT) makes one; either file may be absent. Hidden files
    and folders are ignored; links are followed, and kept even when broken (their record
    then fails by name). With `require`, a folder without records is an error."""
    folder = str(folder)
    if not os.path.isdir(folder):
        raise RecordError(folder, "is a file, not a folder" if os.path.exists(folder) else "folder does not exist")
    try:
        names = os.listdir(folder)
    except OSError as e:
        raise RecordError(folder, f"cannot list folder: {e.strerror or e}") from None
    files = {}
    for entry in sorted(names):
        stem, extension = os.path.splitext(entry)
        path = os.path.join(folder, entry)
        if extension.lower() in (".hea", ".mat") and not entry.startswith(".") and not os.path.isdir(path):
            files.setdefault(stem, {}).setdefault(extension.lower(), []).append(path)
    if require and not files:
        raise RecordError(folder, "holds no records (no NAME.hea or NAME.mat files)")
    return [_record_files(folder, stem, found) for stem, found in sorted(files.items())]


def _record_files(folder: str, name: str, found: dict[str, list[str]]) -> RecordFiles:
    clashes = [paths for paths in found.values() if len(paths) > 1]
    problem = f"has several files of one kind: {', '.join(clashes[0])}" if clashes else None
    return RecordFiles(folder, name, found.get(".hea", [None])[0], found.get(".mat", [None])[0], problem)


def find_records(folder: str | os.PathLike) -> list[str]:
    """Paths of the `.hea` files of a folder that are regular files, sorted by file name, as
    the official code lists them (hidden files ignored)."""
    return sorted(
        (r.header for r in list_records(folder) if r.header and os.path.isfile(r.header)), key=os.path.basename
    )

"""Which files of a folder make which records, and which record names can be written.

`iter_records` is the one lister: the driver, training, the tools and the scorer (through
`find_records`, the official scorer's view of the same rules) all see a folder's records
through it. A record is a `NAME.hea` and the `NAME.mat` beside it (either may be absent); the
native WFDB signal files a header names (`NAME.dat`, ...) are found through the header, not
here. A folder's subfolders are searched too when asked (`recursive=True`), and by default
when the folder holds no records of its own (PTB-XL's `records500/00000/...`, the 2021
Challenge's `g1/`, `g2/`, ...). Records are named by their files, so two records of one name in
different subfolders are an error that names both. The listing streams: folder by folder, each
folder's names sorted, so a collection of a million records in nested folders is never held
or sorted in memory whole (only the set of names seen, to find repeated ones).
"""

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import RecordError

RECORD_EXTENSIONS = (".hea", ".mat")


def name_prefix(record_name: str) -> str:
    """The letters a record name starts with, which name its source (A, Q, I, S, HR, E, JS...)."""
    match = re.match(r"[A-Za-z]*", record_name)
    assert match is not None  # the pattern matches every string, if only with ""
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
    says why the files cannot make a record (two headers of one name, say). `root` is DATA,
    the folder the record was listed from, which the signal files its header names must not
    leave (None: the record's own folder)."""

    folder: str
    name: str
    header: str | None
    mat: str | None
    problem: str | None = None
    root: str | None = None

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

    @property
    def data_root(self) -> str:
        return self.root or self.folder


def _check_folder(folder: str) -> None:
    if not os.path.isdir(folder):
        raise RecordError(folder, "is a file, not a folder" if os.path.exists(folder) else "folder does not exist")


def _scan(folder: str) -> tuple[dict[str, dict[str, list[str]]], list[str]]:
    """({stem: {extension: [paths]}} of a folder's record files, [its subfolders]), hidden
    entries ignored. Links to files are kept (even broken: their record then fails by name);
    links to folders are neither records nor searched."""
    try:
        with os.scandir(folder) as entries:
            found = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
    except OSError as e:
        raise RecordError(folder, f"cannot list folder: {e.strerror or e}") from None
    files: dict[str, dict[str, list[str]]] = {}
    subfolders: list[str] = []
    for entry, is_folder in sorted(found):
        if entry.startswith("."):
            continue
        path = os.path.join(folder, entry)
        if is_folder:
            subfolders.append(path)
            continue
        stem, extension = os.path.splitext(entry)
        if extension.lower() in RECORD_EXTENSIONS and not os.path.isdir(path):
            files.setdefault(stem, {}).setdefault(extension.lower(), []).append(path)
    return files, subfolders


def iter_records(
    folder: str | os.PathLike, recursive: bool | None = None, require: bool = False
) -> Iterator[RecordFiles]:
    """Every record of a folder: its own, sorted by name, then (when `recursive`, or when None
    and the folder has no records of its own) those of each subfolder in name order, depth
    first. Each NAME.hea and NAME.mat (extensions in any case: NAME.HEA pairs with NAME.MAT)
    makes one; either file may be absent. Hidden files and folders are ignored. With
    `require`, a folder without records is an error; so are two records of one name."""
    folder = str(folder)
    _check_folder(folder)
    files, subfolders = _scan(folder)
    if recursive is None:
        recursive = not files
    count = len(files)
    yield from (_record_files(folder, stem, found, folder) for stem, found in sorted(files.items()))
    seen = dict.fromkeys(files, folder) if recursive else {}
    pending = list(reversed(subfolders)) if recursive else []
    while pending:
        current = pending.pop()
        files, subfolders = _scan(current)
        pending.extend(reversed(subfolders))
        for stem, found in sorted(files.items()):
            if stem in seen:
                first, second = os.path.join(seen[stem], stem), os.path.join(current, stem)
                raise RecordError(
                    folder,
                    f"two records are named {stem!r}: {first} and {second}; outputs are named by record, "
                    "so rename or move one",
                )
            seen[stem] = current
            count += 1
            yield _record_files(current, stem, found, folder)
    if require and not count:
        raise RecordError(folder, "holds no records (no NAME.hea or NAME.mat files)")


def list_records(folder: str | os.PathLike, require: bool = False, recursive: bool | None = None) -> list[RecordFiles]:
    """`iter_records` as a list sorted by record name (the order training and the tools use)."""
    return sorted(iter_records(folder, recursive, require), key=lambda files: files.name)


def _record_files(folder: str, name: str, found: dict[str, list[str]], root: str) -> RecordFiles:
    clashes = [paths for paths in found.values() if len(paths) > 1]
    problem = f"has several files of one kind: {', '.join(clashes[0])}" if clashes else None
    return RecordFiles(folder, name, found.get(".hea", [None])[0], found.get(".mat", [None])[0], problem, root)


def find_records(folder: str | os.PathLike, recursive: bool | None = None) -> list[str]:
    """Paths of the `.hea` files of a folder that are regular files, sorted by file name, as
    the official code lists them (hidden files ignored); subfolders as `iter_records`."""
    return sorted(
        (r.header for r in iter_records(folder, recursive) if r.header and os.path.isfile(r.header)),
        key=os.path.basename,
    )

"""File-system helpers: files written whole or not at all, and guarded reading of untrusted files.

Every file the project writes (output files, the MODEL folder, the cache index, scores) goes
through `atomic_file`: the data go to a new, exclusively created, randomly named hidden file
in the target's folder, which is then renamed over the target. A crash never leaves a
half-written file, and a file or link planted in the folder is never written through.

Every file a command reads that is not a record (CSV, JSON, text) goes through `read_text`
or `read_json`: a regular file, within a size limit checked before reading, UTF-8 with or
without a byte order mark; each refusal names the file and the problem.
"""

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from typing import IO, Any

from .errors import InputFileError, RecordError, first_line


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, binary: bool = False) -> Iterator[IO]:
    """A new file to write `path`'s content into; it replaces `path` when the block ends
    without an error, and is removed otherwise (`path` keeps its old content). An OSError
    names `path`, not the temporary file (the name is short enough for any file name the
    folder allows), even where the system named none (a write to a full disk)."""
    path = os.fspath(path)
    temporary = os.path.join(os.path.dirname(path), f".{secrets.token_hex(8)}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        e.filename = path
        raise
    try:
        with os.fdopen(descriptor, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            yield f
        os.replace(temporary, path)
    except BaseException as e:
        os.unlink(temporary)
        # A failed write (a full disk) names no file, a failed rename the temporary one.
        if isinstance(e, OSError) and e.filename in (None, temporary):
            e.filename, e.filename2 = path, None
        raise


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write `data` (text or bytes) to `path` through `atomic_file`."""
    with atomic_file(path, binary=isinstance(data, bytes)) as f:
        f.write(data)


def _check_regular(mode: int, path: str | os.PathLike, what: str) -> None:
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, pipe or socket)"
        raise RecordError(path, f"{what} is {kind}")


def open_regular(path: str | os.PathLike, what: str) -> IO[bytes]:
    """`path` opened for binary reading if it is a regular file: never a folder, a device such
    as /dev/zero, or a pipe, whose reading could block or never end. RecordError otherwise,
    `what` naming the file's role ("header file")."""
    try:
        _check_regular(os.stat(path).st_mode, path, what)  # devices and pipes are never opened
        # ... and what was opened is checked again: a pipe swapped in since would block a plain open
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            _check_regular(os.fstat(descriptor).st_mode, path, what)
        except RecordError:
            os.close(descriptor)
            raise
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except FileNotFoundError:
        dangling = os.path.islink(path)
        raise RecordError(path, f"{what} is {'a link to a missing file' if dangling else 'missing'}") from None
    except OSError as e:
        raise RecordError(path, f"cannot read {what}: {e.strerror or e}") from None


def _read_at_most(f: IO[bytes], limit: int, chunk: int = 1 << 20) -> bytes:
    """Up to `limit` bytes of `f`, read in chunks: `f.read(limit)` would set aside `limit` bytes
    however small the file (64 MiB for every small file read under a 64 MiB limit)."""
    parts, total = [], 0
    while total < limit:
        part = f.read(min(chunk, limit - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)


def read_text(path: str | os.PathLike, what: str, max_bytes: int) -> str:
    """The text of `path`, a regular file of at most `max_bytes` bytes in UTF-8 (a byte order
    mark, as spreadsheet programs write, is dropped). InputFileError otherwise, naming the file,
    its role `what` ("answers file") and the problem; nothing larger than the limit is read."""
    try:
        with open_regular(path, what) as f:
            size = os.fstat(f.fileno()).st_size
            data = _read_at_most(f, max_bytes + 1) if size <= max_bytes else b""
    except RecordError as e:
        raise InputFileError(str(e)) from None
    if size > max_bytes or len(data) > max_bytes:
        raise InputFileError(
            f"{path}: the {what} is {max(size, len(data)):,} bytes, more than the {max_bytes:,} allowed"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputFileError(
            f"{path}: the {what} is not UTF-8 text (line {line}, byte {e.start}); save it as UTF-8 (CSV UTF-8)"
        ) from None


def read_json(path: str | os.PathLike, what: str, max_bytes: int) -> Any:
    """The JSON value in `path` (read as `read_text`); InputFileError naming the file, line and
    column of a syntax error. NaN and Infinity, which are not JSON, are refused."""
    import json

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not a JSON number")

    text = read_text(path, what, max_bytes)
    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as e:
        raise InputFileError(
            f"{path}: the {what} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
        ) from None
    except (ValueError, RecursionError) as e:
        raise InputFileError(f"{path}: the {what} is not valid JSON ({first_line(e)})") from None

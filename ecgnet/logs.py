"""Log output of every command: one format, rank-aware under torchrun, and MODEL/train.log.

Modules log through `logging.getLogger(__name__)` (all below the `ecgnet` logger). Entry points
call `configure()` once; it is idempotent, so library entry points (team_code's functions) call
it too and a user's own logging set-up is left alone where it already handles `ecgnet`.

    12:03:41 fold 1/5 epoch 3/70 loss 0.0912 ...            one process
    12:03:41 [rank 1] fold 2/5 epoch 3/70 loss 0.0907 ...   under torchrun (WORLD_SIZE > 1)

Under torchrun only rank 0 logs below WARNING, unless `all_ranks` (each process trains its own
folds with --parallel-folds, so each has its own progress to report). The setting belongs to the
handlers `configure` and `to_file` attach (each has its own filter), not to this module.
"""

import contextlib
import logging
import os
import sys

ROOT = "ecgnet"
_FORMAT = "%(asctime)s %(rank)s%(message)s"
_DATE_FORMAT = "%H:%M:%S"


def _rank():
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


class _RankFilter(logging.Filter):
    """Adds `rank` (the prefix) to every record; drops other ranks' info unless `all_ranks`."""

    def __init__(self, all_ranks: bool = False):
        super().__init__()
        self.all_ranks = all_ranks

    def filter(self, record):
        rank, world = _rank()
        record.rank = f"[rank {rank}] " if world > 1 else ""
        return rank == 0 or self.all_ranks or record.levelno >= logging.WARNING


class _StreamHandler(logging.StreamHandler):
    """The handler `configure` attaches (marked, so that configuring again finds it)."""

    _ecgnet = True


class _StderrHandler(_StreamHandler):
    """Writes to whatever `sys.stderr` is when a record is emitted, not when configured (test
    runners and callers swap it)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _):
        pass


def _formatter():
    return logging.Formatter(_FORMAT, _DATE_FORMAT)


def configure(level=logging.INFO, all_ranks=None, stream=None):
    """Send `ecgnet` log records to `stream` (default stderr) in the one format. Calling it again
    changes only `level` and `all_ranks` (when given)."""
    logger = logging.getLogger(ROOT)
    logger.setLevel(level)
    handler = _stream_handler(logger)
    if handler is None:
        handler = _StreamHandler(stream) if stream else _StderrHandler()
        handler.setFormatter(_formatter())
        handler.addFilter(_RankFilter())
        logger.addHandler(handler)
    if all_ranks is not None:
        _rank_filter(handler).all_ranks = all_ranks
    return logger


def _stream_handler(logger: logging.Logger) -> logging.Handler | None:
    """The handler `configure` attached to `logger`, if any."""
    return next((h for h in logger.handlers if getattr(h, "_ecgnet", False)), None)


def _rank_filter(handler: logging.Handler) -> _RankFilter:
    return next(f for f in handler.filters if isinstance(f, _RankFilter))


class _FileHandler(logging.FileHandler):
    """A log file that cannot be written (a full disk) is reported once, in one line, instead of
    logging's traceback for every record; the run's own errors say what failed."""

    failed = False

    def _report(self, error):
        if not self.failed:
            self.failed = True
            reason = getattr(error, "strerror", None) or error
            print(f"warning: cannot write the log to {self.baseFilename}: {reason}", file=sys.stderr)

    def handleError(self, record):
        self._report(sys.exc_info()[1])

    def close(self):
        try:  # the last buffered lines are written now: a failure must not hide the run's own error
            super().close()
        except OSError as e:
            self._report(e)


def duration(seconds: float) -> str:
    """`seconds` as the log writes a time: 4m05s, or 2h03m from an hour on."""
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


@contextlib.contextmanager
def to_file(path):
    """Also append `ecgnet` log records to `path` (MODEL/train.log) while the block runs."""
    handler = _FileHandler(path, encoding="utf-8")
    handler.setFormatter(_formatter())
    logger = logging.getLogger(ROOT)
    stream = _stream_handler(logger)  # the file logs the ranks the stream does
    handler.addFilter(_RankFilter(stream is not None and _rank_filter(stream).all_ranks))
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        handler.close()

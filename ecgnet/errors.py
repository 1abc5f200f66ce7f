"""The project's errors: problems with the user's records, model folder, settings or folders.

Each is an `EcgnetError` whose message says what is wrong and where, in plain words. The
command line (`ecgnet.cli.parsing.command`) catches `EcgnetError` (and `OSError`, for paths the
user gave), prints that message and exits with the command's error status, or with the error's
own `exit_status` where its class sets one; anything else is a programming error and shows its
traceback.
"""


class EcgnetError(Exception):
    """A problem with what the user gave; the message says what is wrong and where."""


class RecordError(EcgnetError):
    """A record that cannot be read. `path` is the offending file, `problem` what is wrong."""

    def __init__(self, path: object, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class ModelFolderError(EcgnetError):
    """A MODEL folder that cannot be used; the message says which file and why."""


class TrainingError(EcgnetError):
    """A training run that cannot go on; the message says why and what to do."""


class ScoringError(EcgnetError):
    """Inputs the scorer cannot score; the message names the file."""


class ConfigError(EcgnetError, ValueError):
    """Settings that are invalid. Also a ValueError, as bad settings were before."""


class OutputError(EcgnetError):
    """An output folder or file that cannot be written."""


class InputFileError(EcgnetError):
    """A file given to a command, other than a record, that cannot be used (a CSV, JSON or text
    file); the message names the file and, where known, the row and column."""


class ComparisonError(EcgnetError):
    """A comparison of variants (`ecgnet compare`) that cannot run or be summarised."""


class ReportError(EcgnetError):
    """Inputs a report (`ecgnet report`) cannot be made from; the message names the file and the problem."""


def describe(error: BaseException) -> str:
    """`error`'s message in plain words: an OSError as 'PATH: reason', not '[Errno N] ...'."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return str(error)


def quote(text: str, limit: int = 40) -> str:
    """`text` of an untrusted file for an error message: quoted, escaped, and cut short."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of `error`'s message, cut short: libraries' messages can be pages long."""
    text = (str(error).splitlines() or [""])[0]
    return text if len(text) <= limit else text[:limit] + "..."

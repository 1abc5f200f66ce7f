"""What every command shares: its parser (`command_parser`, one help formatter) and the way its
errors become exit statuses (`command`).

A command is a function `(argv, prog) -> exit status`. `command` wraps it once, so that no
command writes its own error handling: the project's errors (`errors.EcgnetError`) and
`OSError` (a path the user gave) print one line, `error: ...`, and return the command's error
status (or the error's own `exit_status`, such as incomplete review answers' 3); a module of
the `review` extra that is not installed returns 2 with the line that installs it; anything
else is a programming error and shows its traceback.
"""

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

from .. import logs
from ..errors import EcgnetError, describe


class Command(Protocol):
    """A command: its arguments (default: `sys.argv[1:]`) and program name -> its exit status."""

    def __call__(self, argv: Sequence[str] | None = None, prog: str | None = None) -> int: ...


# The modules of the `review` extra (cleanlab, statsmodels, matplotlib; scikit-learn comes with
# cleanlab), which the challenge image does not install.
REVIEW_EXTRA = frozenset(("cleanlab", "statsmodels", "matplotlib", "sklearn"))


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps description and epilog as written and appends each option's default to its help,
    unless the help already says it or there is none to show (None, False, an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default is None or default is False or default in (argparse.SUPPRESS, []):
            return text
        if action.option_strings or action.nargs in ("?", "*"):
            return f"{text} (default: %(default)s)"
        return text


def command_parser(prog: str | None, description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """A command's parser. Without `epilog`, the first paragraph of `description` is the
    description and the rest the epilog (a docstring's layout)."""
    if epilog is None:
        description, _, rest = description.strip().partition("\n\n")
        epilog = rest or None
    return argparse.ArgumentParser(prog=prog, description=description, epilog=epilog, formatter_class=HelpFormatter)


def command(
    error_status: int = 1, default_prog: str | None = None, review_extra: bool = False
) -> Callable[[Command], Command]:
    """Wrap a command: configure the log, run it, and turn its errors into exit statuses
    (`error_status`; see the module's docstring). `default_prog`: the program name in its
    messages when the caller gives none (None: argparse's, the script's name).
    `review_extra`: the command needs the `review` extra."""

    def wrap(run: Command) -> Command:
        @functools.wraps(run)
        def wrapped(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
            prog = prog or default_prog
            logs.configure()
            try:
                return run(argv, prog)
            except (EcgnetError, OSError) as e:
                print(f"error: {describe(e)}", file=sys.stderr)
                return getattr(e, "exit_status", error_status)
            except ModuleNotFoundError as e:
                if not review_extra or (e.name or "").split(".")[0] not in REVIEW_EXTRA:
                    raise
                print(
                    f"error: {prog} needs {e.name}, part of the review extra: pip install 'ecgnet[review]'",
                    file=sys.stderr,
                )
                return 2

        return wrapped

    return wrap

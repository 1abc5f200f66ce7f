"""The shape of a JSON value read from a file, checked before any of it is used.

A model folder or a scores file is passed around: a value of the wrong type in it (a string
where a number belongs, a list where an object does) must be refused with its place named
(`folds[0].records: '<script>' is not a whole number`), not crash a formatter or land in a page.
A shape says, for the keys a reader uses, what each holds; keys it does not name are not
checked (they are not used). Numbers and text may be null (a reader shows nothing there) unless
`null=False`; objects, lists and choices may not, unless `null=True`.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .errors import quote


class Shape:
    null: bool = False

    def what(self) -> str:
        raise NotImplementedError

    def fits(self, value: object) -> bool:
        raise NotImplementedError

    def check(self, value: object, where: str, found: list[str]) -> None:
        """Add to `found` each problem of `value` (at `where`) and of what it holds."""
        if value is None and self.null:
            return
        if not self.fits(value):
            shown = quote(value) if isinstance(value, str) else type(value).__name__ if value is not None else "null"
            found.append(f"{where or 'the file'}: {shown} is not {self.what()}")
            return
        self.check_inside(value, where, found)

    def check_inside(self, value: object, where: str, found: list[str]) -> None:
        pass


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class Number(Shape):
    null: bool = True

    def what(self):
        return "a number"

    def fits(self, value):
        return _is_number(value)


@dataclass
class Integer(Shape):
    null: bool = True

    def what(self):
        return "a whole number"

    def fits(self, value):
        return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Text(Shape):
    null: bool = True

    def what(self):
        return "text"

    def fits(self, value):
        return isinstance(value, str)


@dataclass
class Flag(Shape):
    null: bool = True

    def what(self):
        return "true or false"

    def fits(self, value):
        return isinstance(value, bool)


@dataclass
class OneOf(Shape):
    choices: tuple = ()
    null: bool = False

    def what(self):
        return f"one of {', '.join(self.choices)}"

    def fits(self, value):
        return isinstance(value, str) and value in self.choices


@dataclass
class ListOf(Shape):
    item: Shape = field(default_factory=Number)
    null: bool = False

    def what(self):
        return "a list"

    def fits(self, value):
        return isinstance(value, list)

    def check_inside(self, value, where, found):
        for i, item in enumerate(value):
            self.item.check(item, f"{where}[{i}]", found)


@dataclass
class MapOf(Shape):
    """An object whose keys are names chosen by the writer (sources, metrics), each of `item`."""

    item: Shape = field(default_factory=Number)
    null: bool = False

    def what(self):
        return "an object"

    def fits(self, value):
        return isinstance(value, dict)

    def check_inside(self, value, where, found):
        for key, item in value.items():
            self.item.check(item, f"{where}.{key}" if where else str(key), found)


@dataclass
class Fields(Shape):
    """An object with these keys (`required` ones must be there; others it holds are not used)."""

    fields: Mapping[str, Shape] = field(default_factory=dict)
    required: Sequence[str] = ()
    null: bool = False

    def what(self):
        return "an object"

    def fits(self, value):
        return isinstance(value, dict)

    def check_inside(self, value, where, found):
        for key in self.required:
            if key not in value:
                found.append(f"{where or 'the file'}: {key} is missing")
        for key, shape in self.fields.items():
            if key in value:
                shape.check(value[key], f"{where}.{key}" if where else key, found)


def problems(value: object, shape: Shape) -> list[str]:
    """Every place where `value` does not have `shape`, as 'place: problem'."""
    found: list[str] = []
    shape.check(value, "", found)
    return found

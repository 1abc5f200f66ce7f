"""The review tools' readers under random damage (property-based, with hypothesis).

A valid label overrides file and a valid audit file (label_issues.csv) are damaged at random:
bytes changed, inserted or cut, rows repeated or cut short, cells replaced by hostile text
(formulas, markup, numbers out of range, NaN), a byte order mark, another encoding. Whatever
the damage, each reader gives its result or its own error (an `EcgnetError` naming the file),
never another exception; `relabel` exits 0 or 2 and, refused, leaves the good file it was
to replace as it was; what a reader accepts survives writing and reading again unchanged.
Bounded and deterministic: a fixed number of examples.
"""

import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecgnet import labels as label_space
from ecgnet import overrides
from ecgnet.errors import EcgnetError

pytest.importorskip("statsmodels")
from ecgnet.cli import review as commands  # noqa: E402
from ecgnet.review import audit, kit_inputs, relabel  # noqa: E402
from ecgnet.review.formats import ISSUE_COLUMNS  # noqa: E402

LAD, AF = "39732003", "164889003"
HOSTILE = st.sampled_from(
    [
        "",
        "=cmd|' -C calc'!A4",
        "'quoted",
        "<script>alert(1)</script>",
        "nan",
        "inf",
        "-1",
        "1e999",
        "weight:nan",
        "weight:2",
        "weight:0.3",
        "drop",
        "*",
        "mask",
        "12345",
        LAD,
        "a,b",
        'x"y',
        "R\n1",
        "\t=1+1",
        "Ä" * 50,
        "9" * 400,
    ]
)


def valid_overrides():
    rows = [("A1", LAD, "1"), ("A1", AF, "mask"), ("B2", "*", "drop"), ("C3", LAD, "weight:0.25")]
    return ("record,class,label\n" + "".join(",".join(r) + "\n" for r in rows)).encode()


def valid_issues():
    buffer = io.StringIO()
    buffer.write(",".join(ISSUE_COLUMNS) + "\n")
    for rank, (record, code) in enumerate([("A1", LAD), ("B2", AF), ("C3", LAD)], start=1):
        buffer.write(f"{record},A,{code},X,1,0.1,0.5,0.1,spurious,{rank}\n")
    return buffer.getvalue().encode()


@st.composite
def damaged(draw, original):
    """`original` (bytes of a CSV file) with a few random kinds of damage."""
    data = original
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["byte", "insert", "cut", "repeat", "cell", "bom", "latin1", "long", "short"]))
        lines = data.split(b"\n")
        if kind == "byte" and data:
            i = draw(st.integers(0, len(data) - 1))
            data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
        elif kind == "insert":
            i = draw(st.integers(0, len(data)))
            data = data[:i] + draw(st.binary(max_size=8)) + data[i:]
        elif kind == "cut" and data:
            i = draw(st.integers(0, len(data) - 1))
            data = data[:i] + data[i + draw(st.integers(1, 20)) :]
        elif kind == "repeat" and len(lines) > 1:
            i = draw(st.integers(0, len(lines) - 1))
            data = b"\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
        elif kind == "cell" and len(lines) > 1:
            i = draw(st.integers(0, len(lines) - 1))
            cells = lines[i].split(b",")
            j = draw(st.integers(0, len(cells) - 1))
            cells[j] = draw(HOSTILE).encode()
            lines[i] = b",".join(cells)
            data = b"\n".join(lines)
        elif kind == "bom":
            data = b"\xef\xbb\xbf" + data
        elif kind == "latin1":
            data = data.decode("utf-8", errors="replace").encode("latin-1", errors="replace") + b"\xe9"
        elif kind == "long" and len(lines) > 1:
            i = draw(st.integers(1, len(lines) - 1))
            lines[i] += b",extra"
            data = b"\n".join(lines)
        elif kind == "short" and len(lines) > 1:
            i = draw(st.integers(1, len(lines) - 1))
            lines[i] = lines[i].rsplit(b",", 1)[0]
            data = b"\n".join(lines)
    return data


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(content=damaged(valid_overrides()))
def test_any_damage_to_an_overrides_file_is_a_named_error_or_a_file_that_round_trips(tmp_path_factory, content):
    folder = tmp_path_factory.mktemp("overrides")
    path = folder / "o.csv"
    path.write_bytes(content)
    try:
        read = overrides.read_overrides(path)
    except EcgnetError as e:
        assert str(e).startswith(str(path))
        return
    rows = (
        [(r, label_space.CLASSES[k], str(v)) for (r, k), v in read.labels.items()]
        + [(r, label_space.CLASSES[k], "mask") for r, k in read.masked]
        + [(r, label_space.CLASSES[k], f"weight:{w!r}") for (r, k), w in read.weights.items()]
        + [(r, "*", "drop") for r in read.dropped]
    )
    overrides.write_overrides(str(folder / "again.csv"), rows)
    again = overrides.read_overrides(folder / "again.csv")
    assert (again.labels, again.masked, again.dropped, again.weights) == (
        read.labels,
        read.masked,
        read.dropped,
        read.weights,
    )


@SETTINGS
@given(content=damaged(valid_issues()))
def test_any_damage_to_an_audit_file_is_a_named_error_or_usable_rows(tmp_path_factory, content):
    folder = tmp_path_factory.mktemp("issues")
    path = folder / "label_issues.csv"
    path.write_bytes(content)
    good = folder / "good.csv"
    good.write_text(f"record,class,label\nZ9,{LAD},1\n")
    for reader in (
        lambda: audit.read_issues(str(path)),
        lambda: kit_inputs.read_audit(str(path), None),
        lambda: relabel.overrides_from_audit(str(path), 0.5),
    ):
        try:
            reader()
        except EcgnetError as e:
            assert str(e).startswith(str(path))
    status = commands.relabel(["--from-audit", str(path), "--weight", "0.5", "--out", str(good)])
    assert status in (0, 2)
    if status == 2:
        assert good.read_text() == f"record,class,label\nZ9,{LAD},1\n"
    else:
        overrides.read_overrides(good)  # what relabel writes, training reads
    assert sorted(os.listdir(folder)) == ["good.csv", "label_issues.csv"]  # no temporary left

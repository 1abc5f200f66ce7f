"""ecgnet's native WFDB reader against wfdb's `rdrecord` at run time: speed, import cost, and
what each does with hostile records (the measurement behind keeping wfdb a test oracle).

    python -m ecgnet.benchmarks.wfdb_reader [--records N] [--json FILE]

Needs wfdb, a test dependency. Writes N synthetic 12-lead 10 s records with `wfdb.wrsamp` in
formats 16, 212 and 24, and reads them all with `ecgnet.records.record_signal` (millivolts,
float32) and with `wfdb.rdrecord` (physical float64, and digital), the best of three passes
each; the PTB-XL sample too where it is found. Then imports each reader in a fresh process
(wall time and peak memory), and runs `wfdb.rdrecord` on the hostile records of
tests/test_wfdb.py, saying for each what it did.
"""

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from typing import Any

import numpy as np

from ecgnet.benchmarks.tools import machine, run_measured
from ecgnet.errors import RecordError
from ecgnet.files import atomic_write
from ecgnet.folders import RecordFiles, list_records
from ecgnet.headers import load_header
from ecgnet.records import record_signal

PTBXL = os.path.join("..", "shared", "data", "ptbxl_sample")


def _wfdb():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import wfdb
    return wfdb


def write_records(folder: str, count: int, fmt: str) -> list[str]:
    """`count` records of 12 leads x 5000 samples in `fmt`, written by wfdb; their stems."""
    wfdb = _wfdb()
    rng = np.random.default_rng(0)
    stems = []
    for k in range(count):
        d = rng.integers(-2000, 2000, size=(5000, 12), dtype=np.int32)
        name = f"R{fmt}_{k:05d}"
        wfdb.wrsamp(
            name,
            fs=500,
            units=["mV"] * 12,
            sig_name=["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"],
            d_signal=d,
            fmt=[fmt] * 12,
            adc_gain=[1000.0] * 12,
            baseline=[0] * 12,
            write_dir=folder,
        )
        stems.append(os.path.join(folder, name))
    return stems


def best_seconds(read, stems: list[str], passes: int = 3) -> float:
    best = float("inf")
    for _ in range(passes):
        started = time.perf_counter()
        for stem in stems:
            read(stem)
        best = min(best, time.perf_counter() - started)
    return best


def speed(stems: list[str]) -> dict:
    """Records per second of each reader over `stems`, and ecgnet's against wfdb's."""
    wfdb = _wfdb()

    def ecgnet(stem):
        return record_signal(load_header(stem + ".hea"), RecordFiles.of_header(stem + ".hea"))

    seconds = {
        "ecgnet record_signal (mV, float32)": best_seconds(ecgnet, stems),
        "wfdb rdrecord physical (mV, float64)": best_seconds(lambda s: wfdb.rdrecord(s), stems),
        "wfdb rdrecord digital": best_seconds(lambda s: wfdb.rdrecord(s, physical=False), stems),
    }
    reference = seconds["wfdb rdrecord physical (mV, float64)"]
    return {
        name: {"records_per_s": round(len(stems) / s, 1), "time_vs_wfdb_physical": round(s / reference, 3)}
        for name, s in seconds.items()
    }


def import_cost() -> dict:
    """Wall time and peak memory of a fresh process importing each reader."""
    out: dict[str, Any] = {}
    for name, module in (("ecgnet", "ecgnet.records"), ("wfdb", "wfdb")):
        seconds, mib, _ = run_measured([sys.executable, "-W", "ignore", "-c", f"import {module}"])
        out[name] = {"seconds": round(seconds, 2), "peak_mib": round(mib, 1)}
    from importlib.metadata import requires

    out["wfdb_requires"] = sorted(r.split(";")[0] for r in requires("wfdb") or [] if "extra ==" not in r)
    return out


def _hostile(folder: str) -> dict[str, str]:
    """Hostile records in `folder`/data (an `x.dat` waits outside it); {case: record stem}."""
    data, outside = os.path.join(folder, "data"), os.path.join(folder, "outside")
    os.makedirs(data)
    os.makedirs(outside)
    good = np.random.default_rng(1).integers(-500, 500, size=(500, 12)).astype("<i2").tobytes()
    with open(os.path.join(outside, "x.dat"), "wb") as f:
        f.write(good)

    def record(name, file, fmt="16", samples=500, content=None):
        if content is not None:
            with open(os.path.join(data, file), "wb") as f:
                f.write(content)
        lines = [f"{name} 12 500 {samples}"] + [f"{file} {fmt} 1000/mV 16 0 0 0 0 L{i}" for i in range(12)]
        with open(os.path.join(data, name + ".hea"), "w") as f:
            f.write("\n".join(lines) + "\n")
        return os.path.join(data, name)

    os.symlink("/dev/zero", os.path.join(data, "zero.dat"))
    os.symlink(os.path.join(outside, "x.dat"), os.path.join(data, "out.dat"))
    return {
        "file name ../outside/x.dat": record("up", "../outside/x.dat"),
        "absolute file name": record("absolute", os.path.join(outside, "x.dat")),
        "link to a file outside DATA": record("linked", "out.dat"),
        "file shorter than the header says": record("short", "short.dat", content=good[:100]),
        "file longer than the header says": record("long", "long.dat", content=good * 2),
        "format 16 file declared as 212": record("wrong", "wrong.dat", fmt="212", content=good),
        "unknown format 999": record("unknown", "unknown.dat", fmt="999", content=good),
        "link to /dev/zero, 2,000,001 samples declared (past ecgnet's limit)": record(
            "zero", "zero.dat", samples=2_000_001
        ),
    }


def hostile_outcomes() -> dict:
    """What wfdb.rdrecord and ecgnet do with each hostile record."""
    wfdb = _wfdb()
    outcomes = {}
    with tempfile.TemporaryDirectory() as folder:
        for case, stem in _hostile(folder).items():
            try:
                record = wfdb.rdrecord(stem, physical=False)
                shape = record.d_signal.shape
                zeros = int((record.d_signal == 0).all(axis=1).sum())
                theirs = f"returned {shape[0]} x {shape[1]} samples ({zeros} all-zero frames), no error"
            except Exception as e:  # noqa: BLE001 - the outcome is what is measured
                theirs = f"raised {type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"
            try:
                files = next(f for f in list_records(os.path.dirname(stem)) if f.name == os.path.basename(stem))
                if files.header is None:
                    raise RecordError(stem, "header file is missing")
                record_signal(load_header(files.header), files)
                ours = "read it"
            except RecordError as e:
                ours = f"RecordError: {e.problem[:120]}"
            outcomes[case] = {"wfdb": theirs, "ecgnet": ours}
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200, help="synthetic records per format")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"machine": machine(), "speed": {}}
    with tempfile.TemporaryDirectory() as folder:
        for fmt in ("16", "212", "24"):
            results["speed"][f"format {fmt}, {args.records} records of 12 x 5000"] = speed(
                write_records(folder, args.records, fmt)
            )
    if os.path.isdir(PTBXL):
        stems = [os.path.splitext(f.header)[0] for f in list_records(PTBXL) if f.header]
        results["speed"][f"PTB-XL sample, {len(stems)} records"] = speed(stems * 10)
    results["import"] = import_cost()
    results["hostile"] = hostile_outcomes()
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        atomic_write(args.json, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Accuracy and speed of the measurements (`ecgnet.measure`), with neurokit2 as the reference.

    python -m ecgnet.benchmarks.measurements [--truth N] [--data DIR] [--ptbxl DIR] [--json FILE]

1. Known truth, the project's generator (`ecgnet.synthetic.truth_signal`: every wave starts and
   ends at a set sample; rate, PR, QRS, QT and axes drawn by `random_truth`), at 500 Hz and at
   the network's 257 Hz: median and 95th percentile of the absolute error per measurement, the
   median signed error, and how many were left blank; neurokit2's single-lead delineators
   (`ecg_delineate` dwt, peak, cwt on lead II after `ecg_clean` and `ecg_peaks`; per-beat
   intervals, median over beats) on the same records.
2. Known heart rate, neurokit2's ECGSYN (`ecg_simulate`, 12 leads): rate error.
3. The sample records (--data): the share of records labelled sinus bradycardia measured under
   60 bpm, sinus tachycardia over 100 bpm, 1st degree AV block (and prolonged PR) with PR over
   200 ms, left axis deviation with a QRS axis under -30 deg, by us and by neurokit2 (rate from
   its R peaks on lead II, PR from dwt); each outlier listed with its values; LAD per source.
4. PTB-XL (--ptbxl, native WFDB files read with wfdb): our axis and findings beside the
   database's heart_axis and report.
5. Speed: `ecgnet measure` on --data with 2 processes (records per second, peak memory), and
   the core's time per record in this process.

Needs the review extra (neurokit2) and the dev extra (wfdb); ecgnet's commands never import them.
"""

import argparse
import csv
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ecgnet import labels as label_space
from ecgnet.folders import list_records, name_prefix
from ecgnet.headers import load_header
from ecgnet.measure.folder import measure_record
from ecgnet.measure.record import measure
from ecgnet.preprocess import LEADS, order_leads, resample
from ecgnet.synthetic import random_truth, truth_signal

from .tools import machine, run_measured

QUANTITIES = {  # name: (our column, truth from a WaveTruth and its onsets, kind)
    "heart rate (bpm)": ("heart_rate_bpm", lambda t, on: 60 / np.mean(np.diff(on)), "value"),
    "PR (ms)": ("pr_ms", lambda t, on: 1000 * t.pr, "value"),
    "QRS (ms)": ("qrs_ms", lambda t, on: 1000 * t.qrs, "value"),
    "QT (ms)": ("qt_ms", lambda t, on: 1000 * t.qt, "value"),
    "P axis (deg)": ("p_axis_deg", lambda t, on: t.p_axis, "angle"),
    "QRS axis (deg)": ("qrs_axis_deg", lambda t, on: t.qrs_axis, "angle"),
    "T axis (deg)": ("t_axis_deg", lambda t, on: t.t_axis, "angle"),
}
NK_METHODS = ("dwt", "peak", "cwt")
DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cinc2020_sample"
DEFAULT_PTBXL = DEFAULT_DATA.parent / "ptbxl_sample"


def _error(measured, true, kind):
    if measured is None or not np.isfinite(measured):
        return None
    difference = measured - true
    return (difference + 180) % 360 - 180 if kind == "angle" else difference


def summarise(errors: list) -> dict:
    """Median and 95th percentile of |error|, median error, count and blanks of a list (None: blank)."""
    values = np.array([e for e in errors if e is not None], dtype=float)
    if not len(values):
        return {"n": 0, "blank": len(errors)}
    return {
        "n": int(len(values)),
        "blank": len(errors) - int(len(values)),
        "median_abs": round(float(np.median(np.abs(values))), 1),
        "p95_abs": round(float(np.percentile(np.abs(values), 95)), 1),
        "median": round(float(np.median(values)), 1),
    }


def _neurokit_row(lead: np.ndarray, rate: int, method: str) -> dict:
    """Heart rate and median per-beat PR, QRS and QT of one lead by neurokit2."""
    import neurokit2 as nk

    clean = nk.ecg_clean(lead, sampling_rate=rate)
    _, info = nk.ecg_peaks(clean, sampling_rate=rate)
    peaks = np.asarray(info["ECG_R_Peaks"])
    out = {"heart_rate_bpm": 60 / np.mean(np.diff(peaks) / rate) if len(peaks) > 2 else None}
    try:
        _, waves = nk.ecg_delineate(clean, peaks, sampling_rate=rate, method=method)
    except Exception:  # noqa: BLE001 - a reference that fails on a record leaves it blank
        return out
    w = {k: np.asarray(v, dtype=float) for k, v in waves.items()}

    def interval(a, b):
        if a not in w or b not in w or len(w[a]) != len(w[b]):
            return None
        values = (w[b] - w[a]) * 1000 / rate
        values = values[np.isfinite(values) & (values > 0)]
        return float(np.median(values)) if len(values) else None

    out.update(
        pr_ms=interval("ECG_P_Onsets", "ECG_R_Onsets"),
        qrs_ms=interval("ECG_R_Onsets", "ECG_R_Offsets"),
        qt_ms=interval("ECG_R_Onsets", "ECG_T_Offsets"),
    )
    return out


def known_truth(count: int, seed: int = 0) -> dict:
    """Errors against the generator's truth: ours at 500 and 257 Hz, neurokit2's on lead II."""
    rng = np.random.default_rng(seed)
    cases = [(truth, *truth_signal(truth, 500, 10.0, rng)) for truth in (random_truth(rng) for _ in range(count))]
    out, seconds = {}, {}
    readers = {"ours, 500 Hz": None, "ours, 257 Hz": 257} | {f"neurokit2 {m} (lead II)": m for m in NK_METHODS}
    for name, how in readers.items():
        errors: dict[str, list[float]] = {q: [] for q in QUANTITIES}
        started = time.perf_counter()
        for truth, signal, onsets in cases:
            if how is None:
                row = measure(signal, 500).row()
            elif how == 257:
                row = measure(resample(signal, 500, 257), 257).row()
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    row = _neurokit_row(signal[LEADS.index("II")].astype(float), 500, str(how))
            for q, (column, true, kind) in QUANTITIES.items():
                if column in row or how in (None, 257):
                    errors[q].append(_error(row.get(column), true(truth, onsets), kind))
        seconds[name] = (time.perf_counter() - started) / count
        out[name] = {q: summarise(e) for q, e in errors.items() if e}
    return {"records": count, "readers": out, "seconds_per_record": seconds}


def ecgsyn_rates(count: int, seed: int = 0) -> dict:
    import neurokit2 as nk

    rng = np.random.default_rng(seed)
    errors = []
    for k in range(count):
        rate = float(rng.uniform(40, 160))
        ecg = nk.ecg_simulate(duration=10, sampling_rate=500, heart_rate=rate, method="multileads", random_state=k)
        row = measure(ecg[list(LEADS)].to_numpy().T, 500).row()
        errors.append(_error(row["heart_rate_bpm"], rate, "value"))
    return summarise(errors)


LABEL_CHECKS = {  # class: (description, our column, test, neurokit2 column)
    "426177001": ("sinus bradycardia: rate < 60 bpm", "heart_rate_bpm", lambda v: v < 60),
    "427084000": ("sinus tachycardia: rate > 100 bpm", "heart_rate_bpm", lambda v: v > 100),
    "270492004": ("1st degree AV block: PR > 200 ms", "pr_ms", lambda v: v > 200),
    "164947007": ("prolonged PR: PR > 200 ms", "pr_ms", lambda v: v > 200),
    "39732003": ("left axis deviation: QRS axis < -30 deg", "qrs_axis_deg", lambda v: v < -30),
}


def real_records(data: str) -> dict:
    """Label fractions on the sample records, ours and neurokit2's (dwt on lead II), outliers, LAD per source."""
    from ecgnet.records import read_record

    ours, theirs, labels = {}, {}, {}
    for files in list_records(data):
        row = measure_record(files)
        ours[files.name] = row
        try:
            record = read_record(files, 500)
            labels[files.name] = {label_space.canonical_code(c) for c in load_header(files.header_path).dx}
        except Exception:  # noqa: BLE001 - unreadable: no labels to compare
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs[files.name] = _neurokit_row(record.signal[1].astype(float), 500, "dwt")
    out = {}
    for code, (text, column, test) in LABEL_CHECKS.items():
        names = sorted(n for n, codes in labels.items() if code in codes)
        entry: dict[str, Any] = {"criterion": text, "labelled": len(names)}
        for who, rows in (("ours", ours), ("neurokit2_dwt", theirs)):
            values = {n: rows[n].get(column) for n in names}
            measured = {n: v for n, v in values.items() if v is not None}
            met = [n for n, v in measured.items() if test(v)]
            entry[who] = {
                "measured": len(measured),
                "met": len(met),
                "share": round(len(met) / len(measured), 3) if measured else None,
            }
            if who == "ours":
                entry["outliers"] = [
                    {
                        "record": n,
                        column: values[n],
                        "heart_rate_bpm": ours[n]["heart_rate_bpm"],
                        "pr_ms": ours[n]["pr_ms"],
                        "qrs_axis_deg": ours[n]["qrs_axis_deg"],
                        "reason": ours[n]["reason"],
                        "labels": sorted(labels[n]),
                    }
                    for n in names
                    if values[n] is None or not test(values[n])
                ]
        entry["by_source"] = {}
        for prefix in sorted({name_prefix(n) for n in names}):
            these = [n for n in names if name_prefix(n) == prefix]
            measured_here = [n for n in these if ours[n][column] is not None]
            entry["by_source"][prefix] = {
                "labelled": len(these),
                "measured": len(measured_here),
                "met": sum(test(ours[n][column]) for n in measured_here),
            }
        out[code] = entry
    return out


def ptbxl(folder: str) -> list[dict]:
    """Our measurements of PTB-XL's native records beside the database's heart_axis and report."""
    import wfdb

    rows = []
    with open(os.path.join(folder, "ptbxl_database.csv"), newline="") as f:
        for entry in csv.DictReader(f):
            signal, fields = wfdb.rdsamp(os.path.join(folder, entry["filename_hr"]))
            ordered, missing = order_leads(signal.T.astype(np.float64), fields["sig_name"])
            row = measure(ordered, fields["fs"], missing).row(entry["ecg_id"])
            rows.append(
                {
                    "ecg_id": entry["ecg_id"],
                    "heart_axis": entry["heart_axis"],
                    "report": entry["report"],
                    **{k: row[k] for k in ("heart_rate_bpm", "pr_ms", "qrs_ms", "qrs_axis_deg", "quality", "reason")},
                }
            )
    return rows


def speed(data: str) -> dict:
    """`ecgnet measure DATA OUT --jobs 2` in a subprocess, and the core's time per record here."""
    with tempfile.TemporaryDirectory() as out:
        wall, peak, _ = run_measured([sys.executable, "-m", "ecgnet", "measure", data, out, "--jobs", "2"])
    records = len(list_records(data))
    from ecgnet.records import read_record

    signals = [read_record(f, 500) for f in list_records(data)[:60]]
    timing = {}
    for rate in (500, 257):
        ready = [(r.signal if rate == 500 else resample(r.signal, 500, 257), r.missing) for r in signals]
        started = time.perf_counter()
        for signal, missing in ready:
            measure(signal, rate, missing)
        timing[f"core_ms_per_record_{rate}hz"] = round(1000 * (time.perf_counter() - started) / len(ready), 1)
    return {
        "records": records,
        "wall_s": round(wall, 1),
        "records_per_s": round(records / wall, 1),
        "peak_mib": round(peak),
        **timing,
    }


def _table(truth: dict) -> str:
    lines = ["| reader | " + " | ".join(QUANTITIES) + " |", "|---|" + "---|" * len(QUANTITIES)]
    for name, quantities in truth["readers"].items():
        cells = []
        for q in QUANTITIES:
            s = quantities.get(q)
            cells.append(
                "n/a"
                if not s or not s["n"]
                else f"{s['median_abs']} / {s['p95_abs']} ({s['median']:+g}; {s['blank']} blank)"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None, prog=None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--truth", type=int, default=200, help="known-truth records")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the sample records")
    parser.add_argument("--ptbxl", default=str(DEFAULT_PTBXL), help="the PTB-XL sample folder (ptbxl_database.csv)")
    parser.add_argument("--skip-speed", action="store_true", help="leave out the subprocess speed run")
    parser.add_argument("--json", metavar="FILE", help="write every number here")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"machine": machine()}
    result["known_truth"] = known_truth(args.truth)
    print(f"Known truth, {args.truth} records: median / 95th percentile |error| (median error; blanks)")
    print(_table(result["known_truth"]))
    print("seconds per record:", {k: round(v, 4) for k, v in result["known_truth"]["seconds_per_record"].items()})
    result["ecgsyn_heart_rate"] = ecgsyn_rates(50)
    print("neurokit2 ECGSYN heart rate, 50 records:", result["ecgsyn_heart_rate"])
    if os.path.isdir(args.data):
        result["real_records"] = real_records(args.data)
        for entry in result["real_records"].values():
            print(f"{entry['criterion']}: labelled {entry['labelled']}; ours {entry['ours']};")
            print(f"   neurokit2 dwt {entry['neurokit2_dwt']}; by source {entry['by_source']}")
            for o in entry["outliers"]:
                print("   outlier", o)
        if not args.skip_speed:
            result["speed"] = speed(args.data)
            print("speed:", result["speed"])
    if os.path.isdir(args.ptbxl):
        result["ptbxl"] = ptbxl(args.ptbxl)
        for r in result["ptbxl"]:
            print("PTB-XL", r)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

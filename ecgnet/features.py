"""Measurements as inputs of the classifier (`features`, `stacking`, `decide_rules` in the config):
measured once per record, encoded as numbers, scaled robustly.

Measuring. A record's measurements are `measure.measure` of its signal at the model's rate
(257 Hz), in true millivolts (`Record.gain` undoes a header gain known to be misstated), with its
missing leads; the values are those of `ecgnet measure`'s row, rounded as written, so that the rule
reader (`measure.criteria`) reads the same numbers. Training measures the cached records once
(`cached_measurements`, kept beside the signal cache); the driver measures each record it reads
(`measure_records`). The failure rule is the same in both: whatever goes wrong measuring a
record, an unexpected error included, leaves its measurements missing (quality "failed"), and
the record is classified all the same.

Encoding (`encode`). Rate, RR variability, PR, QRS, QT, QTc (Fridericia) and the largest limb and
precordial QRS amplitudes are numbers, RR variability and amplitudes as logarithms (they spread
over decades); each frontal axis (P, QRS, T) is its cosine and sine, so that any arc of angles
(left axis deviation: -90 to -30 deg) is a half-plane, which one linear unit can cut, and +179
and -179 deg lie side by side. Every measurement has a flag, 1 where it is missing; its numbers
are then 0, and neutral once scaled.

Scaling (`fit_scaling`, `scale`). Each number less its median over the training records, divided
by their interquartile range / 1.349 (the standard deviation, for normally distributed values;
robust to outliers such as a 700 ms QT), clipped to +-CLIP, and 0 where missing; cosines, sines
and flags as they are. The statistics are fitted on each fold's training records and saved with
its weights (the network's `feature_center` and `feature_spread`), or with the stacked stage.
"""

import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .config import Config
from .files import atomic_write
from .measure.record import MAX_SECONDS, VALUES, measure
from .preprocess import DEMOGRAPHICS
from .records import Record

if TYPE_CHECKING:  # the driver never reads a signal cache: its module (and joblib) stay unimported
    import torch  # imported where used: the driver's head start process measures without torch

    from .cache import SignalCache

log = logging.getLogger(__name__)

# (column, transform) of the measurements that enter as numbers; offsets keep log finite at 0.
NUMBERS = (
    ("heart_rate_bpm", None),
    ("rr_sd_ms", 1.0),  # log(ms + 1)
    ("pr_ms", None),
    ("qrs_ms", None),
    ("qt_ms", None),
    ("qtc_fridericia_ms", None),
    ("qrs_amp_limb_mv", 0.01),  # log(mV + 0.01)
    ("qrs_amp_precordial_mv", 0.01),
)
AXES = ("p_axis_deg", "qrs_axis_deg", "t_axis_deg")
MEASURED = tuple(column for column, _ in NUMBERS) + AXES  # one missing flag each, in this order
FEATURE_NAMES = (
    tuple(column if offset is None else f"log {column}" for column, offset in NUMBERS)
    + tuple(f"{part} {axis}" for axis in AXES for part in ("cos", "sin"))
    + tuple(f"{column} missing" for column in MEASURED)
)
FEATURE_COUNT = len(FEATURE_NAMES)
VALUE_COUNT = len(NUMBERS) + 2 * len(AXES)  # the columns before the flags
# The flag column of each value column.
_FLAG_OF_VALUE = [VALUE_COUNT + i for i in range(len(NUMBERS))] + [
    VALUE_COUNT + len(NUMBERS) + a for a in range(len(AXES)) for _ in range(2)
]
CLIP = 5.0  # scaled numbers beyond +-CLIP robust standard deviations are clipped
NORMAL_IQR = 1.349  # interquartile range of a standard normal distribution
MEASUREMENTS_FILE = "measurements.json"
MEASUREMENTS_VERSION = 1  # of the measurements file beside a signal cache; change with `measure`


@dataclass
class MeasurementTable:
    """Measurements of a list of records: `values` (records, len(measure.VALUES)) float64 in
    `measure.VALUES` order, NaN where not measured; `quality` ok, noisy or failed per record."""

    values: np.ndarray
    quality: list[str]

    def __len__(self) -> int:
        return len(self.quality)

    def row(self, i: int) -> dict[str, object]:
        """Record i's measurements as a `measure.criteria` row (None where not measured)."""
        row: dict[str, object] = {c: None if math.isnan(v) else float(v) for c, v in zip(VALUES, self.values[i])}
        row["quality"] = self.quality[i]
        return row

    def take(self, indices: Sequence[int] | np.ndarray) -> "MeasurementTable":
        indices = np.asarray(indices, dtype=np.int64)
        return MeasurementTable(self.values[indices], [self.quality[i] for i in indices])


def needed(config: Config) -> bool:
    """Whether a model of `config` needs the measurements of every record it classifies."""
    return config.features != "none" or config.stacking != "none" or bool(config.decide_rules)


def measure_signal(signal: np.ndarray, rate: float, missing: Sequence[str] = (), gain: float = 1.0):
    """(values in `measure.VALUES` order, NaN where not measured; quality) of one record's
    (12, n) signal at `rate` Hz. Never raises: any failure leaves every value missing."""
    # `measure` reads the first MAX_SECONDS of a longer record: cut it here, before any copy
    signal = signal[:, : int(MAX_SECONDS * rate)]
    try:
        row = measure(signal * gain if gain != 1.0 else signal, rate, tuple(missing)).row()
    except Exception:  # noqa: BLE001 - a record that cannot be measured has missing measurements
        return np.full(len(VALUES), np.nan), "failed"
    return np.array([np.nan if row[c] is None else row[c] for c in VALUES], dtype=np.float64), str(row["quality"])


def _table(measured: list[tuple[np.ndarray, str]]) -> MeasurementTable:
    values = np.array([v for v, _ in measured], dtype=np.float64).reshape(len(measured), len(VALUES))
    return MeasurementTable(values, [q for _, q in measured])


def measure_records(records: Sequence[Record], rate: int) -> MeasurementTable:
    """The measurements of records read by `records.read_record` at `rate` Hz."""
    return _table([measure_signal(r.signal, rate, r.missing, r.gain) for r in records])


def measure_for(config: Config, records: Sequence[Record]) -> MeasurementTable | None:
    """The measurements of `records` that a model of `config` needs (None if it needs none)."""
    return measure_records(records, config.sample_rate) if needed(config) else None


def _measure_cached(cache: "SignalCache", rate: int, indices: list[int]) -> list[tuple[np.ndarray, str]]:
    return [
        measure_signal(cache.signal(i), rate, cache.records[i].get("missing", ()), cache.records[i].get("gain", 1.0))
        for i in indices
    ]


def cached_measurements(cache: "SignalCache", rate: int, jobs: int = -1) -> MeasurementTable:
    """The measurements of every record of a signal cache, in its order: read from the file
    beside it when that was made of the same cache, else measured (in `jobs` processes; -1:
    one per core) and written there."""
    path = os.path.join(cache.folder, MEASUREMENTS_FILE)
    key = {"cache": cache.key, "version": MEASUREMENTS_VERSION, "rate": rate}
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        if saved.get("key") == key:
            values = np.array([[np.nan if v is None else v for v in row] for row in saved["values"]], dtype=np.float64)
            return MeasurementTable(values.reshape(len(saved["quality"]), len(VALUES)), saved["quality"])
    started = time.time()
    indices = list(range(len(cache)))
    measured: list
    if jobs == 1 or len(indices) < 2:
        measured = _measure_cached(cache, rate, indices)
    else:
        from joblib import Parallel, cpu_count, delayed

        workers = jobs if jobs > 0 else max(1, cpu_count() + 1 + jobs)
        shares = [indices[k::workers] for k in range(workers)]
        parts = Parallel(n_jobs=workers)(delayed(_measure_cached)(cache, rate, share) for share in shares)
        measured = [None] * len(indices)
        for share, part in zip(shares, parts):
            for i, result in zip(share, part):
                measured[i] = result
    table = _table(measured)
    rows = [[None if math.isnan(v) else v for v in row] for row in table.values.tolist()]
    atomic_write(path, json.dumps({"key": key, "values": rows, "quality": table.quality}))
    failed = table.quality.count("failed")
    log.info(f"measurements: {len(table)} records measured in {time.time() - started:.1f} s ({failed} failed)")
    return table


def encode(values: np.ndarray) -> np.ndarray:
    """(records, FEATURE_COUNT) float32 features of measurement values (records, len(VALUES)),
    unscaled: numbers (logarithms where NUMBERS says), axes as cosine and sine, 0 where missing,
    then the missing flags."""
    values = np.asarray(values, dtype=np.float64).reshape(-1, len(VALUES))
    columns, flags = [], []
    for column, offset in NUMBERS:
        v = values[:, VALUES.index(column)]
        flags.append(np.isnan(v))
        columns.append(v if offset is None else np.log(np.maximum(v, 0.0) + offset))
    for axis in AXES:
        radians = np.deg2rad(values[:, VALUES.index(axis)])
        flags.append(np.isnan(radians))
        columns += [np.cos(radians), np.sin(radians)]
    encoded = np.nan_to_num(np.stack(columns + flags, axis=1), nan=0.0)
    return encoded.astype(np.float32)


def columns_of(measurements: Sequence[str]) -> np.ndarray:
    """The encoded feature columns of these measurements (`MEASURED` names): their numbers or
    cosine and sine, and their flags."""
    names = list(FEATURE_NAMES)
    wanted = []
    for column in measurements:
        if column in AXES:
            wanted += [f"cos {column}", f"sin {column}"]
        else:
            wanted.append(column if dict(NUMBERS)[column] is None else f"log {column}")
        wanted.append(f"{column} missing")
    return np.array(sorted(names.index(name) for name in wanted))


def fit_scaling(encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(center, spread), each (FEATURE_COUNT,) float32, of encoded features: the numbers' median
    and interquartile range / 1.349 over the records where they were measured (0 and 1 where
    none was, or all were equal); 0 and 1 for the axes and flags."""
    center, spread = np.zeros(FEATURE_COUNT, np.float32), np.ones(FEATURE_COUNT, np.float32)
    for i in range(len(NUMBERS)):
        measured = encoded[encoded[:, _FLAG_OF_VALUE[i]] == 0, i]
        if len(measured):
            q1, median, q3 = np.percentile(measured, [25, 50, 75])
            center[i] = median
            if (q3 - q1) / NORMAL_IQR > 1e-6:
                spread[i] = (q3 - q1) / NORMAL_IQR
    return center, spread


def scale(encoded: "torch.Tensor", center: "torch.Tensor", spread: "torch.Tensor") -> "torch.Tensor":
    """Scaled features (the module's description) of encoded ones, (records, FEATURE_COUNT)."""
    number = encoded.new_zeros(FEATURE_COUNT)
    number[:VALUE_COUNT] = 1.0
    flag_of = _FLAG_OF_VALUE + list(range(VALUE_COUNT, FEATURE_COUNT))
    kept = 1.0 - encoded[:, flag_of] * number
    return ((encoded - center) / spread).clamp(-CLIP, CLIP) * kept


def scale_array(encoded: np.ndarray, center: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """`scale` on NumPy arrays (float64)."""
    import torch

    as_tensor = [torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in (encoded, center, spread)]
    return scale(*as_tensor).numpy()


def network_inputs(records: Sequence[Record], config: Config, table: MeasurementTable | None = None) -> np.ndarray:
    """(records, inputs) float32: what the network takes beside the signal, each record's
    demographics (`preprocess.demographics`), then, with features=measurements, its encoded
    measurements (`table`, measured here when None)."""
    demographics = np.array([r.demographics for r in records], dtype=np.float32)
    demographics = demographics.reshape(len(records), len(DEMOGRAPHICS))
    if config.features != "measurements":
        return demographics
    if table is None:
        table = measure_records(records, config.sample_rate)
    return np.concatenate([demographics, encode(table.values)], axis=1)

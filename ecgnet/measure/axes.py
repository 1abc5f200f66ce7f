"""Frontal-plane axes from the net areas of the six limb leads.

Each limb lead sees the frontal heart vector (x to the patient's left, y downward) along its
own direction: I at 0 deg, II at +60, III at +120, aVF at +90, aVL at -30, aVR at -150, the
augmented leads (Goldberger's) with sqrt(3)/2 of the gain of the others. The axis is the
direction of the vector whose projections best fit the six net areas (least squares), in
degrees from -180 to +180, positive downward. Where the limb leads are consistent (recorded as
two and derived as six, as most devices do) this is exactly atan2(2 aVF / sqrt(3), I); the
familiar atan2(aVF, I) reads -26.6 deg for a true -30 deg, just on the wrong side of the left
axis deviation boundary. An axis is indeterminate (None) when the net vector is under 10% of
the leads' mean absolute area: a QRS equiphasic in every limb lead points nowhere.
"""

import numpy as np

LIMB_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF")
_ANGLES = np.radians([0.0, 60.0, 120.0, -150.0, -30.0, 90.0])
_GAINS = np.array([1.0, 1.0, 1.0, np.sqrt(3) / 2, np.sqrt(3) / 2, np.sqrt(3) / 2])
PROJECTION = np.stack([_GAINS * np.cos(_ANGLES), _GAINS * np.sin(_ANGLES)], axis=1)  # (6, 2)
INDETERMINATE = 0.1


def net_areas(waves: np.ndarray, begin: float, end: float, baseline: np.ndarray, rate: float) -> np.ndarray:
    """mV s: each lead's area above `baseline` between fractional samples `begin` and `end`."""
    i, j = int(np.floor(begin)), int(np.ceil(end))
    t = np.arange(i, j + 1, dtype=np.float64)
    weights = np.clip(np.minimum(t - begin + 0.5, end - t + 0.5), 0.0, 1.0)  # whole samples, partial at the ends
    return ((waves[:, i : j + 1] - baseline[:, None]) * weights).sum(axis=1) / rate


def frontal_axis(areas: np.ndarray) -> float | None:
    """Degrees (-180..180] of the frontal vector fitting the six limb-lead `areas` (LIMB_LEADS
    order); None when indeterminate."""
    if not np.isfinite(areas).all():
        return None
    vector, *_ = np.linalg.lstsq(PROJECTION, areas, rcond=None)
    if np.hypot(*vector) < INDETERMINATE * np.abs(areas).mean() or not np.any(areas):
        return None
    angle = float(np.degrees(np.arctan2(vector[1], vector[0])))
    return 180.0 if angle == -180.0 else angle

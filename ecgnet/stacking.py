"""The stacked second stage (`stacking=logistic`): per class, a logistic regression of the label
on the fold model's logit for that class and the record's measurements (`features`), fitted on
out-of-fold predictions only.

    logit p' = a logit p + w . x + b

x are the encoded measurements scaled on the stage's own training records (`features.scale`).
The penalty stacking_penalty / 2 (|a - 1|^2 + |w|^2 + b^2) pulls every class toward a = 1,
w = 0, b = 0, the network's own probability: a class with few positives stays near it, one
with many learns what the measurements add. Fitted by scipy's L-BFGS on the exact gradient
(NumPy and SciPy only, as the challenge image has them).

`stacking=criteria` restricts the stage to what a published criterion defines: a class with a
rule (`measure.criteria`) gets only the measurements its criterion reads (`CRITERION_COLUMNS`:
heart rate and the signs of sinus rhythm for the rate classes, PR for AV block, the QRS axis
for axis deviation...); every other class keeps the network's probability as it is.

In cross-validation each fold's records are scored by a stage fitted on the other folds'
out-of-fold predictions (`cross_fit`), so nothing scored trained it (under split=source, no
record of the scored source). The model's stage (`fit_stacker`) is fitted on every out-of-fold
prediction and saved in model.json; the driver applies it to each fold model's probabilities
before the vote, as cross-validation applied it to each fold model's.
"""

from dataclasses import dataclass

import numpy as np

from . import features
from . import labels as label_space
from .errors import ModelFolderError

PROBABILITY_FLOOR = 1e-6  # probabilities are clipped to [floor, 1 - floor] before the logit
_SINUS = ("heart_rate_bpm", "rr_sd_ms", "pr_ms", "p_axis_deg")  # what `criteria.sinus` and a rate read
# The measurements each class's criterion reads (`measure.criteria.CRITERIA`), for stacking=criteria.
CRITERION_COLUMNS = {
    "426177001": _SINUS,  # sinus bradycardia
    "426783006": _SINUS,  # sinus rhythm
    "427084000": _SINUS,  # sinus tachycardia
    "427393009": _SINUS,  # sinus arrhythmia
    "426627000": ("heart_rate_bpm",),  # bradycardia
    "270492004": ("pr_ms",),  # 1st degree AV block
    "164947007": ("pr_ms",),  # prolonged PR
    "39732003": ("qrs_axis_deg",),  # left axis deviation
    "47665007": ("qrs_axis_deg",),  # right axis deviation
    "445118002": ("qrs_axis_deg", "qrs_ms"),  # left anterior fascicular block
    "251146004": ("qrs_amp_limb_mv",),  # low QRS voltages
    "111975006": ("qtc_fridericia_ms",),  # prolonged QT
}


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    penalty: float,
    offset: np.ndarray | None = None,
    penalise_intercept: bool = True,
) -> tuple[np.ndarray, float]:
    """(coefficients, intercept) minimising the logistic loss of `y` (0/1) on `x` (records,
    inputs), the linear predictor offset + x w + b, plus penalty / 2 |w|^2 (and b^2 with
    `penalise_intercept`). Without an offset and intercept penalty this is scikit-learn's
    LogisticRegression(C=1 / penalty)."""
    # Imported here: the driver only applies a fitted stage, and scipy.optimize costs it a second.
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    offset = np.zeros(len(y)) if offset is None else np.asarray(offset, dtype=np.float64)
    b_penalty = penalty if penalise_intercept else 0.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        eta = offset + x @ w + b
        # -log-likelihood: y log sigmoid(eta) + (1 - y) log sigmoid(-eta), stable for large |eta|
        value = -np.sum(y * log_expit(eta) + (1 - y) * log_expit(-eta))
        residual = expit(eta) - y
        value += 0.5 * penalty * (w @ w) + 0.5 * b_penalty * b * b
        gradient = np.append(x.T @ residual + penalty * w, residual.sum() + b_penalty * b)
        return value, gradient

    result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    return result.x[:-1], float(result.x[-1])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # never overflows


def _logit(probabilities: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probabilities, dtype=np.float64), PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    return np.log(p) - np.log1p(-p)


@dataclass
class Stacker:
    """A fitted second stage: the measurements' scaling and, per class, (a, w) and b."""

    center: np.ndarray  # (FEATURE_COUNT,)
    spread: np.ndarray  # (FEATURE_COUNT,)
    coefficients: np.ndarray  # (classes, 1 + FEATURE_COUNT): a, then w
    intercepts: np.ndarray  # (classes,)

    def apply(self, probabilities: np.ndarray, encoded: np.ndarray) -> np.ndarray:
        """Second-stage probabilities (same shape, float32) of network probabilities (...,
        records, classes) of records with encoded measurements `encoded` (records, FEATURE_COUNT)."""
        x = features.scale_array(encoded, self.center, self.spread)
        shift = x @ self.coefficients[:, 1:].T + self.intercepts  # (records, classes)
        return _sigmoid(self.coefficients[:, 0] * _logit(probabilities) + shift).astype(np.float32)

    def to_json(self) -> dict:
        return {
            "method": "logistic",  # both stacking choices are logistic regressions
            "features": list(features.FEATURE_NAMES),
            "center": self.center.tolist(),
            "spread": self.spread.tolist(),
            "coefficients": self.coefficients.tolist(),
            "intercepts": self.intercepts.tolist(),
        }

    @classmethod
    def from_json(cls, entry: object, path: str) -> "Stacker":
        """The stage model.json holds (`to_json`), every field checked; ModelFolderError names `path`."""

        def invalid(problem: str) -> ModelFolderError:
            return ModelFolderError(f"{path} is incomplete or invalid: its stacking entry {problem}")

        if not isinstance(entry, dict) or entry.get("method") != "logistic":
            raise invalid('must be an object with "method": "logistic"')
        if entry.get("features") != list(features.FEATURE_NAMES):
            raise invalid("was fitted on other measurement features than this ecgnet computes")
        shapes = {
            "center": (features.FEATURE_COUNT,),
            "spread": (features.FEATURE_COUNT,),
            "coefficients": (label_space.NUM_CLASSES, 1 + features.FEATURE_COUNT),
            "intercepts": (label_space.NUM_CLASSES,),
        }
        arrays = {}
        for name, shape in shapes.items():
            try:
                array = np.array(entry.get(name), dtype=np.float64)
            except (TypeError, ValueError):
                raise invalid(f"{name} is not an array of numbers") from None
            if array.shape != shape or not np.isfinite(array).all():
                raise invalid(f"{name} must be {' x '.join(map(str, shape))} finite numbers")
            arrays[name] = array
        if (arrays["spread"] <= 0).any():
            raise invalid("spread must be positive")
        return cls(**arrays)


def inputs_of(method: str) -> list[np.ndarray | None]:
    """Per class (CLASSES order), the feature columns its stage takes under `method` ("logistic":
    all; "criteria": those of `CRITERION_COLUMNS`), or None where the class keeps the network's
    probability."""
    if method == "logistic":
        return [np.arange(features.FEATURE_COUNT)] * label_space.NUM_CLASSES
    return [
        features.columns_of(CRITERION_COLUMNS[code]) if code in CRITERION_COLUMNS else None
        for code in label_space.CLASSES
    ]


def fit_stacker(
    probabilities: np.ndarray, encoded: np.ndarray, labels: np.ndarray, penalty: float, method: str = "logistic"
) -> Stacker:
    """The second stage (`method`: "logistic" or "criteria", config stacking) fitted on
    out-of-fold network `probabilities` (records, classes), the records' encoded measurements
    and their labels."""
    center, spread = features.fit_scaling(encoded)
    x = features.scale_array(encoded, center, spread)
    logits = _logit(probabilities)
    labels = np.asarray(labels, dtype=bool)
    coefficients = np.zeros((labels.shape[1], 1 + features.FEATURE_COUNT))
    coefficients[:, 0] = 1.0
    intercepts = np.zeros(labels.shape[1])
    for c, columns in enumerate(inputs_of(method)):
        if columns is None:
            continue
        # in terms of the departure from the network (a - 1, w, b), penalised toward zero
        inputs = np.concatenate([logits[:, c : c + 1], x[:, columns]], axis=1)
        departure, intercepts[c] = fit_logistic(inputs, labels[:, c], penalty, offset=logits[:, c])
        coefficients[c, 0] += departure[0]
        coefficients[c, 1 + columns] = departure[1:]
    return Stacker(center.astype(np.float64), spread.astype(np.float64), coefficients, intercepts)


def cross_fit(
    probabilities: np.ndarray,
    encoded: np.ndarray,
    labels: np.ndarray,
    folds: np.ndarray,
    penalty: float,
    method: str = "logistic",
) -> np.ndarray:
    """Second-stage out-of-fold probabilities: each fold's records through a stage fitted on the
    other folds' records only."""
    out = np.zeros(probabilities.shape, dtype=np.float32)
    for fold in np.unique(folds):
        held = folds == fold
        stacker = fit_stacker(probabilities[~held], encoded[~held], labels[~held], penalty, method)
        out[held] = stacker.apply(probabilities[held], encoded[held])
    return out

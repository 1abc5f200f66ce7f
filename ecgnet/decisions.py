"""From the fold models' probabilities to what thresholds decide: the second stage.

Two optional steps, applied alike in cross-validation (`training.finalize`), by the driver
(`inference.Ensemble`) and in the int8 fidelity gate (`quantize`):

- the stacked stage (`stacking`, config `stacking`): each fold model's probabilities re-fitted
  with the record's measurements; these are the model's probabilities from then on;
- rule decisions (config `decide_rules`): for the classes listed, the rule reader's verdict
  (`measure.criteria`) on the record's measurements is the decision wherever it can tell (1:
  the class is on, 0: off); where it cannot (a value not measured), the threshold decides as
  usual. The probabilities are kept for ranking (AUROC, the output files' scores).

A decision is carried as a probability-like value that thresholds then label: a verdict of 1
becomes 1.0 and of 0 becomes 0.0, which every threshold in (0, 1] (the threshold grid and the
uniform threshold) turns into on and off, so that the threshold search, the vote of the fold
models and the forced most probable class all work on decisions unchanged.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import features, stacking
from . import labels as label_space
from .config import Config
from .measure import criteria
from .preprocess import DEMOGRAPHICS

_FEMALE, _MALE = DEMOGRAPHICS.index("female"), DEMOGRAPHICS.index("male")


def rule_codes(text: str) -> tuple[str, ...]:
    """The class codes of config decide_rules, in CLASSES order."""
    chosen = {criteria.BY_NAME[item.strip().lower()] for item in text.split(",") if item.strip()}
    return tuple(code for code in label_space.CLASSES if code in chosen)


def _sex(demographics: np.ndarray) -> str | None:
    if demographics[_FEMALE] > 0.5:
        return "female"
    return "male" if demographics[_MALE] > 0.5 else None


def rule_verdicts(table: features.MeasurementTable, demographics: np.ndarray, codes: tuple[str, ...]) -> np.ndarray:
    """(records, classes) float: the rule reader's verdict (1.0, 0.0) for the classes `codes`,
    NaN where it cannot tell and for every other class."""
    out = np.full((len(table), label_space.NUM_CLASSES), np.nan)
    columns = [(label_space.CLASSES.index(code), criteria.BY_CODE[code].rule) for code in codes]
    for i in range(len(table)):
        row, sex = table.row(i), _sex(demographics[i])
        for column, rule in columns:
            verdict = rule(row, sex)
            if verdict is not None:
                out[i, column] = float(verdict)
    return out


def decide(probabilities: np.ndarray, verdicts: np.ndarray) -> np.ndarray:
    """What thresholds label: `probabilities` (..., records, classes), with `verdicts` where not NaN."""
    return np.where(np.isnan(verdicts), probabilities, verdicts).astype(probabilities.dtype)


@dataclass
class SecondStage:
    """A model's second stage: its stacked stage (or None) and the classes rules decide."""

    stacker: stacking.Stacker | None = None
    rule_codes: tuple[str, ...] = ()

    @classmethod
    def of(cls, config: Config, stacker: stacking.Stacker | None = None) -> "SecondStage":
        return cls(stacker, rule_codes(config.decide_rules))

    @property
    def active(self) -> bool:
        return self.stacker is not None or bool(self.rule_codes)

    def apply(
        self, probabilities: np.ndarray, table: features.MeasurementTable | None, demographics: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, decisions) of network probabilities (..., records, classes) of records
        with these measurements and demographics (records, >= 5)."""
        if not self.active:
            return probabilities, probabilities
        assert table is not None, "a second stage needs the records' measurements"
        if self.stacker is not None:
            probabilities = self.stacker.apply(probabilities, features.encode(table.values))
        if not self.rule_codes:
            return probabilities, probabilities
        return probabilities, decide(probabilities, rule_verdicts(table, demographics, self.rule_codes))


def out_of_fold(
    config: Config,
    table: features.MeasurementTable,
    demographics: np.ndarray,
    labels: np.ndarray,
    folds: np.ndarray,
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The second stage of `config` in cross-validation, as a function of the network's
    out-of-fold probabilities (records, classes) of the training records (their measurements,
    demographics, labels and folds): (probabilities, decisions), each fold's records through a
    stacked stage fitted on the other folds (`stacking.cross_fit`)."""
    encoded = features.encode(table.values)
    codes = rule_codes(config.decide_rules)
    verdicts = rule_verdicts(table, demographics, codes) if codes else None

    def finish(oof: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probabilities = oof
        if config.stacking != "none":
            probabilities = stacking.cross_fit(oof, encoded, labels, folds, config.stacking_penalty, config.stacking)
        return probabilities, probabilities if verdicts is None else decide(probabilities, verdicts)

    return finish

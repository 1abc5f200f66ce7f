"""A fold's progress and what a finished fold leaves, in their file formats.

`FoldState` is a fold after some epochs: what its checkpoint (MODEL/work/foldK_checkpoint.pt) holds
besides the network's and the optimizer's state, so that a run started again goes on after the
last epoch done. `write_result` and `read_result` store a finished fold's `crossval.FoldResult`
(MODEL/work/foldK_result.pt). Both files hold tensors and primitives only, as
`modelstore.load_tensors` reads them (`weights_only=True`).
"""

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from . import modelstore
from .crossval import FoldResult


@dataclass
class FoldState:
    """A fold after `epoch` epochs: what its checkpoint holds besides the network and optimizer."""

    epoch: int = 0  # epochs done
    best_score: float = -math.inf  # the chosen epoch's selection score (`selection_score`)
    best_epoch: int = -1  # the chosen epoch, counted from 1; -1 before the first
    history: list[dict] = field(default_factory=list)  # one entry per epoch done
    best_model: dict[str, torch.Tensor] | None = None  # the chosen epoch's weights, on the CPU
    best_probabilities: np.ndarray | None = None  # its probabilities of the held-out records
    # selection=inner: the epoch the held-out records would have chosen, and their probabilities
    held_out_best_score: float = -math.inf
    held_out_best_epoch: int = -1
    held_out_best_probabilities: np.ndarray | None = None

    def add_epoch(
        self,
        model: torch.nn.Module,
        entry: dict,
        score: float | None,
        probabilities: np.ndarray | None,
        track_held_out: bool = False,
    ) -> None:
        """Count the epoch just trained. `score`: its selection score, or None where it is no
        candidate (selection=last before the last epoch); its weights and held-out
        `probabilities` are kept if the score is the best so far. `track_held_out`: also keep
        the held-out probabilities of the epoch best by the held-out score (entry["val_challenge"])."""
        self.epoch += 1
        if score is not None and score > self.best_score:
            self.best_score, self.best_epoch = score, self.epoch
            self.best_model = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            self.best_probabilities = probabilities
        if track_held_out and entry["val_challenge"] > self.held_out_best_score:
            self.held_out_best_score, self.held_out_best_epoch = entry["val_challenge"], self.epoch
            self.held_out_best_probabilities = probabilities
        self.history.append(entry)

    def to_checkpoint(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict:
        """The checkpoint: tensors and primitives only, as `modelstore.load_tensors` reads them."""
        return {
            "epoch": self.epoch,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "best_model": self.best_model,
            "best_probabilities": _tensor(self.best_probabilities),
            "held_out_best_score": self.held_out_best_score,
            "held_out_best_epoch": self.held_out_best_epoch,
            "held_out_best_probabilities": _tensor(self.held_out_best_probabilities),
        }

    @classmethod
    def from_checkpoint(cls, saved: dict, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> "FoldState":
        """The state of a checkpoint; `model` and `optimizer` take its weights and moments.
        (Checkpoints written before selection=inner lack the held_out_best keys.)"""
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        return cls(
            saved["epoch"],
            saved["best_score"],
            saved["best_epoch"],
            saved["history"],
            saved["best_model"],
            _array(saved["best_probabilities"]),
            saved.get("held_out_best_score", -math.inf),
            saved.get("held_out_best_epoch", -1),
            _array(saved.get("held_out_best_probabilities")),
        )


def _tensor(array: np.ndarray | None) -> torch.Tensor | None:
    return None if array is None else torch.from_numpy(array)


def _array(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.numpy()


def write_result(path: str, result: FoldResult) -> None:
    """Save a finished fold's result at `path`."""
    modelstore.save_tensors(
        path,
        {
            "fold": result.fold,
            "best_epoch": result.best_epoch,
            "best_score": result.best_score,
            "history": result.history,
            "validation": torch.from_numpy(result.validation),
            "probabilities": torch.from_numpy(result.probabilities),
            "inner": _tensor(result.inner),
            "held_out_best_epoch": result.held_out_best_epoch,
            "held_out_best_score": result.held_out_best_score,
            "held_out_best_probabilities": _tensor(result.held_out_best_probabilities),
        },
    )


def read_result(path: str) -> FoldResult:
    """The fold result saved at `path`. (Results written before selection=inner lack its keys.)"""
    saved = modelstore.load_tensors(path)
    return FoldResult(
        saved["fold"],
        saved["best_epoch"],
        saved["best_score"],
        saved["history"],
        saved["validation"].numpy(),
        saved["probabilities"].numpy(),
        _array(saved.get("inner")),
        saved.get("held_out_best_epoch", -1),
        saved.get("held_out_best_score"),
        _array(saved.get("held_out_best_probabilities")),
    )

"""Training augmentations: random changes to the record part of each training window (never
its zero padding), so that the network does not learn one site's gains, baselines, noise or
leads; and mixup of the windows of a batch. Inference never augments.

A window goes through `Augmentation.window` (in mV, before `preprocess.condition`, as a
site's acquisition would change the signal the conditioning then sees): per-lead gain
(`amplitude_scale`), baseline wander (`baseline_wander`), Gaussian noise (`noise`), and last,
so that a masked lead is exactly zero as a missing lead is at inference, lead masking
(`lead_mask`). The conditioned windows of a process's share of a batch are then mixed in pairs
(`mixup`): signals, demographics and labels; a label cell's loss weight is the smaller of its
two windows' weights (a cell masked in either is masked).

Every random choice comes from a generator of (seed, fold, epoch, batch, ...), never from a
global state, so data-loader processes make the same choices as the main process, and a
resumed run the same as an uninterrupted one. Each window has its own generator (by its place
in the global batch), so its changes do not depend on the number of processes either (one
and two processes train alike); mixup pairs windows within a process's share, so its pairs do.
"""

from dataclasses import dataclass

import numpy as np

from .config import Config
from .preprocess import NUM_LEADS

# Baseline wander: breathing and electrode motion, 3 to 30 cycles a minute.
WANDER_HZ = (0.05, 0.5)
# Generator streams of a batch: one generator per window, one per process's mixup.
_WINDOW, _MIXUP = 0, 1


@dataclass(frozen=True)
class Augmentation:
    """The augmentations of `config` for one epoch of one fold."""

    config: Config
    fold: int
    epoch: int

    def generator(self, batch: int, stream: int, index: int) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, self.fold, self.epoch, batch, stream, index])

    def window(self, part: np.ndarray, batch: int, position: int) -> np.ndarray:
        """The (12, n) record part of the window at `position` of global batch `batch`,
        augmented (a new array); `part` itself where no window augmentation is on."""
        config = self.config
        if not (config.amplitude_scale or config.baseline_wander or config.noise or config.lead_mask):
            return part
        rng = self.generator(batch, _WINDOW, position)
        part = np.array(part, dtype=np.float32)  # the cache is read-only
        if config.amplitude_scale:
            part *= rng.uniform(1 - config.amplitude_scale, 1 + config.amplitude_scale, (NUM_LEADS, 1))
        if config.baseline_wander:
            part += wander(part.shape[1], config.baseline_wander, config.sample_rate, rng)
        if config.noise:
            part += np.float32(config.noise) * rng.standard_normal(part.shape, dtype=np.float32)
        if config.lead_mask and rng.random() < config.lead_mask:
            part[dropped_leads(rng)] = 0
        return part

    def mixing(self, batch: int, rank: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(partner, weight of the window itself) of each of the `size` windows of process
        `rank`'s share of batch `batch`: a random permutation and Beta(mixup, mixup) draws.
        Any process can compute any share's, as the global batch's loss weights need."""
        rng = self.generator(batch, _MIXUP, rank)
        partners = rng.permutation(size)
        return partners, rng.beta(self.config.mixup, self.config.mixup, size).astype(np.float32)


def wander(length: int, millivolts: float, rate: float, rng: np.random.Generator) -> np.ndarray:
    """(12, length) slow sinusoids: one frequency in `WANDER_HZ` for the window (breathing moves
    every electrode at once), a random phase and an amplitude up to `millivolts` per lead."""
    frequency = rng.uniform(*WANDER_HZ)
    phase = rng.uniform(0, 2 * np.pi, (NUM_LEADS, 1))
    amplitude = rng.uniform(0, millivolts, (NUM_LEADS, 1))
    angle = 2 * np.pi * frequency * np.arange(length) / rate
    # a sin(angle + phase) = a cos(phase) sin(angle) + a sin(phase) cos(angle): two sines for
    # the window instead of one per lead
    waves = amplitude * np.cos(phase) * np.sin(angle) + amplitude * np.sin(phase) * np.cos(angle)
    return waves.astype(np.float32)


def dropped_leads(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random nonempty proper subset of the 12 leads, as a boolean row mask: some
    lead is always dropped and some always kept. Random subsets rather than the 2021
    reduced-lead sets: the driver derives every missing limb lead from two present ones, so
    those sets reach the network as only two patterns (precordial leads zero but for V2, or
    all), while random subsets keep it from leaning on any one lead a site may record badly."""
    subset = int(rng.integers(1, 2**NUM_LEADS - 1))
    return (subset >> np.arange(NUM_LEADS)) & 1 == 1


def mix(
    parts: list[np.ndarray],
    labels: np.ndarray,
    demographics: np.ndarray,
    weights: np.ndarray | None,
    partners: np.ndarray,
    own: np.ndarray,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray | None]:
    """Window i mixed with window partners[i], `own[i]` of it its own: signals, demographics
    and labels. The partner's record part is laid over the window's own from its start (cut
    to the window's length; where it is shorter, the rest is the window's alone, scaled), so
    the window keeps its valid span. Loss weights (None without label overrides) are
    `mixed_weights`."""
    mixed = []
    for i, part in enumerate(parts):
        other = parts[partners[i]][:, : part.shape[1]]
        out = own[i] * part
        out[:, : other.shape[1]] += (1 - own[i]) * other
        mixed.append(out)
    own = own[:, None]
    labels = own * labels + (1 - own) * labels[partners]
    demographics = own * demographics + (1 - own) * demographics[partners]
    return mixed, labels, demographics, None if weights is None else mixed_weights(weights, partners)


def mixed_weights(weights: np.ndarray, partners: np.ndarray) -> np.ndarray:
    """A mixed cell's loss weight: the smaller of its two windows'. A mixed label is known
    only as well as its less certain half; for 0/1 masks, the product."""
    return np.minimum(weights, weights[partners])

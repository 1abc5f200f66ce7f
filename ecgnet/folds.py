"""Cross-validation folds: multi-label iterative stratification within each source (the
paper's), or one fold per source (leave-one-source-out, `source_folds`); and the inner
validation split of a fold's training records (`inner_split`, for selection=inner).

Iterative stratification (Sechidis, Tsoumakas and Vlahavas, ECML PKDD 2011) deals the records
of the rarest label first, each to the fold that most lacks that label, so that every fold
gets its share of every class, rare ones included. Ties go to the fold that most lacks the
record's other labels, which keeps the common labels balanced too. As in the published method, it runs
separately for each record source (name prefix), so every source is spread over all folds.
"""

from collections.abc import Sequence

import numpy as np

from .folders import name_prefix


def iterative_stratification(
    labels: np.ndarray, num_folds: int, rng: np.random.Generator, shares: Sequence[float] | np.ndarray | None = None
) -> np.ndarray:
    """Fold number (0..num_folds-1) for each row of a (records, classes) 0/1 matrix; `shares`:
    each fold's fraction of the records and of every label (default: equal)."""
    labels = np.asarray(labels, dtype=bool)
    num_records = labels.shape[0]
    folds = np.full(num_records, -1)
    shares = np.full(num_folds, 1.0 / num_folds) if shares is None else np.asarray(shares, dtype=np.float64)
    want_records = num_records * shares
    want_labels = np.outer(labels.sum(axis=0), shares)
    remaining = labels.copy()
    unassigned = np.ones(num_records, dtype=bool)

    def deal(record, candidates):
        # Among folds tied on need, prefer the one that most needs the record's other labels,
        # then the one missing the most records, then chance.
        for need in (lambda c: want_labels[labels[record]][:, c].sum(axis=0), lambda c: want_records[c]):
            values = need(candidates)
            candidates = candidates[values == values.max()]
        fold = candidates[rng.integers(len(candidates))] if len(candidates) > 1 else candidates[0]
        folds[record] = fold
        want_records[fold] -= 1
        want_labels[labels[record], fold] -= 1
        remaining[record] = False
        unassigned[record] = False

    while remaining.any():
        counts = remaining.sum(axis=0)
        label = np.flatnonzero(counts == counts[counts > 0].min())
        label = label[rng.integers(len(label))] if len(label) > 1 else label[0]
        for record in rng.permutation(np.flatnonzero(remaining[:, label])):
            need = want_labels[label]
            deal(record, np.flatnonzero(need == need.max()))
    for record in rng.permutation(np.flatnonzero(unassigned)):
        deal(record, np.arange(num_folds))
    return folds


def assign_folds(record_names: Sequence[str], labels: np.ndarray, num_folds: int, seed: int) -> np.ndarray:
    """Fold number per record, stratified on `labels` separately within each source prefix."""
    labels = np.asarray(labels)
    sources = np.array([name_prefix(name) for name in record_names])
    folds = np.empty(len(record_names), dtype=int)
    for number, source in enumerate(sorted(set(sources))):
        rows = np.flatnonzero(sources == source)
        rng = np.random.default_rng([seed, number])
        folds[rows] = iterative_stratification(labels[rows], num_folds, rng)
    return folds


def source_folds(record_names: Sequence[str]) -> np.ndarray:
    """Fold number per record for leave-one-source-out validation: one fold per source
    (name prefix), numbered in the sources' sorted order. Each fold's model never sees its
    source, as a hidden test site is never seen."""
    sources = [name_prefix(name) for name in record_names]
    number = {source: k for k, source in enumerate(sorted(set(sources)))}
    return np.array([number[source] for source in sources], dtype=int)


# The inner split's random stream, apart from the folds' ([seed, source number]).
_INNER_STREAM = 1


def inner_split(record_names: Sequence[str], labels: np.ndarray, fraction: float, seed: int, fold: int) -> np.ndarray:
    """Which of a fold's training records (`record_names`, `labels`) form its inner validation
    split: about `fraction` of them, stratified on the labels and the sources (name prefixes)
    together, so that the split is drawn across the training sources (under split=source too).
    The same (seed, fold) gives the same split."""
    sources = [name_prefix(name) for name in record_names]
    keys = sorted(set(sources))
    # A source is one more label to stratify on: each gets its share of the split.
    source_columns = np.array([[source == key for key in keys] for source in sources], dtype=bool)
    columns = np.hstack([np.asarray(labels, dtype=bool), source_columns.reshape(len(sources), len(keys))])
    rng = np.random.default_rng([seed, fold, _INNER_STREAM])
    return iterative_stratification(columns, 2, rng, shares=[fraction, 1 - fraction]) == 0

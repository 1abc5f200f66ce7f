"""The labels a report scores: the training records' `#Dx` labels, encoded as training encodes
them, with label overrides applied where given, and where they come from (`Provenance`).

A model trained with label overrides can be scored on the labels as DATA gives them or with any
overrides file (`ecgnet report --label-overrides`), e.g. a study's reviewed labels for a model
trained without them. Applied here as training applies them: labels set; masked and
down-weighted cells keep their label (the challenge metric scores whole records); dropped
records are left out. Records that have a scored label only through overrides the model was
trained with are left out, and counted, when those overrides are not applied here.
"""

import os
from dataclasses import dataclass, field

import numpy as np

from .. import labels as label_space
from ..errors import RecordError, ReportError
from ..folders import list_records
from ..headers import load_header
from ..overrides import apply_overrides, read_overrides, summary


def header_codes(folder, names, what: str) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """({name: its `#Dx` codes}, {name: why its header cannot be read}) of those of `names` that
    have a header in `folder`; a folder that cannot be listed is refused, naming `what` it holds."""
    try:
        headers = {r.name: r.header for r in list_records(folder) if r.header}
    except RecordError as e:
        raise ReportError(f"{what}: {e}") from None
    codes, unreadable = {}, {}
    for name in names:
        if name in headers:
            try:
                codes[name] = load_header(headers[name]).dx
            except RecordError as e:
                unreadable[name] = str(e)
    return codes, unreadable


def read_training_labels(folder, names, require_labels=True):
    """Multi-hot labels of `names` from the `#Dx` lines of the headers in `folder`, encoded as
    training encodes them. `folder` may also be a mapping of name -> codes or multi-hot vector.
    A record without any scored label is refused unless not `require_labels` (label overrides
    may give it one: `scored_labels`)."""
    if isinstance(folder, dict):
        found = folder
    else:
        found, unreadable = header_codes(folder, names, "training labels")
        if unreadable:
            raise ReportError(f"training labels: {next(iter(unreadable.values()))}")
    missing = [n for n in names if n not in found]
    if missing:
        raise ReportError(
            f"{len(missing)} of the {len(names)} out-of-fold records have no header in {folder} "
            f"(first: {', '.join(missing[:3])}); give the folder the model was trained on"
        )
    labels = np.zeros((len(names), label_space.NUM_CLASSES), dtype=bool)
    for i, name in enumerate(names):
        value = found[name]
        if isinstance(value, np.ndarray) and value.shape == (label_space.NUM_CLASSES,):
            labels[i] = value.astype(bool)
        else:
            labels[i] = label_space.encode(value).astype(bool)
    unlabelled = [n for n, row in zip(names, labels) if not row.any()]
    if unlabelled and require_labels:
        raise ReportError(
            f"{len(unlabelled)} out-of-fold records have no scored label in {folder} (first: "
            f"{', '.join(unlabelled[:3])}), so it is not the folder the model was trained on"
        )
    return labels


@dataclass
class Provenance:
    """Where the labels scored come from, for the page's notice (`provenance.provenance_html`)."""

    source: str  # where the labels come from
    applied: dict | None  # the overrides applied: file, sha256 and summary counts among the scored records
    trained_with: dict | None  # model.json's record of the overrides the model was trained with
    left_out: dict = field(default_factory=dict)  # reason: records left out of the out-of-fold views


def _sha256(path: str | os.PathLike) -> str:
    import hashlib

    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def scored_labels(
    labels: str | dict, names: list[str], manifest: dict, overrides_path: str | None = None
) -> tuple[np.ndarray, np.ndarray, Provenance]:
    """(labels (records, 24) bool, records kept, Provenance) of the out-of-fold records `names`."""
    y = read_training_labels(labels, names, require_labels=False)
    source = (
        f"the #Dx lines of the headers in {labels}" if not isinstance(labels, dict) else "labels given by the caller"
    )
    trained_with = (manifest.get("training") or {}).get("label_overrides") or None
    keep = np.ones(len(names), dtype=bool)
    applied = None
    if overrides_path is not None:
        overrides = read_overrides(os.fspath(overrides_path))
        y, _, keep = apply_overrides(names, y.astype(np.int8), overrides)
        y = y.astype(bool)
        applied = {"file": str(overrides_path), "sha256": _sha256(overrides_path), **summary(names, overrides)}
    provenance = Provenance(source, applied, trained_with)
    if (~keep).any():
        provenance.left_out["dropped by the overrides applied"] = int((~keep).sum())
    unlabelled = ~y.any(axis=1) & keep
    if unlabelled.any():
        first = ", ".join(n for n, u in zip(names, unlabelled) if u)[:60]
        given_by_training = trained_with and applied is None and unlabelled.sum() <= trained_with.get("set", 0)
        if not given_by_training:
            hint = (
                f"; the model was trained with label overrides {trained_with.get('file')}: give them with "
                "--label-overrides"
                if trained_with and applied is None
                else ", so it is not the folder the model was trained on"
            )
            raise ReportError(
                f"{int(unlabelled.sum())} out-of-fold records have no scored label in {labels}"
                f"{' after the overrides' if applied else ''} (first: {first}){hint}"
            )
        provenance.left_out["without a scored label but through the overrides the model was trained with"] = int(
            unlabelled.sum()
        )
        keep &= ~unlabelled
    return y, keep, provenance

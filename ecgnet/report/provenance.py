"""Which labels a report scores, said on the page: the labels' source, the label overrides
applied (file, SHA-256, what they change among the scored records), the overrides the model was
trained with (model.json), the records left out; and whether a test set shares records with
the training set.

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

from ..overrides import apply_overrides, read_overrides, summary
from .data import ReportError, read_training_labels


@dataclass
class Provenance:
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


def _overrides_text(record: dict, among: str) -> str:
    counts = (
        f"among {among}: {record.get('set', 0)} labels set, {record.get('masked', 0)} cells masked, "
        f"{record.get('weighted', 0)} down-weighted, {record.get('dropped', 0)} records dropped"
    )
    return f"<code>{record.get('file')}</code> (SHA-256 <code>{str(record.get('sha256'))[:12]}</code>; {counts})"


def provenance_html(provenance: Provenance, esc) -> str:
    """The "Labels scored" notice: `esc` escapes text for HTML."""
    applied, trained = provenance.applied, provenance.trained_with
    text = f"<b>Labels scored:</b> {esc(provenance.source)}"
    if applied:
        scored = _overrides_text(
            {**applied, "file": esc(applied["file"]), "sha256": esc(applied["sha256"])}, "the out-of-fold records"
        )
        text += f", with the label overrides {scored} applied"
        text += " (masked and down-weighted cells keep their label here: the metric scores whole records)"
    else:
        text += ", as given (no label overrides applied)"
    text += ". "
    if trained:
        same = applied is not None and applied["sha256"] == trained.get("sha256")
        trained_text = _overrides_text(
            {**trained, "file": esc(trained.get("file")), "sha256": esc(trained.get("sha256"))},
            "the records read in training",
        )
        text += (
            "The model was trained with the same overrides."
            if same
            else f"The model was trained with other label overrides: {trained_text}."
            if applied
            else f"The model was trained with the label overrides {trained_text}: these scores are on other labels "
            "than its cross-validation report's."
        )
    else:
        text += "The model was trained without label overrides."
    for reason, count in provenance.left_out.items():
        text += f" {count} out-of-fold records left out: {esc(reason)}."
    return text


def shared_records(model_names: list[str], test_names: list[str]) -> list[str]:
    """The test records that are also out-of-fold (training) records of the model, sorted."""
    return sorted(set(model_names) & set(test_names))

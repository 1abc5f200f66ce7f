"""Which labels a report scores, said on the page (`training_labels.Provenance`): the labels'
source, the label overrides applied (file, SHA-256, what they change among the scored records),
the overrides the model was trained with (model.json), the records left out; and whether a test
set shares records with the training set.
"""

from collections.abc import Callable

from .training_labels import Provenance


def _overrides_text(record: dict, among: str) -> str:
    counts = (
        f"among {among}: {record.get('set', 0)} labels set, {record.get('masked', 0)} cells masked, "
        f"{record.get('weighted', 0)} down-weighted, {record.get('dropped', 0)} records dropped"
    )
    return f"<code>{record.get('file')}</code> (SHA-256 <code>{str(record.get('sha256'))[:12]}</code>; {counts})"


def provenance_html(provenance: Provenance, esc: Callable[[str], str]) -> str:
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
            {**trained, "file": esc(str(trained.get("file"))), "sha256": esc(str(trained.get("sha256")))},
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

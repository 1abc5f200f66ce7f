"""One self-contained HTML page about a trained model, and its plots as files (`ecgnet report`).

    ecgnet report MODEL OUT [--labels DATA [--label-overrides FILE]] [--scores SCORES_JSON]
        [--test-labels TEST_DATA --outputs OUTPUTS]

OUT/report.html holds every plot as an embedded PNG (it opens offline, without JavaScript);
each plot is also written beside it as PNG and SVG. Modules: `data` (numbers, no plotting),
`training_labels` (the labels scored, with label overrides, and where they come from),
`plots` (matplotlib, Agg backend; the only module that imports it), `html` (the page),
`tables` (the sections without figures), `provenance` (the notice of which labels are scored)
and `build` (the sections with figures, and putting them together). matplotlib is needed only
here: importing this package does not import it (nor does anything the driver runs).
`write_training_report` is the report `ecgnet train` writes after training.
"""

import logging
import os

from .. import logs
from ..errors import ReportError, describe
from .data import TestSet

__all__ = ["write_report", "write_training_report", "TestSet", "ReportError"]

log = logging.getLogger(__name__)


def write_report(
    model_folder, out_folder, test=None, labels=None, min_positives=10, label_overrides=None, measurements=None
):
    """Write OUT/report.html for MODEL; return its path. See `ecgnet.report.build.write_report`.
    (matplotlib is imported here, not when the package is.)"""
    from .build import write_report as _write_report

    return _write_report(
        model_folder,
        out_folder,
        test=test,
        labels=labels,
        min_positives=min_positives,
        label_overrides=label_overrides,
        measurements=measurements,
    )


def write_training_report(
    model_folder: str | os.PathLike, data_folder: str | os.PathLike, label_overrides: str | os.PathLike | None = None
) -> str | None:
    """MODEL/report/report.html, the cross-validation report of a model just trained on DATA:
    DATA's labels, with the label overrides applied as training applied them (the report says
    so). Its log lines also go to MODEL/train.log. Skipped with one line in the log without
    matplotlib; a failure is logged, never raised: the model is complete by then. Returns the
    page's path, or None where it was not written."""
    from ..modelstore import ModelFolder  # the folder's layout (imports torch, as training did)

    store = ModelFolder(model_folder)
    with logs.to_file(store.log):
        try:
            path = write_report(store.folder, store.path("report"), labels=data_folder, label_overrides=label_overrides)
        except ImportError as e:
            log.info(
                f"report skipped: {e.name or 'a module it needs'} is not installed ({e}); install the review "
                "extra (pip install 'ecgnet[review]') to have it, or run `ecgnet report MODEL OUT --labels DATA`"
            )
            return None
        except Exception as e:  # noqa: BLE001  (the model is written; a report failure must not undo that)
            log.warning(f"report not written: {describe(e)}; `ecgnet report MODEL OUT --labels DATA` writes it")
            return None
        log.info(f"report: {path}")
        return path

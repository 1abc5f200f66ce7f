"""What the report (and `ecgnet compare`) read of each JSON file, as `jsonshape` shapes: every
value used is checked for its type before a page shows it or a sum adds it."""

from .. import metrics
from ..jsonshape import Fields, Flag, Integer, ListOf, MapOf, Number, OneOf, Text

METRICS = MapOf(Number(), null=True)  # metric name -> number (null where undefined)
EVALUATION = {"records": Integer(), "before_thresholds": METRICS, "after_thresholds": METRICS}

HISTORY = Fields(
    {"epoch": Integer(), "loss": Number(), "val_challenge": Number(), "inner_challenge": Number()},
    required=("epoch", "loss"),
)
FOLD = Fields(
    {
        **EVALUATION,
        "fold": Integer(),
        "best_epoch": Integer(),
        "best_validation_challenge": Number(),
        "history": ListOf(HISTORY, null=True),
        "inner_records": Integer(),
        "inner_challenge": Number(),
        "held_out_best_epoch": Integer(),
        "held_out_best_challenge": Number(),
    },
    required=("fold",),
)
EPOCH_CHOICE = Fields(
    {"epochs": ListOf(Integer()), "before_thresholds": Number(), "after_thresholds": Number()}, null=True
)
SOURCE = Fields({**EVALUATION, "name": Text(), "unseen": Flag()})
TRANSFER = Fields(
    {
        "sources": MapOf(Integer()),
        "methods": MapOf(
            Fields(
                {"sources": MapOf(Number()), "mean": Number(), "worst": Number(), "pooled": Number()},
                required=("sources",),
            )
        ),
    },
    null=True,
)
CV_REPORT = Fields(
    {
        "checkpoint_threshold": Number(null=False),
        "threshold_search_rounds": Integer(),
        "overall": Fields(EVALUATION),
        "folds": ListOf(FOLD),
        "selection": Fields(
            {
                "method": OneOf(("validation", "inner", "last")),
                "held_out_choice": EPOCH_CHOICE,
                "chosen": EPOCH_CHOICE,
            },
            null=True,
        ),
        "split": Text(),
        "threshold_method": Text(),
        "sources": MapOf(SOURCE),
        "threshold_transfer": TRANSFER,
        "class_auroc": MapOf(Number(), null=True),  # class code -> AUROC (null where undefined)
        "second_stage": Fields(
            {
                "stacking": Text(),
                "stacking_penalty": Number(),
                "decide_rules": Text(),
                "network_auroc": Number(),
                "network_class_auroc": MapOf(Number(), null=True),
            },
            null=True,
        ),
    },
    required=("overall", "folds"),
)

# model.json beyond what modelstore checks (its config and thresholds are checked there)
OVERRIDES_RECORD = Fields(
    {"file": Text(), "sha256": Text(), **{key: Integer() for key in ("set", "masked", "weighted", "dropped")}},
    null=True,
)
MODEL_JSON = Fields(
    {"created": Text(), "training": Fields({"records": Integer(), "label_overrides": OVERRIDES_RECORD}, null=True)}
)

_SCORES_METRICS = {name: Number() for name in metrics.ALL_METRIC_NAMES}
SCORES_CLASS = Fields(
    {
        "class": Text(null=False),
        "positives": Integer(null=False),
        **{key: Number() for key in ("AUROC", "AUPRC", "F-measure", "sensitivity", "specificity")},
    },
    required=("class", "positives"),
)
SCORES = Fields(
    {
        **_SCORES_METRICS,
        "records": Integer(null=False),
        "classes": ListOf(SCORES_CLASS),
        "sources": MapOf(
            Fields({**_SCORES_METRICS, "records": Integer(null=False), "name": Text()}, required=("records",)),
            null=True,
        ),
    },
    required=("records", "classes"),
)

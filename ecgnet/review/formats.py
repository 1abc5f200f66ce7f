"""The files the review tools hand to each other, defined once: the audit's label issues (read
by the review kit), and the kit's key, answer form and manifest (read by agreement and relabel)."""

ISSUES_FILE = "label_issues.csv"
ISSUE_COLUMNS = (
    "record",
    "source",
    "class",
    "abbreviation",
    "given_label",
    "oof_probability",
    "threshold",
    "label_quality",
    "issue",
    "rank",
    "rule",  # the measurement rule reader on the pair (audit --rules): agrees, contradicts, or blank
)

KEY_FILE, MANIFEST_FILE, FORM_FILE = "key.csv", "manifest.json", "answer_form.csv"
# key.csv: one row per review item and asked class
KEY_COLUMNS = (
    "review_id",
    "record",
    "group",
    "repeat_of",
    "class",
    "abbreviation",
    "given_label",
    "model_label",
    "model_probability",
)
# answer_form.csv: review_id, one column per asked class (abbreviation), then these
FORM_EXTRA = ("quality", "axis_degrees", "confidence", "comment")

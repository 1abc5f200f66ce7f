"""The files the review tools hand to each other, defined once: the audit's label issues (read
by the review kit), and the kit's key, answer form and manifest (read by agreement and relabel),
with the kit's identity that binds an answer form to its kit."""

import re
import secrets

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
# everything a reviewer is given, and nothing else, lies in this subfolder of the kit, so that it
# can be sent whole: packet.pdf, sheets/, answer_form.csv and .pdf (key.csv and manifest.json
# stay beside it, in the kit's folder)
REVIEWER_FOLDER = "reviewers"
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
# answer_form.csv: kit_id (the kit's identity, on every row: a header comment row would be lost
# or shifted by some spreadsheet programs), review_id, one column per asked class
# (abbreviation), then these
KIT_COLUMN = "kit_id"
FORM_EXTRA = ("quality", "axis_degrees", "confidence", "comment")
QUALITY = {"G": "good", "A": "acceptable", "U": "uninterpretable"}  # answer: meaning
CONFIDENCE = range(1, 6)  # 1 a guess ... 5 certain
AXIS_RANGE = (-180.0, 180.0)  # frontal QRS axis, degrees, positive downward (aVF +90)

# The kit's identity: "K" + a random ID (Crockford base32, no I, L, O or U) + "-" + the first
# hex digits of key.csv's SHA-256. Printed on every sheet, the answer form and its PDF. The
# random part tells apart kits with the same key; the hash ties the identity to the key. Neither
# says anything about the records (the key holds random choices from a seed nobody sees).
RANDOM_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_ID_LENGTH = 8
KEY_HASH_DIGITS = 8
RANDOM_ID_PATTERN = re.compile(rf"[{RANDOM_ID_ALPHABET}]{{{RANDOM_ID_LENGTH}}}")


def new_random_id() -> str:
    return "".join(secrets.choice(RANDOM_ID_ALPHABET) for _ in range(RANDOM_ID_LENGTH))


def kit_identity(random_id: str, key_sha256: str) -> str:
    """The identity printed on the kit's pages and in every row of its answer form."""
    return f"K{random_id}-{key_sha256[:KEY_HASH_DIGITS]}"

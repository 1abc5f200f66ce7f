#!/usr/bin/env python
"""The 2020 challenge's classification functions where its unedited `driver.py` looks for them:

    from run_12ECG_classifier import load_12ECG_model, run_12ECG_classifier

    model = load_12ECG_model(model_directory)
    labels, probabilities, classes = run_12ECG_classifier(data, header_lines, model)

Implemented once, in team_code.py (which also holds the 2021 names).
"""

from team_code import load_12ECG_model, run_12ECG_classifier

__all__ = ["load_12ECG_model", "run_12ECG_classifier"]

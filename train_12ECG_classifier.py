#!/usr/bin/env python
"""The 2020 challenge's training function where its unedited `train_model.py` looks for it:

    from train_12ECG_classifier import train_12ECG_classifier

    train_12ECG_classifier(input_directory, output_directory)

Implemented once, in team_code.py: published settings, or the JSON config file named by the
environment variable ECGNET_CONFIG.
"""

from team_code import train_12ECG_classifier

__all__ = ["train_12ECG_classifier"]

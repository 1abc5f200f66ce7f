"""The original authors' inference loop, rebuilt as a speed and memory reference.

    python -m ecgnet.benchmarks.reference_driver MODEL DATA OUTPUTS

It does the work their driver did, the way it did it, so that `ecgnet benchmark` can compare
against it in the same run on the same machine: every record read on its own, resampled to
257 Hz by linear interpolation of the raw values, zero-padded to 4096 samples when shorter;
then for each of the fold models (batch norm not folded, autograd left on) one batch-1
forward of the whole record and one of each window, sigmoid outputs averaged; the class
table re-read for every record. The network is this project's (of the same size and
arithmetic), with the weights of MODEL; their network took no measurements, so a model with
features=measurements is given every measurement as missing (nothing is measured).
"""

import csv
import os
import sys
from typing import Any

import numpy as np
import scipy.io
import torch

from ecgnet import features, modelstore, preprocess
from ecgnet.headers import parse_header
from ecgnet.model import SEResNet1d

# The class table their driver re-read for every record (the package's copy).
SCORED_TABLE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "dx_mapping_scored.csv"
)


def interpolate(data: np.ndarray, from_rate: float, to_rate: float) -> np.ndarray:
    """Their resampling: linear interpolation of each row from `from_rate` to `to_rate`."""
    n = data.shape[1]
    source = np.linspace(0, n, n) / from_rate
    target_count = int(n / from_rate * to_rate)
    target = np.linspace(0, target_count, target_count) / to_rate
    return np.vstack([np.interp(target, source, row) for row in data])


def main(model_folder: str, data_folder: str, output_folder: str) -> None:
    """Classify every record of `data_folder` their way into `output_folder`."""
    config, paths, thresholds = modelstore.load_model(model_folder)
    models = []
    for path in paths:
        model = SEResNet1d(config)
        model.load_state_dict(modelstore.load_tensors(path))
        models.append(model.eval())
    os.makedirs(output_folder, exist_ok=True)
    unmeasured = features.encode(np.full(len(features.VALUES), np.nan))[0]
    for name in sorted(os.listdir(data_folder)):
        if not name.endswith(".mat"):
            continue
        stem = name[:-4]
        with open(os.path.join(data_folder, stem + ".hea")) as f:
            header = parse_header(f.read())
        data = np.asarray(scipy.io.loadmat(os.path.join(data_folder, name))["val"], dtype=np.float64)
        data = interpolate(data, header.sample_rate, config.sample_rate)
        if data.shape[1] < config.window:
            data = np.hstack([data, np.zeros((data.shape[0], config.window - data.shape[1]))])
        x = torch.from_numpy(data.astype(np.float32)).unsqueeze(0)
        inputs = preprocess.demographics(header.age, header.sex)
        if config.features == "measurements":
            inputs = np.concatenate([inputs, unmeasured])
        demographics = torch.from_numpy(inputs).unsqueeze(0)
        views = preprocess.inference_views(x.shape[2], config.window, config.overlap)
        labels: Any = 0  # sums of arrays, as the original wrote them
        scores: Any = 0
        for model in models:
            mean: Any = sum(torch.sigmoid(model(x[:, :, s:e], demographics)) for s, e in views) / len(views)
            probability = mean.detach().numpy()[0]
            label = probability >= np.asarray(thresholds)
            label[np.argmax(probability)] = True
            labels, scores = labels + label, scores + probability
        votes = labels / len(models)
        votes[np.argmax(votes)] = 1
        with open(SCORED_TABLE) as f:
            classes = sorted(
                {row["SNOMED CT Code"] for row in csv.DictReader(f)} - {"59118001", "63593006", "17338001"}
            )
        with open(os.path.join(output_folder, stem + ".csv"), "w") as f:
            f.write(
                f"#{stem}\n{','.join(classes)}\n{','.join(str(int(v >= 0.5)) for v in votes)}\n"
                f"{','.join(str(p) for p in scores / len(models))}\n"
            )


if __name__ == "__main__":
    main(*sys.argv[1:4])

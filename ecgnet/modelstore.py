"""The MODEL folder: a versioned layout that loads without executing code.

    MODEL/
      model.json             format name and version, classes, config, thresholds, and the
                             SHA-256 of every weight file; written last, so a folder without
                             it is an unfinished training run
      fold1.pt ... foldK.pt  the best weights of each fold (PyTorch tensors only, read with
                             weights_only=True: no pickled code is ever run)
      thresholds.csv         the per-class thresholds, for people
      oof_probabilities.csv  out-of-fold probabilities of every training record
      cv_report.json         every metric per fold and overall, before and after thresholds
      train.log              the training log
      work/                  resumable training state: config.json, folds.json, per-fold
                             checkpoints and results, and the signal cache
"""
import hashlib
import json
import os
import time

import torch

from . import __version__
from . import labels as label_space
from .config import Config

FORMAT = "ecgnet-model"
FORMAT_VERSION = 1


class ModelFolderError(Exception):
    """A MODEL folder that cannot be used; the message says which file and why."""


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_tensors(path, obj):
    """torch.save through a temporary file, so a crash never leaves a half-written file."""
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)


def load_tensors(path):
    """Load a file written by `save_tensors` without executing pickled code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelFolderError(f"{path} is missing") from None
    except Exception as e:
        raise ModelFolderError(f"{path} is damaged or not a tensor file ({type(e).__name__}: {e})") from None


def write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)


class ModelFolder:
    """Paths of a MODEL folder's files."""

    def __init__(self, folder):
        self.folder = str(folder)
        self.work = os.path.join(self.folder, "work")

    def path(self, name):
        return os.path.join(self.folder, name)

    def work_path(self, name):
        return os.path.join(self.work, name)

    @property
    def manifest(self):
        return self.path("model.json")

    def weights(self, fold):
        return self.path(f"fold{fold + 1}.pt")

    def checkpoint(self, fold):
        return self.work_path(f"fold{fold + 1}_checkpoint.pt")

    def fold_result(self, fold):
        return self.work_path(f"fold{fold + 1}_result.pt")

    @property
    def cache(self):
        return self.work_path("cache")


def save_model(folder, config, thresholds, num_folds, training_summary):
    """Write model.json over the fold weight files already in `folder`."""
    store = ModelFolder(folder)
    files = [os.path.basename(store.weights(k)) for k in range(num_folds)]
    write_json(store.manifest, {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ecgnet_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "classes": list(label_space.CLASSES),
        "abbreviations": list(label_space.ABBREVIATIONS),
        "config": config.to_dict(),
        "thresholds": [float(t) for t in thresholds],
        "weights": [{"file": name, "sha256": sha256(store.path(name))} for name in files],
        "training": training_summary,
    })


def read_manifest(folder):
    store = ModelFolder(folder)
    if not os.path.isdir(store.folder):
        raise ModelFolderError(f"model folder {store.folder} does not exist")
    if not os.path.isfile(store.manifest):
        raise ModelFolderError(f"{store.folder} is not a finished ecgnet model: {store.manifest} is missing "
                               "(train into it with train_model.py, or resume an interrupted run)")
    try:
        with open(store.manifest) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise ModelFolderError(f"{store.manifest} cannot be read: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFolderError(f"{store.manifest} is not an ecgnet model description")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFolderError(f"{store.manifest} has model format version {version}; this ecgnet "
                               f"({__version__}) reads version {FORMAT_VERSION}")
    if tuple(manifest.get("classes", ())) != label_space.CLASSES:
        raise ModelFolderError(f"{store.manifest} was trained on other classes than this ecgnet scores")
    return manifest


def load_model(folder):
    """(config, fold weight files, thresholds) of a finished MODEL folder, every file checked.

    Load the weight files with `load_tensors`; they are returned as paths so that callers
    can hold one fold's tensors at a time."""
    manifest = read_manifest(folder)
    store = ModelFolder(folder)
    try:
        config = Config.from_dict(manifest["config"])
        thresholds = [float(t) for t in manifest["thresholds"]]
        weights = manifest["weights"]
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFolderError(f"{store.manifest} is incomplete or invalid: {e}") from None
    if len(thresholds) != label_space.NUM_CLASSES or not weights:
        raise ModelFolderError(f"{store.manifest} needs {label_space.NUM_CLASSES} thresholds and at least one weight file")
    paths = []
    for entry in weights:
        path = store.path(os.path.basename(entry["file"]))
        if not os.path.isfile(path):
            raise ModelFolderError(f"{path} is missing")
        if sha256(path) != entry.get("sha256"):
            raise ModelFolderError(f"{path} is damaged: its checksum differs from the one in model.json")
        paths.append(path)
    return config, paths, thresholds

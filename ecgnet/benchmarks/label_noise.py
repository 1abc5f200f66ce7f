"""Planted label noise: how much of it does `ecgnet audit` find?

    python -m ecgnet.benchmarks.label_noise [--work DIR] [--noise 0.1] [--train 400] [--test 150]
                                             [--config configs/demo.json] [--json FILE]

1. synthetic records (`ecgnet.synthetic`): TRAIN for training with NOISE of their (record,
   class) labels flipped in the headers (over the 8 classes the generator draws; the clean
   labels in TRAIN/true_labels.csv), TEST clean ones for testing;
2. trains a small model on TRAIN (configs/demo.json by default) and scores it on TEST;
3. runs the audit (`ecgnet.review.audit.run_audit`) on the model's out-of-fold probabilities;
4. reports the precision and recall of the flagged pairs against the planted flips, the
   precision of the 50 top-ranked pairs (target >= 0.8), and the wall time of each step;
5. simulated reviewers answer every flagged pair with its true label; where that differs from
   the given label it becomes an override (the `consensus` policy of `ecgnet relabel`), and
   `retrain_with_overrides` trains again with them (`--label-overrides`) and scores TEST again.

Run from the repository root (the default config path is relative to the checkout).
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from ecgnet import labels as label_space
from ecgnet import synthetic
from ecgnet.benchmarks import PACKAGE_PARENT
from ecgnet.errors import describe
from ecgnet.files import atomic_write

TOP = 50


def score_flags(issues, oof_names, given, truth):
    """Precision and recall of the audit's pairs against the planted flips (records with
    out-of-fold probabilities only: training leaves out records without a scored label)."""
    planted = {
        (name, label_space.CLASSES[k])
        for i, name in enumerate(oof_names)
        for k in np.flatnonzero(given[i] != truth[name])
    }
    flagged = [(r["record"], r["class"]) for r in issues]
    hits = [pair in planted for pair in flagged]
    top = hits[:TOP]
    return {
        "planted": len(planted),
        "flagged": len(flagged),
        "true_flags": int(sum(hits)),
        "precision": round(sum(hits) / len(flagged), 4) if flagged else None,
        "recall": round(sum(hits) / len(planted), 4) if planted else None,
        f"top{TOP}_precision": round(sum(top) / len(top), 4) if top else None,
    }


def score_on_test(model, test_folder, outputs):
    """The challenge metric (and AUROC) of MODEL on the records of `test_folder`."""
    from ecgnet.inference import Ensemble
    from ecgnet.runner import run_folder
    from ecgnet.scoring import evaluate_folders

    run_folder(Ensemble.from_folder(model, "cpu"), test_folder, outputs)
    overall = evaluate_folders(test_folder, outputs).overall
    return {"challenge": round(overall["Challenge metric"], 4), "auroc": round(overall["AUROC"], 4)}


def overrides_from_audit(issues, path, truth=None, policy="consensus"):
    """An overrides file (ecgnet.overrides' format) from the audit's flagged pairs. With `truth`
    ({record: true labels}), reviewers answer each pair with its true label: `consensus` sets it
    where it differs from the given label, `mask` masks those cells. Without, as if a reviewer
    had agreed with every flag: `consensus` flips the given label, `mask` masks it."""
    from ecgnet.overrides import read_overrides, write_overrides

    def wrong(r):
        if truth is None:
            return True
        k = label_space.CLASS_INDEX[label_space.canonical_code(r["class"])]
        return int(truth[r["record"]][k]) != int(r["given_label"])

    rows = [
        (r["record"], r["class"], "mask" if policy == "mask" else str(1 - int(r["given_label"])))
        for r in issues
        if wrong(r)
    ]
    write_overrides(path, rows)
    return read_overrides(path)


def retrain_with_overrides(train_folder, model_folder, overrides_path, config):
    """Train again with the overrides (`train_model.py --label-overrides`); returns the model folder."""
    from ecgnet import training

    training.train(train_folder, model_folder, config=config, label_overrides=overrides_path, jobs=1)
    return model_folder


def run(work, noise=0.1, train=400, test=150, config_path=None, seed=1):
    from ecgnet.config import load_config_file
    from ecgnet.modelstore import read_oof_probabilities
    from ecgnet.review.audit import OOF_FILE, given_labels, read_issues, run_audit
    from ecgnet.training import train as train_model

    config = load_config_file(config_path or os.path.join(PACKAGE_PARENT, "configs", "demo.json"))
    paths = {
        k: os.path.join(work, k)
        for k in ("train", "test", "model", "audit", "outputs", "model_relabelled", "outputs_relabelled")
    }
    times, started = {}, time.time()

    def lap(name):
        nonlocal started
        times[name] = round(time.time() - started, 1)
        started = time.time()

    synthetic.make_dataset(paths["train"], train, seed=seed, label_noise=noise)
    synthetic.make_dataset(paths["test"], test, seed=seed + 1, start=train + 1)
    lap("records")
    train_model(paths["train"], paths["model"], config=config, jobs=1)
    lap("training")
    summary = run_audit(paths["model"], paths["train"], paths["audit"])
    lap("audit")
    issues = read_issues(os.path.join(paths["audit"], "label_issues.csv"))
    oof = read_oof_probabilities(os.path.join(paths["model"], OOF_FILE))
    given, _ = given_labels(paths["train"], oof.names)
    truth = synthetic.read_true_labels(os.path.join(paths["train"], synthetic.TRUE_LABELS_FILE))
    result = {
        "noise": noise,
        "train_records": train,
        "test_records": test,
        "config": config.to_dict(),
        "records_audited": summary["records"],
        "classes_audited": summary["classes_audited"],
        **score_flags(issues, oof.names, given, truth),
        "test": score_on_test(paths["model"], paths["test"], paths["outputs"]),
    }
    lap("test")
    overrides = os.path.join(work, "overrides.csv")
    applied = overrides_from_audit(issues, overrides, truth)
    result["overrides"] = {"rows": len(applied.labels), "reviewed_pairs": len(issues)}
    relabelled = retrain_with_overrides(paths["train"], paths["model_relabelled"], overrides, config)
    result["test_after_overrides"] = score_on_test(relabelled, paths["test"], paths["outputs_relabelled"])
    lap("retraining")
    result["seconds"] = times
    return result


def main(argv=None, prog=None):
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--work", help="folder for records, models and outputs (default: a temporary one, deleted)")
    parser.add_argument("--noise", type=float, default=0.1, help="fraction of labels flipped")
    parser.add_argument("--train", type=int, default=400, help="training records")
    parser.add_argument("--test", type=int, default=150, help="clean test records")
    parser.add_argument("--config", default=os.path.join("configs", "demo.json"), help="training config file")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic records")
    parser.add_argument("--json", metavar="FILE", help="write the result as JSON")
    args = parser.parse_args(argv)
    total = time.time()
    if args.work:
        result = run(args.work, args.noise, args.train, args.test, args.config, args.seed)
    else:
        with tempfile.TemporaryDirectory() as work:
            result = run(work, args.noise, args.train, args.test, args.config, args.seed)
    result["seconds"]["total"] = round(time.time() - total, 1)
    print(json.dumps({k: v for k, v in result.items() if k != "config"}, indent=2))
    if args.json:
        try:
            atomic_write(args.json, json.dumps(result, indent=2) + "\n")
        except OSError as e:
            print(f"error: {describe(e)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

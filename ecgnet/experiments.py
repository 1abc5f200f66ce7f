"""`ecgnet compare`: variants of a config trained over several seeds, each variant's mean and spread.

On the 193 sample records one seed moves the challenge metric by about 0.05, more than most
changes worth trying: a comparison needs the mean and the spread over seeds. A variant is the
base config with some fields changed (`parse_variant`); the variant `baseline`, the base config
itself, is always compared. Every (variant, seed) trains into OUT/NAME/seed-S with the seed set
to S (it moves the folds under split=stratified, and every random choice of training), all
runs sharing one signal cache (OUT/cache/rate-HZ). Training resumes where a run stopped and
skips finished runs, so the command can be stopped and started again at will.

A variant that differs from a finished run of the same seed only in what is fitted after the
networks (`POST_TRAINING`: thresholds, the stacked stage, rule decisions) is not trained again:
its run starts from that run's trained folds (weights and out-of-fold results) and only
finishes, as training would have (the networks are the same: same config, same seed).

OUT/plan.json keeps every variant and seed asked for so far (a later call may add some; a
variant may not change its definition); `summarise` rebuilds OUT/comparison.json and
OUT/comparison.md from the finished runs' cv_report.json files, after every run and on its
own (`ecgnet compare --summarise OUT`), so partial results can be read while runs go on: per
variant the mean and spread over seeds, the differences from the baseline paired by seed,
and each class's AUROC.
"""

import html
import json
import logging
import math
import os
import re
import shutil
import time
from dataclasses import dataclass

import numpy as np

from . import jsonshape, logs, modelstore
from . import labels as label_space
from .config import Config, load_config_file, parse_overrides
from .errors import ComparisonError, ConfigError, InputFileError
from .files import atomic_write, read_json
from .jsonshape import Fields, Integer, ListOf, MapOf, Shape, Text
from .report.shapes import CV_REPORT
from .thresholds import THRESHOLD_METHODS

log = logging.getLogger(__name__)

BASELINE = "baseline"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_RESERVED = (BASELINE, "cache")
_OVERRIDES_KEYS = ("label_overrides", "label-overrides")
# Config fields used only after the fold networks are trained (`training.finalize`).
POST_TRAINING = frozenset(
    {"threshold_method", "threshold_step", "threshold_shrinkage", "stacking", "stacking_penalty", "decide_rules"}
)


@dataclass(frozen=True)
class Variant:
    name: str
    changes: str  # what it changes, as given ("" for the baseline)
    config: Config  # its config; each run sets the seed
    label_overrides: str | None  # a label-overrides file, or None

    def record(self) -> dict:
        """Its entry in plan.json and comparison.json."""
        return {
            "name": self.name,
            "changes": self.changes,
            "config": self.config.to_dict(),
            "label_overrides": self.label_overrides,
        }


def _pairs(text: str) -> list[str]:
    """`a=1,b=2,3` -> ["a=1", "b=2,3"]: a part without `=` continues the value before it (lists)."""
    pairs: list[str] = []
    for part in text.split(","):
        if "=" in part or not pairs:
            pairs.append(part.strip())
        else:
            pairs[-1] += "," + part.strip()
    return pairs


def parse_variant(spec: str, base: Config, base_overrides: str | None) -> Variant:
    """A variant from `NAME:key=value,key=value,...`: config fields applied to `base`, or to
    the config file of `config=FILE`; `label_overrides=FILE` trains on those label overrides
    instead of `base_overrides`. A list value goes on after its comma (`lr_milestones=8,12`)."""
    name, colon, text = spec.partition(":")
    name = name.strip()
    if not colon or not text.strip():
        raise ComparisonError(f"variant {spec!r}: expected NAME:key=value[,key=value...]")
    if not _NAME.match(name) or name in _RESERVED:
        raise ComparisonError(
            f"variant {spec!r}: its name must be letters, digits, '_', '.' or '-' (it names a folder) and not "
            f"{' or '.join(_RESERVED)}"
        )
    config, overrides, fields = base, base_overrides, []
    for pair in _pairs(text):
        key, _, value = pair.partition("=")
        key = key.strip()
        if key == "config":
            config = load_config_file(value.strip())
        elif key == "seed":
            raise ComparisonError(f"variant {name}: the seed is set by --seeds, not by a variant")
        elif key in _OVERRIDES_KEYS:
            overrides = os.path.abspath(value.strip())  # plan.json compares it whatever the working folder
            if not os.path.isfile(overrides):
                raise ComparisonError(f"variant {name}: label overrides file {value.strip()} does not exist")
        else:
            fields.append(pair)
    try:
        config = parse_overrides(fields, config)
    except ConfigError as e:
        raise ComparisonError(f"variant {name}: {e}") from None
    return Variant(name, text.strip(), config, overrides)


def plan_variants(base: Config, base_overrides: str | None, specs: list[str]) -> list[Variant]:
    """The baseline and the variants of `specs`, names checked to be distinct."""
    if base_overrides is not None:
        if not os.path.isfile(base_overrides):
            raise ComparisonError(f"label overrides file {base_overrides} does not exist")
        base_overrides = os.path.abspath(base_overrides)
    variants = [Variant(BASELINE, "", base, base_overrides)]
    for spec in specs:
        variant = parse_variant(spec, base, base_overrides)
        if any(v.name == variant.name for v in variants):
            raise ComparisonError(f"variant {variant.name} is given twice")
        variants.append(variant)
    return variants


# ---------------------------------------------------------------------------------------------
# The plan: every variant and seed asked for in OUT


def _plan_path(out: str) -> str:
    return os.path.join(out, "plan.json")


PLAN = Fields(
    {
        "data": Text(null=False),
        "variants": ListOf(
            Fields(
                {"name": Text(null=False), "config": Fields(), "label_overrides": Text()},
                required=("name", "config", "label_overrides"),
            )
        ),
        "seeds": ListOf(Integer(null=False)),
    },
    required=("data", "variants", "seeds"),
)
# What `run_metrics` takes from a run's cv_report.json, beyond what the report reads of it.
COMPARED = Fields(
    {
        "overall": Fields(
            {
                "before_thresholds": Fields(required=("Challenge metric",)),
                "after_thresholds": Fields(required=("Challenge metric", "AUROC")),
            },
            required=("before_thresholds", "after_thresholds"),
        ),
        "sources": MapOf(Fields({"after_thresholds": Fields(required=("Challenge metric",))})),
    },
)
MAX_JSON_BYTES = 64 * 1024 * 1024


def _read_checked(path: str, what: str, *shapes: Shape) -> dict:
    """The JSON value of `path` (`files.read_json`) of every shape given; ComparisonError names
    the file and what is wrong."""
    try:
        value = read_json(path, what, MAX_JSON_BYTES)
    except InputFileError as e:
        raise ComparisonError(str(e)) from None
    found = [problem for shape in shapes for problem in jsonshape.problems(value, shape)]
    if found:
        raise ComparisonError(f"{path}: the {what} is damaged: {'; '.join(found[:3])}")
    return value


def read_plan(out: str) -> dict | None:
    path = _plan_path(out)
    if not os.path.exists(path):
        return None
    plan = _read_checked(path, "comparison plan", PLAN)
    names = [v["name"] for v in plan["variants"]]
    bad = [name for name in names if not _NAME.match(name) or name == "cache" or names.count(name) > 1]
    if bad:
        raise ComparisonError(f"{path}: the comparison plan is damaged: variant name {bad[0]!r} cannot name a folder")
    return plan


def update_plan(out: str, data: str, variants: list[Variant], seeds: list[int]) -> dict:
    """OUT/plan.json with these variants and seeds added to those of earlier calls; a variant
    already there must have the same definition (its runs were trained with it)."""
    plan = read_plan(out) or {"data": os.path.abspath(data), "variants": [], "seeds": []}
    known = {v["name"]: v for v in plan["variants"]}
    for variant in variants:
        record = variant.record()
        if variant.name not in known:
            plan["variants"].append(record)
        elif (known[variant.name]["config"], known[variant.name]["label_overrides"]) != (
            record["config"],
            record["label_overrides"],
        ):
            what = (
                "the base config (--config, --set, --label-overrides) differs from the one"
                if variant.name == BASELINE
                else f"variant {variant.name} was defined otherwise than"
            )
            raise ComparisonError(
                f"{what} {out} was started with ({_plan_path(out)}): give the variant another name, or compare "
                "into another OUT folder"
            )
    plan["seeds"] += [s for s in seeds if s not in plan["seeds"]]
    os.makedirs(out, exist_ok=True)
    atomic_write(_plan_path(out), json.dumps(plan, indent=2) + "\n")
    return plan


def run_folder(out: str, name: str, seed: int) -> str:
    return os.path.join(out, name, f"seed-{seed}")


def _check_finished(folder: str, config: Config, label_overrides: str | None) -> None:
    """Refuse a finished run trained with another config or other label overrides."""
    manifest = modelstore.read_manifest(folder)
    saved = manifest.get("config")
    recorded = (manifest.get("training") or {}).get("label_overrides") or {}
    wanted = modelstore.sha256(label_overrides) if label_overrides else None
    if saved != config.to_dict() or recorded.get("sha256") != wanted:
        raise ComparisonError(
            f"{folder} holds a finished run of other settings or label overrides than this variant's; "
            "delete it, or compare into another OUT folder"
        )


# ---------------------------------------------------------------------------------------------
# Running


def run_comparison(
    data: str,
    out: str,
    variants: list[Variant],
    seeds: list[int],
    device: str | None = None,
    workers: int | None = None,
    jobs: int = -1,
) -> dict:
    """Train every (variant, seed) not finished yet, seeds outermost (so that every variant
    has its first seed early), summarising after each run; returns the summary."""
    from .training import train  # torch: only once the arguments are checked

    if not seeds:
        raise ComparisonError("no seeds to run")
    update_plan(out, data, variants, seeds)
    runs = [(seed, variant) for seed in seeds for variant in variants]
    started = time.time()
    for number, (seed, variant) in enumerate(runs, 1):
        folder = run_folder(out, variant.name, seed)
        config = variant.config.replace(seed=seed)
        what = f"run {number}/{len(runs)}: {variant.name}, seed {seed} ({folder})"
        if os.path.exists(modelstore.ModelFolder(folder).manifest):
            _check_finished(folder, config, variant.label_overrides)
            log.info(f"{what}: finished already")
            continue
        log.info(f"{what}; {logs.duration(time.time() - started)} elapsed")
        twin = trained_twin(out, variants, variant, seed)
        if twin is not None and not os.path.exists(folder):
            log.info(f"{what}: the networks are those of {twin} (only post-training fields differ); not trained again")
            start_from_twin(twin, folder, config)
        run_started = time.time()
        train(
            data,
            folder,
            config=config,
            cache_folder=os.path.join(out, "cache", f"rate-{config.sample_rate}"),
            device=device,
            workers=workers,
            jobs=jobs,
            label_overrides=variant.label_overrides,
        )
        took, elapsed = logs.duration(time.time() - run_started), logs.duration(time.time() - started)
        log.info(f"{what}: done in {took}; {elapsed} elapsed")
        summarise(out)
    return summarise(out)


def _training_fields(config: Config) -> dict:
    return {k: v for k, v in config.to_dict().items() if k not in POST_TRAINING}


def trained_twin(out: str, variants: list[Variant], variant: Variant, seed: int) -> str | None:
    """The folder of a finished run of this seed whose networks this variant's would be (the
    same config but for `POST_TRAINING` fields, the same label overrides), or None."""
    for other in variants:
        folder = run_folder(out, other.name, seed)
        if (
            other.name != variant.name
            and other.label_overrides == variant.label_overrides
            and _training_fields(other.config) == _training_fields(variant.config)
            and os.path.exists(modelstore.ModelFolder(folder).manifest)
        ):
            return folder
    return None


def start_from_twin(twin: str, folder: str, config: Config) -> None:
    """Start the run in `folder` from the trained folds of the finished run `twin`: its fold
    weights, fold results, folds and label overrides, with this run's config; training then
    only finishes it. Written into a new folder renamed into place, so an interrupted copy
    leaves nothing half-made."""
    source, partial = modelstore.ModelFolder(twin), modelstore.ModelFolder(folder + ".partial")
    shutil.rmtree(partial.folder, ignore_errors=True)
    os.makedirs(partial.work)
    folds = len(modelstore.read_manifest(twin)["weights"])
    for k in range(folds):
        shutil.copy2(source.weights(k), partial.weights(k))
        shutil.copy2(source.fold_result(k), partial.fold_result(k))
    for name in ("folds.json", "label_overrides.json"):
        if os.path.exists(source.work_path(name)):
            shutil.copy2(source.work_path(name), partial.work_path(name))
    partial.write_run_config(config)
    os.rename(partial.folder, folder)


# ---------------------------------------------------------------------------------------------
# Summarising


def run_metrics(cv_report: dict) -> dict:
    """The numbers a comparison averages, from one run's cv_report.json (keys that older
    reports lack are left out)."""
    overall = cv_report["overall"]
    found = {
        "challenge": overall["after_thresholds"]["Challenge metric"],
        "challenge_uniform": overall["before_thresholds"]["Challenge metric"],
        "auroc": overall["after_thresholds"]["AUROC"],
    }
    sources = {
        key: entry["after_thresholds"]["Challenge metric"] for key, entry in cv_report.get("sources", {}).items()
    }
    if sources:
        found["source_mean"] = float(np.mean(list(sources.values())))
        found["source_worst"] = min(sources.values())
        found["sources"] = sources
    selection = cv_report.get("selection") or {}
    if "held_out_choice" in selection:
        found["inner_choice"] = selection["chosen"]["after_thresholds"]
        found["held_out_choice"] = selection["held_out_choice"]["after_thresholds"]
    if "class_auroc" in cv_report:
        found["class_auroc"] = cv_report["class_auroc"]
    transfer = cv_report.get("threshold_transfer")
    method = cv_report.get("threshold_method", "per_class")
    if transfer and method in transfer["methods"]:
        # The honest leave-one-source-out figure: neither the models nor the thresholds saw the source.
        found["unseen_mean"] = transfer["methods"][method]["mean"]
        found["unseen_worst"] = transfer["methods"][method]["worst"]
    if transfer:
        found["transfer"] = {
            method: {stat: entry[stat] for stat in ("pooled", "mean", "worst")}
            for method, entry in transfer["methods"].items()
        }
    return found


def spread(values: list[float | None]) -> dict:
    """Mean and sample standard deviation (n - 1; None below two values) of the values given."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    return {
        "n": len(finite),
        "mean": float(np.mean(finite)) if finite else None,
        "std": float(np.std(finite, ddof=1)) if len(finite) > 1 else None,
        "values": finite,
    }


SCALARS = (
    "challenge",
    "challenge_uniform",
    "auroc",
    "source_mean",
    "source_worst",
    "unseen_mean",
    "unseen_worst",
    "inner_choice",
    "held_out_choice",
)


def _aggregate(runs: list[dict]) -> dict:
    """Each number's spread over the runs of one variant."""
    result = {key: spread([r.get(key) for r in runs]) for key in SCALARS if any(key in r for r in runs)}
    sources = sorted({key for r in runs for key in r.get("sources", {})})
    if sources:
        result["sources"] = {key: spread([r.get("sources", {}).get(key) for r in runs]) for key in sources}
    if any("class_auroc" in r for r in runs):
        result["class_auroc"] = {
            code: spread([r.get("class_auroc", {}).get(code) for r in runs]) for code in label_space.CLASSES
        }
    methods = [m for m in THRESHOLD_METHODS if any(m in r.get("transfer", {}) for r in runs)]
    if methods:
        result["transfer"] = {
            method: {
                stat: spread([r["transfer"][method][stat] for r in runs if method in r.get("transfer", {})])
                for stat in ("pooled", "mean", "worst")
            }
            for method in methods
        }
    return result


# The numbers compared with the baseline's seed by seed.
PAIRED = ("unseen_mean", "unseen_worst", "auroc", "challenge")


def paired(runs: dict[int, dict], baseline: dict[int, dict]) -> dict:
    """Per number of PAIRED, the spread over the seeds both have of the run's value less the
    baseline's, and in how many of them it is higher."""
    result = {}
    for key in PAIRED:
        seeds = [s for s in runs if s in baseline and runs[s].get(key) is not None and baseline[s].get(key) is not None]
        differences = [runs[s][key] - baseline[s][key] for s in seeds]
        if differences:
            result[key] = {**spread(differences), "higher": sum(d > 0 for d in differences)}
    return result


def summarise(out: str) -> dict:
    """Rebuild OUT/comparison.json and OUT/comparison.md from the finished runs of OUT/plan.json."""
    plan = read_plan(out)
    if plan is None:
        raise ComparisonError(f"{out} holds no comparison ({_plan_path(out)} is missing); run ecgnet compare first")
    variants, by_seed = [], {}
    for variant in plan["variants"]:
        runs, state = {}, {}
        for seed in plan["seeds"]:
            folder = run_folder(out, variant["name"], seed)
            report = os.path.join(folder, "cv_report.json")
            if os.path.exists(os.path.join(folder, "model.json")) and os.path.exists(report):
                runs[seed] = run_metrics(_read_checked(report, "cross-validation report", CV_REPORT, COMPARED))
                state[str(seed)] = "finished"
            else:
                state[str(seed)] = "started" if os.path.isdir(folder) else "pending"
        by_seed[variant["name"]] = runs
        variants.append({**variant, "runs": state, "finished": len(runs), **_aggregate(list(runs.values()))})
    for variant in variants:
        if variant["name"] != BASELINE:
            variant["paired"] = paired(by_seed[variant["name"]], by_seed[BASELINE])
    summary = {"data": plan["data"], "seeds": plan["seeds"], "variants": variants}
    atomic_write(os.path.join(out, "comparison.json"), json.dumps(summary, indent=2) + "\n")
    atomic_write(os.path.join(out, "comparison.md"), markdown(summary))
    return summary


def _text(value: object) -> str:
    """`value` as inert Markdown text: the strings comparison.md shows come from the command line
    and from run folders people pass around, so HTML, table pipes, backticks, link brackets and
    line breaks are written escaped, never as markup."""
    text = html.escape(" ".join(str(value).split()), quote=False)
    for special in "\\|`[]*":
        text = text.replace(special, "\\" + special)
    return text


def _cell(entry: dict | None) -> str:
    if not entry or entry["mean"] is None:
        return ""
    return f"{entry['mean']:.3f}" + (f" ± {entry['std']:.3f}" if entry["std"] is not None else "")


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


def _main_table(summary: dict) -> str:
    head = ["variant", "changes", "seeds done", "challenge, fitted", "challenge, p >= uniform", "AUROC"]
    head += ["per-source mean", "worst source", "unseen thresholds: mean", "unseen thresholds: worst"]
    keys = ("challenge", "challenge_uniform", "auroc", "source_mean", "source_worst", "unseen_mean", "unseen_worst")
    rows = [
        [_text(v["name"]), _text(v["changes"]) or "(base config)", f"{v['finished']}/{len(summary['seeds'])}"]
        + [_cell(v.get(key)) for key in keys]
        for v in summary["variants"]
    ]
    return _table(head, rows)


def _selection_table(variants: list[dict]) -> str:
    rows = [[_text(v["name"]), _cell(v["inner_choice"]), _cell(v["held_out_choice"])] for v in variants]
    return _table(["variant", "chosen on inner split", "chosen on held-out fold"], rows)


def _source_table(variants: list[dict], sources: list[str]) -> str:
    rows = [[_text(v["name"])] + [_cell(v.get("sources", {}).get(key)) for key in sources] for v in variants]
    return _table(["variant", *map(_text, sources)], rows)


def _paired_table(variants: list[dict]) -> str:
    head = ["variant", "seeds"] + [f"{key}: difference (higher in)" for key in PAIRED]
    rows = []
    for v in variants:
        entries = [v["paired"].get(key) for key in PAIRED]
        seeds = max((e["n"] for e in entries if e), default=0)
        rows.append(
            [_text(v["name"]), str(seeds)]
            + [f"{_signed(e)} ({e['higher']}/{e['n']})" if e and e["mean"] is not None else "" for e in entries]
        )
    return _table(head, rows)


def _signed(entry: dict) -> str:
    return f"{entry['mean']:+.3f}" + (f" ± {entry['std']:.3f}" if entry["std"] is not None else "")


def _class_table(variants: list[dict]) -> str:
    rows = [
        [f"{abbreviation} ({code})"] + [_cell(v["class_auroc"][code]) for v in variants]
        for code, abbreviation in zip(label_space.CLASSES, label_space.ABBREVIATIONS)
    ]
    return _table(["class", *(_text(v["name"]) for v in variants)], rows)


def _transfer_table(variants: list[dict]) -> str:
    rows = [
        [_text(v["name"]), _text(method)] + [_cell(entry[stat]) for stat in ("pooled", "mean", "worst")]
        for v in variants
        for method, entry in v["transfer"].items()
    ]
    return _table(["variant", "threshold method", "pooled", "mean over sources", "worst source"], rows)


def markdown(summary: dict) -> str:
    """comparison.md: the tables of `summarise`."""
    variants = summary["variants"]
    parts = [
        f"# ecgnet compare: {len(variants)} variants x {len(summary['seeds'])} seeds\n",
        f"Data: {_text(summary['data'])}; seeds {', '.join(map(str, summary['seeds']))}. Each cell is the mean ± the "
        "sample standard deviation over the finished seeds of the out-of-fold challenge metric (fitted: with the "
        "run's fitted thresholds; p >= uniform: with the uniform threshold) or AUROC. Per-source mean and worst: "
        "each source's metric with the run's thresholds, fitted on all out-of-fold predictions; unseen thresholds: "
        "with thresholds fitted by the run's method on the other sources only (`threshold_transfer`), the honest "
        "figure under split=source, where neither the models nor the thresholds saw the source.\n",
        _main_table(summary),
    ]
    inner = [v for v in variants if "held_out_choice" in v]
    if inner:
        parts += [
            "\n## Epoch choice (selection=inner)\n",
            "Out-of-fold challenge metric (fitted thresholds) with the epochs chosen on the inner splits, and had "
            "they been chosen on the held-out folds (the paper's choice, optimistic).\n",
            _selection_table(inner),
        ]
    sources = sorted({key for v in variants for key in v.get("sources", {})})
    if sources:
        parts += [
            "\n## Per source\n",
            "Challenge metric of each source's out-of-fold predictions, fitted thresholds.\n",
            _source_table(variants, sources),
        ]
    compared = [v for v in variants if v.get("paired")]
    if compared:
        parts += [
            "\n## Paired with the baseline\n",
            "Each variant's value less the baseline's of the same seed (the same folds and initial weights): mean ± "
            "standard deviation over the seeds both finished, and in how many the variant's is higher. unseen_mean "
            "and unseen_worst: unseen thresholds' mean and worst source; auroc: macro AUROC; challenge: fitted "
            "thresholds.\n",
            _paired_table(compared),
        ]
    with_classes = [v for v in variants if "class_auroc" in v]
    if with_classes:
        parts += [
            "\n## AUROC per class\n",
            "Out-of-fold AUROC of each class over all records (blank where a class has no positives).\n",
            _class_table(with_classes),
        ]
    transfer = [v for v in variants if "transfer" in v]
    if transfer:
        parts += [
            "\n## Threshold transfer (leave-one-source-out)\n",
            "Each source scored with thresholds fitted, by each method, on the other sources' out-of-fold "
            "predictions: the mean and the worst over sources, and all records pooled.\n",
            _transfer_table(transfer),
        ]
    return "\n".join(parts)

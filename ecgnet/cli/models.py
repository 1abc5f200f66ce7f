"""The commands that train, run and score the fold ensemble: `ecgnet train`, `drive`,
`quantize`, `evaluate` and `compare`. The challenge scripts `train_model.py`, `driver.py` and
`evaluate_model.py` call `train`, `drive` and `evaluate` (re-exported by `ecgnet.cli`).
"""

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import dataoptions, options
from .parsing import command, command_parser

if TYPE_CHECKING:  # imported when used: options are parsed before numpy and torch load
    from ..config import Config
    from ..reading import Shard

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# train

TRAIN_DOC = """Train the SE-ResNet fold ensemble and its thresholds.

DATA holds the training records (NAME.hea + NAME.mat, or native WFDB NAME.hea + NAME.dat, in
subfolders too); everything the driver needs is written into MODEL. Defaults are the published
method's (5 folds, 70 epochs) but for seven settings chosen by leave-one-source-out validation;
`--paper` gives the published ones; `--set` changes any field of ecgnet.config.Config, e.g.
`--set epochs=15 --set lr_milestones=8,12`. Run the same command again after an interruption
to resume. Under `torchrun --nproc_per_node=K` the K processes train together (or, with
--parallel-folds, each trains its own folds). PTB-XL: `--labels ptbxl --set split=ptbxl` trains
on its folds 1-8 and validates on fold 9.
Exit status: 0 done, 1 an error (named in one line)."""


WORKERS = options.integer(-1, 1024)  # -1: the config's choice
JOBS = options.integer(-1024, 1024)  # -1: one per core, -2: all but one, ...


def fold_numbers(text: str) -> list[int]:
    """`--folds 1,3` -> [0, 2]."""
    try:
        folds = [int(k) - 1 for k in text.split(",") if k.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected fold numbers such as 1,3, not {text!r}") from None
    if not folds or min(folds) < 0:
        raise argparse.ArgumentTypeError(f"expected fold numbers from 1, not {text!r}")
    return folds


PAPER_HELP = (
    "start from the published method's settings (epoch chosen on the validation fold, per-class thresholds, "
    "no z-score, label smoothing or lead masking) instead of the defaults; --config and --set apply on top"
)


def _requested_config(args: argparse.Namespace) -> "Config | None":
    """The config that --paper, --config and --set ask for, each applied over the one before;
    None when none is given (training then resumes with the saved settings or starts with the
    defaults)."""
    from ..config import Config, load_config_file, parse_overrides

    if not (args.paper or args.config or args.set):
        return None
    base = Config.paper() if args.paper else Config()
    if args.config:
        base = load_config_file(args.config, base)
    return parse_overrides(args.set, base)


@command()
def train(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet train` / `train_model.py`: 0 when the model is complete (its report written after
    training returns, unless --no-report), 1 on an error."""
    parser = command_parser(prog, TRAIN_DOC)
    parser.add_argument("data", help="folder of training records")
    parser.add_argument("model", help="folder to write the model into")
    parser.add_argument(
        "--config", metavar="FILE", help="JSON file of config fields; the others keep their defaults (or --paper's)"
    )
    parser.add_argument("--paper", action="store_true", help=PAPER_HELP)
    parser.add_argument(
        "--set", metavar="NAME=VALUE", action="append", default=[], help="override one config field; repeat for several"
    )
    parser.add_argument(
        "--folds", metavar="N,M", type=fold_numbers, help="train only these folds (1-based) in this call (default: all)"
    )
    parser.add_argument("--parallel-folds", action="store_true", help="under torchrun: each process trains whole folds")
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="keep the decoded-signal cache here, kept after training (default: inside MODEL, deleted)",
    )
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    parser.add_argument(
        "--workers", type=WORKERS, help="data loader processes (default: config.workers: 4 on CUDA, 0 on CPU)"
    )
    parser.add_argument("--jobs", type=JOBS, default=-1, help="processes for decoding records (default: -1, all cores)")
    parser.add_argument(
        "--label-overrides",
        metavar="OVERRIDES.csv",
        help="corrected labels (record,class,label: 1, 0, mask, weight:W, or * drop; see `ecgnet relabel`) applied "
        "to the headers' labels without editing them (default: none)",
    )
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="do not write the cross-validation report MODEL/report/report.html (written by default when "
        "matplotlib is installed)",
    )
    dataoptions.add_labels(parser)
    dataoptions.add_recursive(parser)
    args = parser.parse_args(argv)
    dataoptions.check(parser, args)
    from ..training import train as train_folder

    report = train_folder(
        args.data,
        args.model,
        config=_requested_config(args),
        parallel_folds=args.parallel_folds,
        folds=args.folds,
        cache_folder=args.cache,
        device=args.device,
        workers=args.workers,
        jobs=args.jobs,
        label_overrides=args.label_overrides,
        labels=dataoptions.label_source(args, args.data),
        recursive=args.recursive,
    )
    if report is not None:  # this call completed the model (on the main process)
        _write_training_report(args.model, args.data, args.label_overrides, args.no_report)
    return 0


def _write_training_report(model: str, data: str, label_overrides: str | None, skip: bool) -> None:
    """MODEL/report/report.html of a model just completed (`report.write_training_report`), or
    the line saying it was skipped, in the log and MODEL/train.log."""
    from .. import logs
    from ..modelstore import ModelFolder
    from ..report import write_training_report

    if skip:
        with logs.to_file(ModelFolder(model).log):
            log.info("report skipped (--no-report)")
        return
    write_training_report(model, data, label_overrides)


# ---------------------------------------------------------------------------------------------
# drive

DRIVE_DOC = """Classify every record of a folder with a trained model.

Loads MODEL once and writes OUTPUTS/NAME.csv for every record in DATA, that is every
NAME.hea (and every NAME.mat without one; hidden files ignored), the Challenge's NAME.mat or
native WFDB NAME.dat records, in subfolders too with --recursive or when DATA holds no records
of its own: the record name, the 24 classes, their binary labels and probabilities. A record
that fails is reported by name and still gets an (all-negative) output file where its name
allows; the exit status is then 1. A model that cannot be loaded, or a DATA or OUTPUTS folder
that cannot be used, stops the run with status 2. For a collection spread over machines,
--shard K/N classifies part K of N (split by record name, the same on every machine) and
--skip-existing passes over records whose output file exists (resuming a run). The networks
compute in the precision MODEL/model.json names: int8 on a CPU after `ecgnet quantize`, float32
otherwise; --precision overrides it."""


def shard_part(text: str) -> "Shard":
    """`--shard 2/8` -> reading.Shard(2, 8)."""
    from ..reading import Shard

    index, _, count = text.partition("/")
    try:
        return Shard(int(index), int(count))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, such as 2/8, not {text!r}") from None


@command(error_status=2)
def drive(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet drive` / `driver.py`: 0 all records classified, 1 some failed, 2 nothing could run."""
    parser = command_parser(prog, DRIVE_DOC)
    parser.add_argument("model", help="folder written by train_model.py / ecgnet train")
    parser.add_argument("data", help="folder of records to classify")
    parser.add_argument("outputs", help="folder to write NAME.csv output files into")
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    parser.add_argument(
        "--precision",
        choices=("fp32", "int8"),
        help="float32 or int8 networks (int8: CPU only, after `ecgnet quantize`; default: the one model.json "
        "names, int8 where the model has int8 weights and runs on a CPU, else fp32)",
    )
    dataoptions.add_recursive(parser)
    parser.add_argument(
        "--shard", type=shard_part, metavar="K/N", help="classify only part K of N of the records (K from 1)"
    )
    parser.add_argument(
        "--skip-existing", action="store_true", help="pass over records whose OUTPUTS/NAME.csv exists (resume a run)"
    )
    parser.add_argument(
        "--labels",
        choices=("header", "ptbxl"),
        default="header",
        help="where age and sex come from: the headers, or PTB-XL's ptbxl_database.csv in DATA or a folder above it",
    )
    dataoptions.add_strat_folds(parser)
    args = parser.parse_args(argv)
    dataoptions.check(parser, args)
    from ..modelstore import read_config
    from ..reading import HeadStart, Selection

    labels = dataoptions.label_source(args, args.data)
    selection = Selection(
        args.data, args.outputs, args.recursive, args.shard, args.skip_existing, labels, args.strat_folds
    )
    # Before torch's import and the model's load (about 1.5 s on one core): the first records
    # are read and measured beside them.
    head_start = HeadStart.start(read_config(args.model), selection)
    from ..inference import Ensemble, bound_kernel_cache, freeze_loaded_objects
    from ..runner import classify_selection

    bound_kernel_cache()
    try:
        ensemble = Ensemble.from_folder(args.model, args.device, args.precision)
        freeze_loaded_objects()
        report = classify_selection(ensemble, selection, head_start=head_start)
    finally:
        if head_start is not None:
            head_start.close()
    for name, reason in report.failures:
        print(f"failed: {name if name.isprintable() else ascii(name)}: {reason}", file=sys.stderr)
    return 1 if report.failures else 0


# ---------------------------------------------------------------------------------------------
# quantize

QUANTIZE_DOC = """Add int8 weights to a trained model, calibrated on its training records.

Each fold model's convolutions get int8 weights and activation scales, calibrated on records
of DATA (the folder MODEL was trained on) from the model's own training folds. A fidelity gate
then runs every out-of-fold record (MODEL/oof_probabilities.csv) through its own fold model in
float32 and int8: the int8 weights are written into MODEL, with the numbers in model.json, only
if the float32 outputs equal the saved out-of-fold probabilities (DATA is the training data),
the label cells stay identical and the challenge metric stays put within the limits below;
otherwise nothing is written. The driver then uses int8 on CPUs by default (the float32
weights stay; `ecgnet drive --precision fp32` uses them).
Exit status: 0 written, 1 refused by the gate or an error (named in one line)."""


@command()
def quantize(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet quantize`: 0 when the int8 weights are written, 1 when refused or on an error."""
    parser = command_parser(prog, QUANTIZE_DOC)
    parser.add_argument("model", help="folder written by train_model.py / ecgnet train")
    parser.add_argument("data", help="the folder of training records MODEL was trained on")
    parser.add_argument(
        "--calibration-records", type=options.integer(1), default=32, help="records each fold model is calibrated on"
    )
    parser.add_argument(
        "--min-identical",
        type=options.fraction,
        default=0.995,
        help="least fraction of identical (record, class) label cells, from 0 to 1",
    )
    parser.add_argument(
        "--max-metric-change",
        type=options.number(0, 2),
        default=0.005,
        help="largest change of the out-of-fold challenge metric, from 0 to 2",
    )
    parser.add_argument(
        "--max-oof-difference",
        type=options.fraction,
        default=1e-3,
        help="largest difference of the float32 outputs on DATA from MODEL/oof_probabilities.csv (more: DATA is "
        "not the training data), from 0 to 1",
    )
    parser.add_argument(
        "--gate-records",
        type=options.integer(1),
        help="measure the gate on this many out-of-fold records (default: all)",
    )
    parser.add_argument(
        "--keep-fp32-default",
        action="store_true",
        help="write the int8 weights but leave float32 the driver's default precision",
    )
    args = parser.parse_args(argv)
    from ..quantize import Gate, quantize_folder

    quantize_folder(
        args.model,
        args.data,
        calibration_records=args.calibration_records,
        gate=Gate(args.min_identical, args.max_metric_change, args.max_oof_difference),
        gate_records=args.gate_records,
        default=not args.keep_fp32_default,
    )
    return 0


# ---------------------------------------------------------------------------------------------
# evaluate

EVALUATE_DOC = """Score challenge outputs exactly as the official 2020 scorer (evaluate_12ECG_score.py).

LABELS holds NAME.hea files (their #Dx lines are the truth; with --labels ptbxl, PTB-XL's records,
their labels from its ptbxl_database.csv, --strat-folds 10 for its test fold), OUTPUTS the
NAME.csv files a driver wrote. Without SCORES_CSV the scores are printed. --json writes every metric at full
precision, the per-class table and the same metrics per source (record-name prefix).
Exit status: 0 scored, 1 an error (named in one line)."""


@command()
def evaluate(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet evaluate` / `evaluate_model.py`: 0 when scored, 1 on an error."""
    parser = command_parser(prog, EVALUATE_DOC)
    parser.add_argument("label_folder", metavar="labels", help="folder of NAME.hea label files (or PTB-XL's records)")
    parser.add_argument("outputs", help="folder of NAME.csv output files")
    parser.add_argument("scores_csv", nargs="?", help="write the overall scores here (default: print them)")
    parser.add_argument("class_scores_csv", nargs="?", help="write the per-class scores here (default: not written)")
    parser.add_argument(
        "--json", metavar="FILE", help="write every metric, per class and per source, as JSON (default: not written)"
    )
    dataoptions.add_labels(parser)
    dataoptions.add_strat_folds(parser)
    dataoptions.add_recursive(parser)
    args = parser.parse_args(argv)
    dataoptions.check(parser, args)
    _score(args, args.scores_csv, args.class_scores_csv, args.json)
    return 0


def _score(args: argparse.Namespace, scores_csv: str | None, class_scores_csv: str | None, json: str | None) -> None:
    from .. import scoring
    from ..files import atomic_write

    source = dataoptions.label_source(args, args.label_folder)
    evaluation = scoring.evaluate_folders(args.label_folder, args.outputs, source, args.strat_folds, args.recursive)
    for path in evaluation.outputs.malformed:
        print(
            f"- The output file {path} has formatting errors, so all outputs are assumed to be "
            "negative for this recording.",
            file=sys.stderr,
        )
    text = scoring.scores_csv(evaluation.overall)
    if scores_csv:
        atomic_write(scores_csv, text)
    else:
        print(text)
    if class_scores_csv:
        atomic_write(class_scores_csv, scoring.class_scores_csv(evaluation.overall))
    if json:
        scoring.write_json(evaluation, json)


# ---------------------------------------------------------------------------------------------
# compare

COMPARE_DOC = """Train variants of a config over several seeds; report each variant's mean and spread.

One seed on a few hundred records moves the challenge metric by several hundredths: compare
settings by their mean and spread over seeds. The variant `baseline` (the base config:
--config and --set, with --label-overrides) is always included. Every (variant, seed) trains
into OUT/NAME/seed-S, all runs sharing one signal cache (OUT/cache); run the same command again
to resume (finished runs are skipped, unfinished ones go on). OUT/comparison.json and
OUT/comparison.md are rewritten after every run: per variant, the out-of-fold challenge metric
with fitted and uniform thresholds, AUROC, the per-source mean and worst, both epoch choices
(selection=inner) and the threshold-transfer table per method.

A variant is NAME:key=value,key=value,... with config fields (a list value goes on after its
comma: lr_milestones=8,12), config=FILE (start from this config file instead of the base) and
label_overrides=FILE (train on these label overrides). For example:

  ecgnet compare DATA OUT --config configs/demo.json --seeds 1,2,3 \\
      --variant global:threshold_method=global \\
      --variant loso:split=source,selection=inner
  ecgnet compare --summarise OUT       # the tables of the runs finished so far

Exit status: 0 done, 1 an error (named in one line)."""


def seed_list(text: str) -> list[int]:
    """`--seeds 1,2,3` -> [1, 2, 3]."""
    try:
        seeds = [options.seed(k) for k in text.split(",") if k.strip()]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected seeds from 0 to {options.MAX_SEED} such as 1,2,3, not {text!r}"
        ) from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds such as 1,2,3, not {text!r}")
    return seeds


@command()
def compare(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet compare`: 0 when every run is finished (or the tables rebuilt), 1 on an error."""
    parser = command_parser(prog, COMPARE_DOC)
    parser.add_argument("data", nargs="?", help="folder of training records (not with --summarise)")
    parser.add_argument("out", help="folder of the runs and the comparison tables")
    parser.add_argument("--config", metavar="FILE", help="base config file; the others keep their defaults")
    parser.add_argument("--paper", action="store_true", help=PAPER_HELP)
    parser.add_argument(
        "--set", metavar="NAME=VALUE", action="append", default=[], help="override one base config field; repeat"
    )
    parser.add_argument("--seeds", type=seed_list, default="1,2,3", metavar="S,S,...", help="seeds of every variant")
    parser.add_argument(
        "--variant",
        metavar="NAME:KEY=VALUE,...",
        action="append",
        default=[],
        help="a variant of the base config; repeat for several (see above)",
    )
    parser.add_argument(
        "--label-overrides", metavar="OVERRIDES.csv", help="label overrides of the base config (default: none)"
    )
    parser.add_argument("--summarise", action="store_true", help="only rebuild the tables from the finished runs")
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--workers", type=WORKERS, help="data loader processes (default: config.workers)")
    parser.add_argument("--jobs", type=JOBS, default=-1, help="processes for decoding records (default: -1, all cores)")
    args = parser.parse_args(argv)
    if args.summarise != (args.data is None):
        parser.error("give DATA OUT to run a comparison, or --summarise OUT alone to rebuild its tables")
    from .. import experiments
    from ..config import Config

    if args.summarise:
        summary = experiments.summarise(args.out)
    else:
        base = _requested_config(args) or Config()
        variants = experiments.plan_variants(base, args.label_overrides, args.variant)
        summary = experiments.run_comparison(
            args.data, args.out, variants, args.seeds, args.device, args.workers, args.jobs
        )
    finished = sum(v["finished"] for v in summary["variants"])
    print(f"{finished} of {len(summary['variants']) * len(summary['seeds'])} runs finished; tables in {args.out}")
    return 0

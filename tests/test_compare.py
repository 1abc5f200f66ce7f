"""`ecgnet compare` (`ecgnet.experiments`): variants x seeds, resumable, the mean and spread tables.

The runs are a tiny network on 16 synthetic records of two sources, one epoch each."""

import json
import os

import numpy as np
import pytest

from ecgnet import cli, experiments, modelstore
from ecgnet.config import Config
from ecgnet.errors import ComparisonError
from ecgnet.synthetic import make_dataset

from helpers import TINY

BASE = TINY.replace(epochs=1)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """(data folder, base config file, label-overrides file dropping one record)."""
    root = tmp_path_factory.mktemp("compare")
    data = root / "data"
    for number, prefix in enumerate(("A", "E")):
        make_dataset(str(data), 8, seed=number, prefix=prefix)
    config = root / "base.json"
    config.write_text(json.dumps(BASE.to_dict()))
    overrides = root / "drop.csv"
    overrides.write_text("record,class,label\nA00001,*,drop\n")
    return str(data), str(config), str(overrides)


@pytest.fixture(scope="module")
def compared(folders, tmp_path_factory):
    """(OUT, the command's arguments) of a finished comparison: baseline and one variant, 2 seeds."""
    data, config, overrides = folders
    out = str(tmp_path_factory.mktemp("out"))
    argv = [data, out, "--config", config, "--seeds", "1,2", "--jobs", "1"]
    argv += ["--variant", f"cleaned:threshold_method=global,lr_milestones=1,2,label_overrides={overrides}"]
    assert cli.compare(argv) == 0
    return out, argv


def test_every_variant_and_seed_is_trained_and_summarised(compared):
    out, _ = compared
    summary = json.load(open(f"{out}/comparison.json"))
    assert summary["seeds"] == [1, 2]
    assert [v["name"] for v in summary["variants"]] == ["baseline", "cleaned"]
    for variant in summary["variants"]:
        assert variant["finished"] == 2 and variant["runs"] == {"1": "finished", "2": "finished"}
        reports = [json.load(open(f"{out}/{variant['name']}/seed-{s}/cv_report.json")) for s in (1, 2)]
        values = [r["overall"]["after_thresholds"]["Challenge metric"] for r in reports]
        assert variant["challenge"]["values"] == values
        assert variant["challenge"]["mean"] == pytest.approx(np.mean(values))
        assert variant["challenge"]["std"] == pytest.approx(np.std(values, ddof=1))
        worst = [min(s["after_thresholds"]["Challenge metric"] for s in r["sources"].values()) for r in reports]
        assert variant["source_worst"]["mean"] == pytest.approx(np.mean(worst))
        assert set(variant["sources"]) == {"A", "E"} and set(variant["transfer"]) >= {"per_class", "global"}
        for seed in (1, 2):
            manifest = modelstore.read_manifest(f"{out}/{variant['name']}/seed-{seed}")
            assert manifest["config"]["seed"] == seed
            assert not os.path.exists(f"{out}/{variant['name']}/seed-{seed}/report")  # no HTML report
    cleaned = modelstore.read_manifest(f"{out}/cleaned/seed-1")
    assert cleaned["config"]["threshold_method"] == "global" and cleaned["config"]["lr_milestones"] == [1, 2]
    assert cleaned["training"]["records"] == 15 and len(set(cleaned["thresholds"])) == 1  # one dropped
    assert os.listdir(f"{out}/cache") == [f"rate-{BASE.sample_rate}"]  # one cache for all
    table = open(f"{out}/comparison.md").read()
    assert "| baseline | (base config) | 2/2 |" in table and "| cleaned | threshold_method=global" in table
    assert "± " in table and "## Threshold transfer" in table and "## Per source" in table


def test_running_again_skips_finished_runs_and_summarise_rebuilds_the_tables(compared, capsys):
    out, argv = compared
    before = open(f"{out}/comparison.json").read()
    assert cli.compare(argv) == 0
    err = capsys.readouterr().err
    assert err.count("finished already") == 4 and "epoch 1/1" not in err
    assert "run 4/4: cleaned, seed 2" in err
    assert cli.compare(["--summarise", out]) == 0
    assert "4 of 4 runs finished" in capsys.readouterr().out
    assert open(f"{out}/comparison.json").read() == before


def test_a_variant_may_not_change_its_definition(compared, capsys):
    out, argv = compared
    changed = argv[:-1] + ["cleaned:threshold_method=shrunk"]
    assert cli.compare(changed) == 1
    assert "variant cleaned was defined otherwise" in capsys.readouterr().err
    assert cli.compare(argv + ["--set", "lr=0.01"]) == 1
    assert "the base config (--config, --set, --label-overrides) differs" in capsys.readouterr().err


MARKUP = "<script>alert(1)</script> | `x` [link](http://x)\n# heading"


def test_markup_in_any_string_of_the_comparison_is_written_inert(compared):
    """The strings comparison.md shows (the data path, a variant's changes, source and threshold
    method names from run folders) never become HTML, table cells, links or headings."""
    out, _ = compared
    summary = json.load(open(f"{out}/comparison.json"))
    summary["data"] = MARKUP
    for variant in summary["variants"]:
        variant["changes"] = MARKUP
        variant["sources"][MARKUP] = variant["sources"].pop("A")
        variant["transfer"][MARKUP] = variant["transfer"].pop("global")
    text = experiments.markdown(summary)
    assert "<script" not in text and "](" not in text.replace("\\](", "")
    assert "&lt;script&gt;" in text and "\\|" in text
    assert not any(line.startswith("# heading") for line in text.splitlines())
    expected, tables = None, 0
    for line in text.splitlines():  # every row of a table has its header's number of cells
        cells = len(line.replace("\\|", "").split("|")) if line.startswith("|") else None
        if cells is not None and expected is None:
            expected, tables = cells, tables + 1
        assert cells == expected or cells is None, line
        expected = cells
    assert tables >= 4


def test_summarise_of_a_folder_without_a_comparison(tmp_path, capsys):
    assert cli.compare(["--summarise", str(tmp_path)]) == 1
    assert "holds no comparison" in capsys.readouterr().err


def test_variant_specifications(folders, tmp_path):
    _, config_file, overrides = folders
    base = Config()
    variant = experiments.parse_variant("v1:lr_milestones=8,12,epochs=15,bandpass=1,40", base, None)
    assert variant.config.lr_milestones == (8, 12) and variant.config.epochs == 15
    assert variant.config.bandpass == (1, 40) and variant.label_overrides is None
    variant = experiments.parse_variant(f"v2:epochs=3,config={config_file}", base, overrides)
    assert variant.config == BASE.replace(epochs=3) and variant.label_overrides == overrides  # the base's
    variant = experiments.parse_variant(f"v3:label-overrides={overrides}", base, None)
    assert variant.config == base and variant.label_overrides == overrides
    for spec, message in (
        ("v4", "expected NAME:key=value"),
        ("bad/name:epochs=3", "its name must be"),
        ("baseline:epochs=3", "its name must be"),
        ("v5:seed=3", "the seed is set by --seeds"),
        ("v6:epoch=3", "variant v6: cannot apply 'epoch=3'"),
        (f"v7:label_overrides={tmp_path / 'missing.csv'}", "does not exist"),
    ):
        with pytest.raises(ComparisonError, match=message):
            experiments.parse_variant(spec, base, None)
    with pytest.raises(ComparisonError, match="given twice"):
        experiments.plan_variants(base, None, ["a:epochs=2", "a:epochs=3"])


def test_spread_of_one_value_has_no_deviation():
    assert experiments.spread([0.4]) == {"n": 1, "mean": 0.4, "std": None, "values": [0.4]}
    assert experiments.spread([None, 0.2, 0.4])["std"] == pytest.approx(np.std([0.2, 0.4], ddof=1))

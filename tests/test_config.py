import pytest

from ecgnet.config import PAPER_SETTINGS, Config, parse_overrides


def test_paper_settings_are_the_published_method():
    c = Config.paper()
    assert (c.selection, c.threshold_method, c.standardise, c.label_smoothing, c.lead_mask) == (
        "validation",
        "per_class",
        False,
        0.0,
        0.0,
    )
    # Everything else is shared with the defaults.
    assert Config.paper().replace(**{k: getattr(Config(), k) for k in PAPER_SETTINGS}) == Config()


def test_a_saved_config_lacking_newer_fields_is_read_with_the_published_values():
    saved = {k: v for k, v in Config().replace(epochs=3).to_dict().items() if k not in PAPER_SETTINGS}
    assert Config.from_saved(saved) == Config.paper().replace(epochs=3)
    assert Config.from_saved(Config().to_dict()) == Config()
    assert Config.from_dict(saved) == Config().replace(epochs=3)  # config files start from the defaults


def test_config_file_and_set_apply_over_paper(tmp_path):
    from argparse import Namespace

    from ecgnet.cli.models import _requested_config

    path = tmp_path / "c.json"
    path.write_text('{"epochs": 7}')
    config = _requested_config(Namespace(paper=True, config=str(path), set=["lr=0.01"]))
    assert config == Config.paper().replace(epochs=7, lr=0.01)
    assert _requested_config(Namespace(paper=False, config=str(path), set=[])) == Config().replace(epochs=7)
    assert _requested_config(Namespace(paper=False, config=None, set=[])) is None


def test_defaults_are_the_published_network_and_schedule():
    c = Config()
    assert (c.sample_rate, c.window, c.overlap, c.width, c.blocks) == (257, 4096, 256, 64, (2, 2, 2, 2))
    assert (c.folds, c.epochs, c.batch_size, c.lr, c.weight_decay, c.lr_milestones) == (
        5,
        70,
        64,
        3e-3,
        1e-5,
        (20, 40, 60),
    )


def test_round_trip_and_overrides():
    c = parse_overrides(["epochs=15", "lr_milestones=8,12", "lead_gate=true", "lr=0.001"])
    assert (c.epochs, c.lr_milestones, c.lead_gate, c.lr) == (15, (8, 12), True, 0.001)
    assert Config.from_dict(c.to_dict()) == c


@pytest.mark.parametrize("pair", ["epochs", "nonsense=1", "lead_gate=maybe", "epochs=many"])
def test_bad_overrides_are_refused(pair):
    with pytest.raises(ValueError, match="cannot apply"):
        parse_overrides([pair])


def test_invalid_values_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        Config(overlap=5000)
    with pytest.raises(ValueError, match="unknown config fields"):
        Config.from_dict({"epoch": 3})


def test_bandpass_takes_fractional_cut_offs_and_is_checked():
    c = parse_overrides(["bandpass=0.5,40"])
    assert c.bandpass == (0.5, 40.0) and Config.from_dict(c.to_dict()) == c
    assert parse_overrides(["bandpass="]).bandpass == ()
    for bad in ["bandpass=40,0.5", "bandpass=1,200", "bandpass=1"]:
        with pytest.raises(ValueError, match="bandpass must be empty or"):
            parse_overrides([bad])
    with pytest.raises(ValueError, match="bandpass must be a list of numbers"):
        Config.from_dict({"bandpass": [1, "x"]})
    with pytest.raises(ValueError, match="lr_milestones must be a list of integers"):
        Config.from_dict({"lr_milestones": [1.5]})


# The fields that set the size of a run; tiny.json may change these and nothing else.
SIZE_FIELDS = {"width", "blocks", "se_reduction", "folds", "epochs", "lr_milestones", "batch_size", "window", "overlap"}


def test_the_tiny_config_is_the_defaults_at_a_small_size_and_both_smoke_scripts_train_with_it():
    from helpers import ROOT, TINY

    changed = {name for name, value in TINY.to_dict().items() if value != Config().to_dict()[name]}
    assert changed and changed <= SIZE_FIELDS, changed - SIZE_FIELDS
    assert TINY.width < Config().width and TINY.epochs < Config().epochs
    for script in ("package_smoke.sh", "docker_smoke.sh"):
        text = (ROOT / "scripts" / script).read_text()
        assert "tiny.json" in text and "--set width" not in text, script

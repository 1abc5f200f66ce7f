"""The network really learns: a small synthetic task it must solve far above chance."""

import numpy as np

from ecgnet import labels, metrics, synthetic
from ecgnet.config import Config
from ecgnet.folders import find_records
from ecgnet.headers import load_header
from ecgnet.inference import Ensemble
from ecgnet.records import read_record
from ecgnet.training import train


def test_learns_rhythms_and_conduction_findings(tmp_path):
    synthetic.make_dataset(tmp_path / "train", 200, seed=11)
    synthetic.make_dataset(tmp_path / "test", 80, seed=12, start=1000)
    config = Config(
        width=16, blocks=(1, 1, 1), folds=2, epochs=20, lr_milestones=(15,), batch_size=16, window=2048, overlap=256
    )
    report = train(str(tmp_path / "train"), str(tmp_path / "model"), config=config, jobs=1)
    assert report["overall"]["after_thresholds"]["Challenge metric"] > 0.4  # out of fold

    ensemble = Ensemble.from_folder(tmp_path / "model", "cpu")
    headers = find_records(tmp_path / "test")
    predicted, probabilities = ensemble.classify([read_record(h, config.sample_rate) for h in headers])
    truth = np.array([labels.encode(load_header(h).dx) for h in headers]).astype(bool)
    result = metrics.evaluate(truth, predicted, probabilities)
    # Heart rate and bundle branch block shapes are learned for sure in this budget; the
    # subtler AV block, AF and PVC findings only partly, so they only count in the averages.
    for code in (
        synthetic.SINUS_RHYTHM,
        synthetic.SINUS_BRADYCARDIA,
        synthetic.SINUS_TACHYCARDIA,
        labels.canonical_code(synthetic.RBBB),
        synthetic.LBBB,
    ):
        assert result["classes"]["AUROC"][labels.CLASS_INDEX[code]] > 0.9, code
    # A constant guess scores 0.5 AUROC and a challenge metric of 0 or less.
    assert result["AUROC"] > 0.8 and result["Challenge metric"] > 0.35

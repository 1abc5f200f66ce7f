"""ecgnet: an adaptive lead-weighted SE-ResNet for the PhysioNet/CinC Challenge 2020.

One module per concern: `records` (reading), `labels` (class space), `preprocess` (signals to
network input), `model` (the network), `config` (hyper-parameters), `folds`, `cache`,
`training`, `thresholds`, `modelstore` (the MODEL folder), `inference` (ensemble and driver),
`outputs` (output files), `metrics` and `scoring` (the official metric).
"""
__version__ = "1.0.0"

"""ecgnet: an adaptive lead-weighted SE-ResNet for the PhysioNet/CinC Challenge 2020.

Data flows one way through one module per concern: `records` (reading) -> `preprocess`
(signals to network input; `reading` takes one record through both, every failure that
record's) -> `model` (the network) -> `inference` (fold ensemble) ->
`thresholds` -> `outputs` (output files) -> `scoring` and `metrics` (the official metric).
Training adds `config`, `cache`, `folds`, `training`, `distributed` and `modelstore` (the
MODEL folder); `labels` holds the class space, `runner` the driver's loop over a folder,
`errors` the project's errors, and `synthetic` makes records for the demo and the tests.
"""
__version__ = "1.0.0"

"""ecgnet: an adaptive lead-weighted SE-ResNet for the PhysioNet/CinC Challenge 2020.

Data flows one way, one module per job. Records: `folders` (which files of a folder make which
records) -> `headers` (WFDB headers) and the signal files they name, `matfiles` (the
Challenge's `.mat`) or `datfiles` (native WFDB, formats in `wfdbformats`), within `limits` ->
`preprocess` (lead order, `resampling`, demographics, windows and views); `records`
takes one record through all of them (`read_record -> Record`, every failure that record's).
Then `model` (the network; `int8` its int8 form, made by `quantize`) -> `inference` (the fold
ensemble) -> `thresholds` -> `outputs` (output files) -> `scoring` and `metrics` (the official
metric); `runner` is the driver's loop over a folder. Training: `training` (the run) over
`dataset` (signal `cache`, labels, `folds`, batches) and `loop` (one fold's epochs and its
checkpointed state), with `config`, `overrides` (label overrides files), `distributed`
(torchrun) and `modelstore` (the MODEL folder); `ptbxl` (PTB-XL's labels and folds). Shared:
`labels` (the class space), `dataoptions` (the options of every command that reads DATA), `errors`,
`files` (atomic writes, guarded reads), `logs` (the log format); `synthetic` makes records for
the demo and the tests; `convert` writes any record in the Challenge's format; `measure` measures
records as 12-lead machines do (and `measure.criteria` reads the measurements by the published
criteria); `cli` is the command line.
"""

__version__ = "1.0.0"

"""ecgnet: an adaptive lead-weighted SE-ResNet for the PhysioNet/CinC Challenge 2020.

Data flows one way, one module per job. Records: `folders` (which files of a folder make which
records) -> `headers` (WFDB headers) and the signal files they name, `matfiles` (the
Challenge's `.mat`) or `datfiles` (native WFDB, formats in `wfdbformats`), within `limits` ->
`preprocess` (lead order, `resampling`, demographics, windows and views); `records`
takes one record through all of them (`read_record -> Record`, every failure that record's).
Then `model` (the network; `int8` its int8 form, made by `quantize`) -> `inference` (the fold
ensemble) -> `thresholds` -> `outputs` (output files) -> `scoring` and `metrics` (the official
metric); `runner` is the driver's loop over a folder. Training: `training` (the run) over
`dataset` (signal `cache`, labels, `folds`, batches) and `loop` (one fold's epochs), with
`foldstate` (a fold's checkpointed state and its result's file), `crossval` (the
cross-validation report), `config`, `overrides` (label overrides files), `distributed`
(torchrun) and `modelstore` (the MODEL folder); `ptbxl` (PTB-XL's labels and folds). Shared:
`labels` (the class space), `errors`, `files` (atomic writes, guarded reads), `logs` (the log
format and its time format); `synthetic` makes records for the demo and the tests; `convert`
writes any record in the Challenge's format; `measure` measures records as 12-lead machines do
(and `measure.criteria` reads the measurements by the published criteria). Tools beside the
classifier: `report` (the HTML report), `review` (label review), `experiments` (`ecgnet
compare`), `benchmarks`.

`cli` is the command line: every command's parser and `main`, one help format and one way of
turning errors into exit statuses. Imports go one way: `cli` imports the library, nothing in the
library imports `cli`, and the training core does not import `report` (`ecgnet train` writes
the report after training returns).
"""

__version__ = "1.0.0"

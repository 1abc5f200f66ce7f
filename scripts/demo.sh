#!/usr/bin/env bash
# The whole job end to end on data made on the spot: set up, train, drive, evaluate.
#   bash scripts/demo.sh                 synthetic records, small network (a few minutes on CPU)
#   DATA=path/to/records bash scripts/demo.sh    your own records (split 80/20 by name)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ecgnet=.venv/bin/ecgnet   # the same functions as train_model.py, driver.py and evaluate_model.py
work=${WORK:-demo}
rm -rf "$work"
mkdir -p "$work/train" "$work/test"
if [ -n "${DATA:-}" ]; then
  # Every fifth record is held out for the test.
  i=0
  for hea in $(ls "$DATA"/*.hea | sort); do
    name=$(basename "$hea" .hea)
    target=train; [ $((i % 5)) -eq 4 ] && target=test
    ln -s "$(cd "$(dirname "$hea")" && pwd)/$name.hea" "$work/$target/$name.hea"
    ln -s "$(cd "$(dirname "$hea")" && pwd)/$name.mat" "$work/$target/$name.mat"
    i=$((i + 1))
  done
else
  $ecgnet synth "$work/train" 300 --seed 1
  $ecgnet synth "$work/test" 100 --seed 2 --start 301
fi
$ecgnet train "$work/train" "$work/model" --config "${CONFIG:-configs/demo.json}"
$ecgnet drive "$work/model" "$work/test" "$work/outputs"
$ecgnet evaluate "$work/test" "$work/outputs" "$work/scores.csv" "$work/class_scores.csv" --json "$work/scores.json"
echo
echo "Test-set scores ($work/scores.csv):"
cat "$work/scores.csv"; echo
echo "Cross-validation numbers: $work/model/cv_report.json; per-class scores: $work/class_scores.csv"
# The report with plots (needs the review extra, which scripts/setup.sh installs).
$ecgnet report "$work/model" "$work/report" --labels "$work/train" \
  --scores "$work/scores.json" --test-labels "$work/test" --outputs "$work/outputs" > /dev/null
echo "Report (cross-validation and test set): $work/report/report.html"

#!/usr/bin/env bash
# CI stage: `pip install .` into a fresh venv, then the installed `ecgnet` (not the checkout)
# makes records, trains a tiny model, classifies and scores, from a folder outside the checkout.
#
#   bash scripts/package_smoke.sh
#
# The install is the real one: pip resolves the pins of pyproject.toml and takes them from its
# configured sources (the local CPU build of torch where pip's configuration offers one; its
# cache makes a second run quick). The tree is copied first (the files git would commit), so
# that the build's build/ and *.egg-info folders never land in the checkout. About a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
work=$(mktemp -d /tmp/ecgnet-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do if [ -e "$f" ]; then printf '%s\0' "$f"; fi; done \
    | tar --null -T - -cf - | tar -xf - -C "$work/src"
else
  tar --exclude=./.venv --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$work/src"
fi
"$python" -m venv "$work/venv"
(cd "$work/src" && "$work/venv/bin/python" -m pip install --quiet .)
cp "$work/src/configs/tiny.json" "$work/tiny.json"   # the tests' tiny config: the defaults, small
rm -rf "$work/src"   # from here on only the installed copy exists
cd "$work"
ecgnet=("$work/venv/bin/ecgnet")
"${ecgnet[@]}" --help
"$work/venv/bin/python" -m ecgnet --version
"${ecgnet[@]}" synth train 24 --seed 1
"${ecgnet[@]}" synth test 6 --seed 2 --start 25
"${ecgnet[@]}" train train model --config tiny.json --jobs 1
"${ecgnet[@]}" drive model test outputs
"${ecgnet[@]}" evaluate test outputs scores.csv
[ "$(ls outputs | wc -l)" -eq 6 ] || { echo "package-smoke: expected 6 output files" >&2; exit 1; }
head -1 scores.csv | grep -q '^AUROC,AUPRC' || { echo "package-smoke: bad scores.csv" >&2; exit 1; }
echo "package-smoke: passed ($("$work/venv/bin/python" -c 'import ecgnet; print(ecgnet.__file__)'))"

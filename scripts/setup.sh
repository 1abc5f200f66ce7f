#!/usr/bin/env bash
# Create .venv (once) with the runtime, test, lint and review-tool dependencies, and install this checkout
# into it in editable mode (the `ecgnet` command, code changes seen at once). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.requirements.sha256
wanted=$(cat requirements.txt requirements-dev.txt requirements-review.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ] || [ ! -x .venv/bin/ecgnet ]; then
  # setuptools below 82: neurokit2 0.3.0 (the review extra) declares it.
  .venv/bin/python -m pip install --quiet --upgrade pip "setuptools>=77,<82"
  # The pins of requirements*.txt are those of pyproject.toml (tests/test_cli.py checks); from
  # files, pip takes the local CPU build of torch where its configuration offers one.
  .venv/bin/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt -r requirements-review.txt
  # Dependencies are in place: no resolver run, no isolated build environment to download.
  # (The warning silenced is setuptools' reminder that ./ecgnet shadows the install: it is the
  # same code.)
  PYTHONWARNINGS=ignore::UserWarning .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation --editable .
  echo "$wanted" > "$stamp"
fi

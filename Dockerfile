# ecgnet: PhysioNet/CinC Challenge 2020 12-lead ECG classifier.
#
# Challenge layout: the code lives in /physionet (the working directory); the data, the model
# and the outputs are mounted at run time, nothing is baked in:
#
#   docker build -t ecgnet .
#   docker run --rm \
#     -v "$PWD/training_data:/physionet/training_data:ro" -v "$PWD/model:/physionet/model" \
#     ecgnet python train_model.py training_data model
#   docker run --rm -v "$PWD/model:/physionet/model:ro" \
#     -v "$PWD/test_data:/physionet/test_data:ro" -v "$PWD/test_outputs:/physionet/test_outputs" \
#     ecgnet python driver.py model test_data test_outputs
#
# The container runs as uid:gid 1000:1000 (user `physionet`); folders it writes into (model,
# test_outputs) must be writable by that uid, or run with `--user "$(id -u):$(id -g)"`.
# On a GPU host add `--gpus all --shm-size=2g` (NVIDIA Container Toolkit needed): PyPI's
# torch==2.13.0 is the CUDA build, so the same image trains on the GPU. For a smaller CPU-only
# image, build with --build-arg PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu

# Any Debian-like image with Python 3.11 (python3 -m venv must work).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The unprivileged user the container runs as (writes to the filesystem only in /tmp, its home
# and the mounted model/output folders).
RUN groupadd --gid 1000 physionet \
    && useradd --uid 1000 --gid 1000 --create-home --shell /bin/bash physionet

WORKDIR /physionet

# Dependencies first, so that code changes do not reinstall them. A virtualenv works both on
# python:*-slim and on a Debian base whose system Python is "externally managed".
COPY requirements.txt /physionet/requirements.txt
# Extra places pip may take wheels from; empty for a normal build. CI points PIP_FIND_LINKS at
# a local server holding the CPU build of torch (e.g. http://127.0.0.1:8765/, built with
# --network host) so that it does not download the multi-GB CUDA build.
ARG PIP_FIND_LINKS=""
ARG PIP_EXTRA_INDEX_URL=""
RUN python3 -m venv /opt/venv \
    && pip install --no-cache-dir --progress-bar off -r requirements.txt \
    && python -c "import numpy, scipy, joblib, torch; print('torch', torch.__version__)"

COPY . /physionet

USER 1000:1000
CMD ["bash"]

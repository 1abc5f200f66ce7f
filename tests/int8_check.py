"""The int8 checks that depend on the CPU kind, run in a process of their own so that oneDNN
can be limited to one instruction set (ONEDNN_MAX_CPU_ISA, read once per process):

    python tests/int8_check.py MODEL DATA [ISA]

MODEL is an int8 model folder (`ecgnet quantize`), DATA its records, ISA the instruction set
oneDNN should report (its verbose mode's words); when it reports another one (the CPU lacks
it), nothing else runs. Prints one JSON line: the instruction set oneDNN and torch ran at, the
int8 kernels that ran, and what was measured:
- exact: the int8 convolutions whose outputs were not the exact integer sums (power-of-two
  scales make the dequantised outputs exact too), over shapes that include the strided 1x1
  ones oneDNN got wrong on several threads, and full-range weights with 7-bit activations;
- batches: the largest difference between records classified alone and in batches of
  several sizes (some records shortened, so zero-padded and masked), in one thread or in
  worker threads at once, padding masks on and off; repeat: the largest difference between
  two runs of the same batches;
- fidelity: the largest difference between int8 and float32 probabilities.
Runs on several threads: the oneDNN race above needs two at the same time.
"""

import contextlib
import json
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

from ecgnet import int8
from ecgnet.folders import list_records
from ecgnet.inference import Ensemble, bound_kernel_cache, predict
from ecgnet.records import read_record

THREADS = max(2, min(4, os.cpu_count() or 1))
REPEATS = 3  # a race does not show every time
# (batch, in channels, out channels, kernel, stride, width): the block shapes of the tiny and
# the paper-size model, and in channels that are odd multiples of every ISA's block (4, 8)
SHAPES = [
    (n, ic, oc, k, s, w)
    for ic, oc in ((4, 8), (8, 16), (12, 24), (24, 48), (64, 128))
    for k, s in ((1, 2), (1, 1), (7, 1), (7, 2))
    for n, w in ((2, 96), (16, 480))
]
FULL_RANGE = (2, 256, 256, 7, 1, 100)


@contextlib.contextmanager
def onednn_verbose(lines: list[str]):
    """Collect the lines oneDNN's verbose mode writes to stdout meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+") as capture:
        os.dup2(capture.fileno(), 1)
        try:
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            capture.seek(0)
            lines += [line.strip() for line in capture if line.startswith("onednn_verbose,")]


def reported_isa(lines: list[str]) -> str:
    """The instruction set oneDNN says it runs at (its words, which may hold commas)."""
    return next((line.split(",isa:", 1)[1] for line in lines if ",info,cpu,isa:" in line), "")


def int8_kernels(lines: list[str]) -> list[str]:
    """The implementations of the int8 (uint8 input) convolutions oneDNN ran."""
    fields = [line.split(",") for line in lines if ",primitive,exec,cpu,convolution," in line]
    return sorted({f[6] for f in fields if "src:u8" in f[8]})


def convolution(shape: tuple, generator: torch.Generator, full_range: bool = False) -> str | None:
    """How far an int8 convolution of `shape` is from the exact integer sums, if at all."""
    n, ic, oc, k, stride, width = shape
    weight = torch.randint(-128, 128, (oc, ic, k), dtype=torch.int8, generator=generator)
    codes = torch.randint(0, int8.ACTIVATION_MAX + 1, (n, ic, width), generator=generator)
    if full_range:  # the largest products: int16 pair sums would saturate with 8-bit activations
        weight[:, :, 0] = 127
        codes[:, :, : width // 2] = int8.ACTIVATION_MAX
    input_scale, weight_scale = 2.0**-4, 2.0**-7
    conv = int8.Int8Conv1d(weight, torch.full((oc,), weight_scale), torch.zeros(oc), input_scale, stride)
    exact = F.conv1d(codes.double(), weight.double(), stride=stride, padding=k // 2) * (input_scale * weight_scale)
    off = max((conv(codes.float() * input_scale) - exact.float()).abs().max().item() for _ in range(REPEATS))
    return f"{shape}: off by {off:.3g}" if off else None


def inexact_convolutions() -> list[str]:
    generator = torch.Generator().manual_seed(0)
    found = [convolution(shape, generator) for shape in SHAPES] + [convolution(FULL_RANGE, generator, True)]
    return [f for f in found if f]


def batch_differences(ensemble: Ensemble, records: list) -> tuple[float, float]:
    """(largest difference alone vs batched, in one thread or in worker threads at once; largest
    difference between two identical runs)."""
    models, config = ensemble.models, ensemble.config
    alone = np.concatenate([predict(models, [r], config, "cpu") for r in records], axis=1)
    batched = [predict(models, records, config, "cpu", samples) for samples in (3 * 4096, 16 * 4096)]
    batched += [predict(models, records, config, "cpu", 16 * 4096, workers=workers) for workers in (2, 3)]
    again = predict(models, records, config, "cpu", 16 * 4096)
    return max(float(np.abs(b - alone).max()) for b in batched), float(np.abs(again - batched[-1]).max())


def main(model: str, data: str, expected_isa: str | None = None) -> dict:
    bound_kernel_cache()
    torch.set_num_threads(THREADS)
    lines = []
    with onednn_verbose(lines):  # a first int8 kernel: oneDNN names its instruction set
        convolution((1, 8, 8, 1, 1, 8), torch.Generator())
    result = {"onednn_isa": reported_isa(lines), "torch": torch.backends.cpu.get_cpu_capability(), "threads": THREADS}
    if expected_isa and result["onednn_isa"] != expected_isa:
        return result
    records = [read_record(files, 257) for files in list_records(data)[:8]]
    for record in records[1::2]:  # shorter views, padded to the batch's width
        record.signal = record.signal[:, : record.signal.shape[1] // 3]
    ensemble, fp32 = Ensemble.from_folder(model, "cpu", "int8"), Ensemble.from_folder(model, "cpu", "fp32")
    with onednn_verbose(lines):
        probabilities = predict(ensemble.models, records, ensemble.config, "cpu")
    masked = batch_differences(ensemble, records)
    ensemble.config = ensemble.config.replace(mask_padding=False)
    for network in ensemble.models:
        network.mask_padding = False
    unmasked = batch_differences(ensemble, records)
    return result | {
        "int8_kernels": int8_kernels(lines),
        "inexact": inexact_convolutions(),
        "batches": max(masked[0], unmasked[0]),
        "repeat": max(masked[1], unmasked[1]),
        "fidelity": float(np.abs(probabilities - predict(fp32.models, records, fp32.config, "cpu")).max()),
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))

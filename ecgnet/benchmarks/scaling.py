"""The driver over large collections: records per second and peak memory at 1x, 10x and 100x
the sample size, on native WFDB records in nested folders.

    python -m ecgnet.benchmarks.scaling [--scales 1,10,100] [--base 214] [--width 8] [--json FILE]

BASE x the largest scale synthetic records (`ecgnet.synthetic`, each 8-12 s at 500 Hz, a
different seed per folder) are written once as native WFDB records (NAME.hea + NAME.dat,
format 16) in folders of at most 1,000 (`gNNN/`, as PTB-XL and the 2021 Challenge nest theirs);
each scale's DATA holds hard links to the first BASE x scale of them, in the same folders. The
`ecgnet drive` process classifies them (found by the recursive listing), measured from outside:
wall time, CPU time (user + system, which other work on a shared machine does not inflate;
per record, that of the first run less that of the resumed one, which starts and lists alike
but classifies nothing), peak RSS, and the driver's own loop time. A second run with --skip-existing measures
what resuming a finished run costs (listing and one stat per record), and a third process only
lists the tree. The network is an untrained one of the default depth but `--width` channels
(8: the per-record cost is then mostly reading and resampling, which is what grows with the
collection; the network's share is the same per record at any scale).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import scipy.io

from ecgnet import synthetic
from ecgnet.benchmarks import child_env
from ecgnet.benchmarks.tools import machine, make_model
from ecgnet.config import Config
from ecgnet.files import atomic_write

FOLDER_SIZE = 1000
ECGNET = [sys.executable, "-m", "ecgnet"]
_LOOP = re.compile(r"driver: wrote (\d+) output files for (\d+) recordings in ([0-9.]+) s")
# Runs the command as its child and reports the child's wall time, CPU time and peak RSS.
_LAUNCHER = """
import os, subprocess, sys, time
started = time.perf_counter()
process = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(process.pid, 0)
cpu = usage.ru_utime + usage.ru_stime
print(f"{time.perf_counter() - started} {cpu} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}", file=sys.stderr)
"""


def measured(command: list[str]) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MiB, stderr) of a command run with this ecgnet importable."""
    result = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *command], env=child_env(), capture_output=True, text=True
    )
    wall, cpu, peak_kib, status = result.stderr.strip().splitlines()[-1].split()
    if int(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return float(wall), float(cpu), int(peak_kib) / 1024, result.stderr


def to_native(folder: str) -> None:
    """Rewrite every NAME.hea + NAME.mat of `folder` as a native WFDB record (NAME.dat, format 16)."""
    for entry in sorted(os.listdir(folder)):
        if not entry.endswith(".mat"):
            continue
        stem = os.path.join(folder, entry[:-4])
        val = scipy.io.loadmat(stem + ".mat")["val"]
        val.T.astype("<i2").tofile(stem + ".dat")
        with open(stem + ".hea") as f:
            text = f.read()
        name = os.path.basename(stem)
        with open(stem + ".hea", "w") as f:
            f.write(text.replace(f"{name}.mat 16+24 ", f"{name}.dat 16 "))
        os.remove(stem + ".mat")


def make_collection(root: str, count: int) -> str:
    """`count` native records in folders of at most FOLDER_SIZE under `root`."""
    for k, start in enumerate(range(0, count, FOLDER_SIZE)):
        folder = os.path.join(root, f"g{k:03d}")
        synthetic.make_dataset(folder, min(FOLDER_SIZE, count - start), seed=k, start=start + 1, prefix="N")
        to_native(folder)
    return root


def linked_part(source: str, target: str, count: int) -> str:
    """`target` holding hard links to the first `count` records of the collection `source`."""
    left = count
    for folder in sorted(os.listdir(source)):
        names = sorted(e[:-4] for e in os.listdir(os.path.join(source, folder)) if e.endswith(".hea"))[:left]
        os.makedirs(os.path.join(target, folder))
        for name in names:
            for ext in (".hea", ".dat"):
                os.link(os.path.join(source, folder, name + ext), os.path.join(target, folder, name + ext))
        left -= len(names)
        if not left:
            break
    return target


def drive(model: str, data: str, out: str, *options: str) -> dict:
    wall, cpu, mib, stderr = measured([*ECGNET, "drive", model, data, out, *options])
    written, total, loop = _LOOP.findall(stderr)[-1]
    return {
        "records": int(total),
        "written": int(written),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "loop_s": float(loop),
        "records_per_s": round(int(total) / float(loop), 1) if float(loop) else None,
        "peak_mib": round(mib, 1),
    }


def listing(data: str) -> dict:
    code = f"from ecgnet.folders import iter_records; print(sum(1 for _ in iter_records({data!r})))"
    wall, cpu, mib, _ = measured([sys.executable, "-c", code])
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_mib": round(mib, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1,10,100", help="multiples of --base to measure")
    parser.add_argument("--base", type=int, default=214, help="records at scale 1 (the sample size)")
    parser.add_argument("--width", type=int, default=8, help="channels of the untrained network's first stage")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    args = parser.parse_args(argv)
    results = {"machine": machine(), "width": args.width, "scales": {}}
    scales = [int(s) for s in args.scales.split(",")]
    with tempfile.TemporaryDirectory() as work:
        model = make_model(os.path.join(work, "model"), Config().replace(width=args.width, se_reduction=4))
        collection = make_collection(os.path.join(work, "all"), args.base * max(scales))
        for scale in scales:
            data = linked_part(collection, os.path.join(work, f"data{scale}"), args.base * scale)
            out = os.path.join(work, f"out{scale}")
            first = drive(model, data, out)
            resumed = drive(model, data, out, "--skip-existing")
            # The resumed run starts, loads the model and lists DATA but classifies nothing: the
            # difference is the CPU time of classifying the records.
            first["classifying_cpu_ms_per_record"] = round(
                1000 * (first["cpu_s"] - resumed["cpu_s"]) / first["records"], 2
            )
            results["scales"][f"{scale}x"] = {
                "first run": first,
                "resumed, all done": resumed,
                "listing": listing(data),
            }
            print(json.dumps({f"{scale}x": results["scales"][f"{scale}x"]}), flush=True)
            shutil.rmtree(data)
            shutil.rmtree(out)
    for key in ("records_per_s", "classifying_cpu_ms_per_record", "peak_mib"):
        values = [s["first run"][key] for s in results["scales"].values()]
        results[f"{key}_vs_first_scale"] = [round(v / values[0], 3) for v in values]
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        atomic_write(args.json, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

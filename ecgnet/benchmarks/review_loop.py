"""The label-review loop on real records, end to end through the command line, with wall times
(each step a `python -m ecgnet` process of this ecgnet, `child_env`, its start included).

    python -m ecgnet.benchmarks.review_loop MODEL DATA WORK [--items 30] [--seed 0] [--json FILE]

MODEL is a finished model trained on DATA. Runs, as a user would:
  1. `ecgnet audit MODEL DATA WORK/audit`;
  2. `ecgnet review-kit DATA WORK/kit --from WORK/audit/label_issues.csv --model MODEL` with
     ITEMS suspects (plus the default shares of controls and repeats);
  3. two simulated reviewers fill in the answer form (its kit_id column kept). There is no
     ground truth for real records, so the answers are a stated simulation, not evidence:
     reviewer R1 answers what the model says (its thresholded out-of-fold label, from key.csv),
     quality G, confidence 4, and an axis in degrees drawn to agree with their LAD answer where
     LAD is asked (-75 to -35 when present, -15 to 80 when absent); R2 copies R1 but changes 10%
     of the class cells to the other answer and 5% to `?`, marks 3% of the items U, and measures
     the axis with a 8-degree spread. Only the loop's working and its time are measured here;
     the statistics of real reviewers are for real reviewers to produce;
  4. `ecgnet agreement WORK/kit R1.csv R2.csv --json WORK/agreement.json --csv WORK/tables`;
  5. `ecgnet relabel WORK/kit R1.csv R2.csv --policy consensus --out WORK/overrides.csv`.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

from ecgnet.benchmarks import child_env
from ecgnet.csvfiles import read_table, write_table
from ecgnet.errors import describe
from ecgnet.files import atomic_write, read_json
from ecgnet.review.formats import FORM_FILE, KEY_FILE, REVIEWER_FOLDER


def ecgnet(argv: list[str]) -> int:
    """The exit status of `python -m ecgnet ARGV`, run as a user runs it."""
    return subprocess.run([sys.executable, "-m", "ecgnet", *argv], env=child_env()).returncode


def simulated_answers(kit, folder, seed):
    """Write R1.csv and R2.csv (the simulation of the module docstring); returns their paths."""
    key = read_table(os.path.join(kit, KEY_FILE), "kit key")
    model = {(r["review_id"], r["abbreviation"]): r["model_label"] or r["given_label"] for r in key.rows}
    record = {r["review_id"]: r["record"] for r in key.rows}  # a repeat is measured as its first showing
    form = read_table(os.path.join(kit, REVIEWER_FOLDER, FORM_FILE), "answer form")
    asked = [c for c in form.header if (form.rows[0]["review_id"], c) in model]
    rng = np.random.default_rng(seed)
    first: dict[tuple[str, str], Any] = {}  # R1's answers, which R2 copies
    paths = []
    for reviewer, change, unsure, unreadable in (("R1", 0.0, 0.0, 0.0), ("R2", 0.10, 0.05, 0.03)):
        answered = []
        for row in form.rows:
            cells = dict(row.cells, quality="G", confidence="4")
            for abbreviation in asked:
                answer = first.get((row["review_id"], abbreviation)) or model[(row["review_id"], abbreviation)]
                draw = rng.random()
                if draw < change:
                    answer = "0" if answer == "1" else "1"
                elif draw < change + unsure:
                    answer = "?"
                first.setdefault((row["review_id"], abbreviation), answer)
                cells[abbreviation] = answer
            lad = first.get((row["review_id"], "LAD"))
            drawn = rng.uniform(-75, -35) if lad == "1" else rng.uniform(-15, 80)
            axis = first.setdefault((record[row["review_id"]], "axis"), drawn)
            cells["axis_degrees"] = f"{axis + (rng.normal(0, 8) if change else 0):.0f}"
            if rng.random() < unreadable:
                cells["quality"] = "U"
            answered.append([cells[c] for c in form.header])
        path = os.path.join(folder, f"{reviewer}.csv")
        write_table(path, form.header, answered)
        paths.append(path)
    return paths


def run(model, data, work, items=30, seed=0):
    """Every step of the loop; returns {step: seconds} and the agreement summary."""
    os.makedirs(work, exist_ok=True)
    audit, kit = os.path.join(work, "audit"), os.path.join(work, "kit")
    seconds = {}

    def step(name, argv):
        started = time.perf_counter()
        status = ecgnet(argv)
        seconds[name] = round(time.perf_counter() - started, 2)
        if status != 0:
            raise SystemExit(f"review_loop: `ecgnet {' '.join(argv)}` failed with status {status}")

    step("audit", ["audit", model, data, audit])
    issues = os.path.join(audit, "label_issues.csv")
    step("review-kit", ["review-kit", data, kit, "--from", issues, "--model", model, "--n", str(items)])
    started = time.perf_counter()
    answers = simulated_answers(kit, work, seed)
    seconds["answers"] = round(time.perf_counter() - started, 2)
    report = os.path.join(work, "agreement.json")
    step("agreement", ["agreement", kit, *answers, "--json", report, "--csv", os.path.join(work, "tables")])
    step("relabel", ["relabel", kit, *answers, "--policy", "consensus", "--out", os.path.join(work, "overrides.csv")])
    manifest = read_json(os.path.join(kit, "manifest.json"), "kit manifest", 8 << 20)
    return {"seconds": seconds, "total_seconds": round(sum(seconds.values()), 2), "kit": manifest["groups"]}


def main(argv=None, prog=None):
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("model", help="a finished MODEL folder trained on DATA")
    parser.add_argument("data", help="the records the model was trained on")
    parser.add_argument("work", help="folder for the audit, kit, answers and results")
    parser.add_argument("--items", type=int, default=30, help="suspect records in the kit")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated answers")
    parser.add_argument("--json", metavar="FILE", help="write the result as JSON")
    args = parser.parse_args(argv)
    result = run(args.model, args.data, args.work, args.items, args.seed)
    print(json.dumps(result, indent=2))
    if args.json:
        try:
            atomic_write(args.json, json.dumps(result, indent=2) + "\n")
        except OSError as e:
            print(f"error: {describe(e)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks that gradboard reads TensorBoard logs exactly as TensorBoard does: for every run of
`gradboard runs --logdir DIR --json` written by TensorBoard, each scalar tag's count, last value,
last step, min and max against TensorBoard's own EventAccumulator. Needs `pip install
tensorboard`; run from the project root after a release build:

    python3 scripts/compare_tensorboard.py logs [path/to/gradboard]
"""
import json
import os
import subprocess
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main():
    logdir = sys.argv[1]
    binary = sys.argv[2] if len(sys.argv) > 2 else "target/release/gradboard"
    out = subprocess.run([binary, "runs", "--logdir", logdir, "--json"],
                         capture_output=True, text=True, check=True).stdout
    runs = [json.loads(line) for line in out.splitlines()]
    checked = 0
    for run in runs:
        if run["source"] != "tensorboard":
            continue
        acc = EventAccumulator(os.path.join(logdir, run["id"]), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            events = acc.Scalars(tag)
            ours = run["scalars"][tag]
            values = [e.value for e in events]
            want = {"count": len(events), "last": events[-1].value, "step": events[-1].step,
                    "min": min(values), "max": max(values)}
            got = {k: ours[k] for k in want}
            if got != want:
                sys.exit(f"{run['id']} {tag}: gradboard {got}, TensorBoard {want}")
            checked += 1
    print(f"identical: {checked} tags in {len(runs)} runs")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A training script that reports to gradboard with plain JSON lines (no dependency).

It fits a logistic regression on a seeded synthetic problem by gradient descent and appends
one JSON object a step to metrics.jsonl: {"step": N, "loss": ..., "acc": ...}, after a
{"config": {...}} line with its settings. gradboard reads it with
`gradboard runs --logdir DIR` and `gradboard export --logdir DIR --out OUT`.

    python3 scripts/examples/jsonl_train.py --lr 0.5 --steps 200 --out logs/lr0.5
"""
import argparse
import json
import math
import os
import random
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="logs/run")
    args = p.parse_args()
    # GRADBOARD_METRICS, when set, names the file to append to; else OUT/metrics.jsonl.
    path = os.environ.get("GRADBOARD_METRICS") or os.path.join(args.out, "metrics.jsonl")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    rng = random.Random(args.seed)
    true_w = [rng.gauss(0, 1) for _ in range(8)]
    data = []
    for _ in range(512):
        x = [rng.gauss(0, 1) for _ in range(8)]
        y = 1 if sum(a * b for a, b in zip(x, true_w)) > 0 else 0
        data.append((x, y))
    w = [0.0] * 8
    with open(path, "a", buffering=1) as f:
        f.write(json.dumps({"config": {"lr": args.lr, "steps": args.steps, "seed": args.seed}}) + "\n")
        for step in range(1, args.steps + 1):
            grad = [0.0] * 8
            loss = 0.0
            correct = 0
            for x, y in data:
                z = sum(a * b for a, b in zip(x, w))
                prob = 1 / (1 + math.exp(-max(min(z, 30), -30)))
                loss -= math.log(prob + 1e-12) if y else math.log(1 - prob + 1e-12)
                correct += (prob > 0.5) == bool(y)
                for i in range(8):
                    grad[i] += (prob - y) * x[i] / len(data)
            w = [a - args.lr * g for a, g in zip(w, grad)]
            f.write(json.dumps({"step": step, "loss": loss / len(data),
                                "acc": correct / len(data), "time": time.time()}) + "\n")
    print(f"loss={loss / len(data):.4f} acc={correct / len(data):.4f}")


if __name__ == "__main__":
    main()

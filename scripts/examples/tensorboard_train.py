#!/usr/bin/env python3
"""A training script that logs with TensorBoard's SummaryWriter, as PyTorch scripts do.

It takes torch.utils.tensorboard's SummaryWriter when PyTorch is installed, else
tensorboardX's (the same API, `pip install tensorboardX`). It fits a logistic regression on a
seeded synthetic problem, logs train/loss and train/acc every step and val/acc every 10, and
its settings with add_hparams. gradboard reads the event files it writes:

    python3 scripts/examples/tensorboard_train.py --lr 0.5 --logdir logs/tb-lr0.5
    gradboard runs --logdir logs --json
"""
import argparse
import math
import random

try:
    from torch.utils.tensorboard import SummaryWriter
except ImportError:
    from tensorboardX import SummaryWriter


def accuracy(w, data):
    hits = 0
    for x, y in data:
        hits += (sum(a * b for a, b in zip(x, w)) > 0) == bool(y)
    return hits / len(data)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--logdir", default="logs/tb")
    args = p.parse_args()
    rng = random.Random(args.seed)
    true_w = [rng.gauss(0, 1) for _ in range(8)]

    def sample(n):
        out = []
        for _ in range(n):
            x = [rng.gauss(0, 1) for _ in range(8)]
            out.append((x, 1 if sum(a * b for a, b in zip(x, true_w)) > 0 else 0))
        return out

    train, val = sample(512), sample(256)
    w = [0.0] * 8
    writer = SummaryWriter(args.logdir)
    loss = 0.0
    for step in range(args.steps):
        grad, loss = [0.0] * 8, 0.0
        for x, y in train:
            z = max(min(sum(a * b for a, b in zip(x, w)), 30), -30)
            prob = 1 / (1 + math.exp(-z))
            loss -= math.log(prob + 1e-12) if y else math.log(1 - prob + 1e-12)
            for i in range(8):
                grad[i] += (prob - y) * x[i] / len(train)
        w = [a - args.lr * g for a, g in zip(w, grad)]
        writer.add_scalar("train/loss", loss / len(train), step)
        writer.add_scalar("train/acc", accuracy(w, train), step)
        if step % 10 == 9:
            writer.add_scalar("val/acc", accuracy(w, val), step)
    writer.add_hparams({"lr": args.lr, "steps": args.steps, "seed": args.seed},
                       {"hparam/val_acc": accuracy(w, val)})
    writer.close()
    print(f"val_acc={accuracy(w, val):.4f}")


if __name__ == "__main__":
    main()

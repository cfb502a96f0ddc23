#!/usr/bin/env python3
"""A PyTorch training script as people write them: an MLP, SGD, and TensorBoard's
SummaryWriter. gradboard follows its logs and sweeps it without a change to it:

    gradboard --logdir logs                       # follow every run under logs/ live
    python3 scripts/examples/torch_train.py --lr 0.05 --logdir logs/lr0.05
    gradboard sweep --command 'python3 scripts/examples/torch_train.py --lr {lr} --hidden {hidden}' \\
        --objective val/acc --sampler tpe --trials 12 --range lr=1e-3..1:log --choice hidden=32,128,512 \\
        --prune asha

It trains on CIFAR-10 (--data PATH to the binary .tar.gz, or GRADBOARD_DATA) when given one,
else on a seeded synthetic problem that takes seconds. Under a gradboard sweep it logs into
$GRADBOARD_RUN_DIR; on SIGTERM it saves a checkpoint there and exits, and with
GRADBOARD_RESUME=1 it goes on from that checkpoint (a requeued SLURM task). Needs torch, and
tensorboard or tensorboardX for the writer.
"""
import argparse
import os
import signal
import sys
import tarfile

import torch
from torch import nn

try:
    from torch.utils.tensorboard import SummaryWriter
except ImportError:
    from tensorboardX import SummaryWriter


def synthetic(seed, n_train=4000, n_val=1000, dim=32, classes=10):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g) * 1.2
    def draw(n):
        y = torch.randint(0, classes, (n,), generator=g)
        x = centres[y] + torch.randn(n, dim, generator=g) * 4.0
        return x, y
    return draw(n_train), draw(n_val), dim, classes


def cifar(path, n_train, n_val):
    """The first n_train images of data_batch_1..5 and the first n_val of test_batch."""
    def read(members):
        xs, ys = [], []
        with tarfile.open(path) as tar:
            for m in tar.getmembers():
                if os.path.basename(m.name) in members:
                    raw = torch.frombuffer(bytearray(tar.extractfile(m).read()), dtype=torch.uint8)
                    raw = raw.view(-1, 3073)
                    ys.append(raw[:, 0].long())
                    xs.append(raw[:, 1:].float() / 255.0)
        return torch.cat(xs), torch.cat(ys)
    x, y = read({f"data_batch_{i}.bin" for i in range(1, 6)})
    vx, vy = read({"test_batch.bin"})
    mean, std = x.mean(0), x.std(0) + 1e-6
    return ((x[:n_train] - mean) / std, y[:n_train]), ((vx[:n_val] - mean) / std, vy[:n_val]), 3072, 10


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="CIFAR-10 binary .tar.gz (default: synthetic)")
    p.add_argument("--train-images", type=int, default=10000)
    p.add_argument("--logdir", default=os.environ.get("GRADBOARD_RUN_DIR", "logs/torch"))
    args = p.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    if args.data:
        (x, y), (vx, vy), dim, classes = cifar(args.data, args.train_images, 2000)
    else:
        (x, y), (vx, vy), dim, classes = synthetic(args.seed)
    model = nn.Sequential(nn.Linear(dim, args.hidden), nn.ReLU(), nn.Linear(args.hidden, classes))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    loss_fn = nn.CrossEntropyLoss()

    checkpoint = os.path.join(args.logdir, "checkpoint.pt")
    first = 0
    if os.environ.get("GRADBOARD_RESUME") == "1" and os.path.exists(checkpoint):
        state = torch.load(checkpoint)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        first = state["epoch"] + 1
        print(f"resumed after epoch {state['epoch']}", file=sys.stderr)

    stop = {"asked": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(asked=True))

    writer = SummaryWriter(args.logdir)
    step = first * ((len(x) + args.batch_size - 1) // args.batch_size)
    val_acc = 0.0
    for epoch in range(first, args.epochs):
        model.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x), args.batch_size):
            idx = order[i:i + args.batch_size]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 20 == 0:
                writer.add_scalar("train/loss", loss.item(), step)
        model.eval()
        with torch.no_grad():
            out = model(vx)
            val_loss = loss_fn(out, vy).item()
            val_acc = (out.argmax(1) == vy).float().mean().item()
        writer.add_scalar("val/loss", val_loss, epoch + 1)
        writer.add_scalar("val/acc", val_acc, epoch + 1)
        writer.flush()
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch}, checkpoint)
        if stop["asked"]:
            print(f"SIGTERM: stopped after epoch {epoch + 1}, checkpoint saved", file=sys.stderr)
            writer.close()
            sys.exit(143)
    writer.add_hparams({"lr": args.lr, "hidden": args.hidden, "batch_size": args.batch_size,
                        "seed": args.seed}, {"hparam/val_acc": val_acc})
    writer.close()


if __name__ == "__main__":
    main()

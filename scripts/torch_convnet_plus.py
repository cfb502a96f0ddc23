"""PyTorch reference for convnet-plus's first recipe: the lab's VGG
(../shared/bench/torch_step.py's network) trained with AdamW + OneCycleLR, label smoothing,
random mirror images and mirror test-time augmentation, to tell what the network reaches on this
budget from what gradboard's engine reaches (both 0.830). The preset has since added
conv_init = dirac, the linear schedule, norm_bias_lr and alt-flip, which this script does not
have.

usage, from the project root, after ../shared/bench/setup.sh:
  /tmp/gradboard-ref/bin/python scripts/torch_convnet_plus.py ../shared/data/cifar-10-binary.tar.gz
options: --opt adamw|momentum --lr --wd --batch --steps --ls --threads --evals"""
import argparse, os, sys, time
import numpy as np, torch, torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'bench'))
import cifar  # noqa: E402  (the shared loader: pixels 0..255 minus the per-pixel mean)

ap = argparse.ArgumentParser()
ap.add_argument('data')
ap.add_argument('--opt', default='adamw', choices=['adamw', 'momentum'])
ap.add_argument('--lr', type=float, default=2e-3); ap.add_argument('--wd', type=float, default=0.05)
ap.add_argument('--batch', type=int, default=64); ap.add_argument('--steps', type=int, default=2500)
ap.add_argument('--ls', type=float, default=0.1); ap.add_argument('--threads', type=int, default=1)
ap.add_argument('--evals', type=int, default=2)
a = ap.parse_args(); torch.set_num_threads(a.threads); torch.manual_seed(42)

layers, c = [], 3
for p in [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M']:
    if p == 'M': layers.append(nn.MaxPool2d(3, 2, 1))
    else: layers += [nn.Conv2d(c, p, 3, 1, 1), nn.BatchNorm2d(p), nn.ReLU()]; c = p
model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, 10))

xtr, ytr, xte, yte = cifar.load(a.data)
xtr = xtr.reshape(-1, 3, 32, 32)
xte, yte = torch.from_numpy(xte.reshape(-1, 3, 32, 32)), torch.from_numpy(yte)
batches, rng = cifar.Batches(xtr, ytr, 42), np.random.default_rng(7)
if a.opt == 'adamw': opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.wd)
else: opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=a.wd)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps)
loss_fn = nn.CrossEntropyLoss(label_smoothing=a.ls)

def evaluate():
    model.eval(); hits = 0
    with torch.no_grad():
        for i in range(0, len(xte), 500):
            x = xte[i:i + 500]; logits = model(x) + model(torch.flip(x, [3]))
            hits += (logits.argmax(1) == yte[i:i + 500]).sum().item()
    model.train(); return hits / len(xte)

start, hits = time.time(), []
for step in range(1, a.steps + 1):
    x, y = batches.next(a.batch); x = x.copy()
    flip = rng.random(len(x)) < 0.5; x[flip] = x[flip][..., ::-1]
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    opt.zero_grad(); out = model(x); loss = loss_fn(out, y); loss.backward(); opt.step(); sched.step()
    hits.append((out.argmax(1) == y).float().mean().item())
    if step % 250 == 0:
        print(f"step {step} train acc (last 250) {np.mean(hits[-250:]):.3f} {time.time() - start:.0f} s", flush=True)
    if step % (a.steps // a.evals) == 0:
        print(f"eval step {step} test acc {evaluate():.4f} {time.time() - start:.0f} s", flush=True)

#!/usr/bin/env python3
"""PyTorch CPU port (float32) of gradboard's `speedrun` preset, written from the airbench
paper and repository (arXiv 2404.00498, KellerJordan/cifar10-airbench) as the preset is: the
same net (presets/nets/airbench: frozen 2x2 patch whitening from the first 5000 training
images' patch covariance, GELU, three conv groups 64/256/256, 3x3 max-pool, linear without
bias, logits over 9), the same data (../shared/bench/cifar.py: pixels minus the per-pixel
mean), the same training (Nesterov SGD, momentum 0.85, lr 0.09375 and weight decay 0.00133 at
batch 64, batch-norm shifts at 64 times the lr and 1/64 the decay, label smoothing 0.2,
airbench's triangle schedule, each image mirrored every other epoch and moved by up to 2
pixels with zeros coming in, a lookahead pull every 80 steps), and the same six-view
test-time augmentation, so that the two engines' accuracy and wall time compare.

usage, from the project root, after ../shared/bench/setup.sh:
  /tmp/gradboard-ref/bin/python scripts/torch_speedrun.py ../shared/data/cifar-10-binary.tar.gz
options: --steps (10 epochs at the batch) --batch (64) --seed --threads --time-steps N (time N
steps and stop: the step time, to extrapolate a whole run). The lr scales with the batch (the
same step per image), the weight decay per step with it, and the lookahead period is 5120
images, so `--batch 1024` is airbench94's own schedule (5 steps between pulls); `--airbench`
adds the rest of airbench94's choices that the preset leaves out: 9.9 epochs, batch-norm
momentum 0.4 and eps 1e-12, and reflected (not zero) padding for translations and test views."""
import argparse, math, os, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'bench'))
import cifar  # noqa: E402  (the shared loader: pixels 0..255 minus the per-pixel mean)

ap = argparse.ArgumentParser()
ap.add_argument('data')
ap.add_argument('--steps', type=int, default=0); ap.add_argument('--batch', type=int, default=64)
ap.add_argument('--lr', type=float, default=0.0); ap.add_argument('--wd', type=float, default=0.00133)
ap.add_argument('--airbench', action='store_true')
ap.add_argument('--seed', type=int, default=42); ap.add_argument('--threads', type=int, default=2)
ap.add_argument('--time-steps', type=int, default=0)
a = ap.parse_args()
epochs = 9.9 if a.airbench else 10
a.steps = a.steps or (7812 if (a.batch, a.airbench) == (64, False) else math.ceil(50000 // a.batch * epochs))
a.lr = a.lr or 0.09375 * a.batch / 64
every = max(5120 // a.batch, 1)
bn_momentum, bn_eps = (0.4, 1e-12) if a.airbench else (0.1, 1e-5)
pad_mode = 'reflect' if a.airbench else 'constant'
torch.set_num_threads(a.threads); torch.manual_seed(a.seed)
start = time.time()

xtr, ytr, xte, yte = cifar.load(a.data)
xtr = torch.from_numpy(np.ascontiguousarray(xtr.reshape(-1, 3, 32, 32)))
ytr = torch.from_numpy(np.asarray(ytr)).long()
xte, yte = torch.from_numpy(xte.reshape(-1, 3, 32, 32)), torch.from_numpy(np.asarray(yte)).long()


def group(c_in, c):
    def norm():
        return nn.BatchNorm2d(c, momentum=bn_momentum, eps=bn_eps)
    return [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.MaxPool2d(2), norm(), nn.GELU(),
            nn.Conv2d(c, c, 3, padding=1, bias=False), norm(), nn.GELU()]


whiten = nn.Conv2d(3, 24, 2, bias=True)
net = nn.Sequential(whiten, nn.GELU(), *group(24, 64), *group(64, 256), *group(256, 256),
                    nn.MaxPool2d(3), nn.Flatten(), nn.Linear(256, 10, bias=False))
with torch.no_grad():
    for m in net:
        if isinstance(m, nn.Conv2d) and m is not whiten:
            nn.init.dirac_(m.weight[:m.weight.shape[1]])  # identity on the input's channels
    # The whitening filters: eigenvectors of the patches' uncentred covariance over
    # sqrt(eigenvalue + eps), eps 5e-4 of the patches' mean variance (airbench's 5e-4 on its
    # standardised pixels), largest first, and their negatives; only the bias trains.
    patches = xtr[:5000].unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 12).double()
    cov = patches.T @ patches / len(patches)
    eps = 5e-4 * cov.diagonal().mean()
    values, vectors = torch.linalg.eigh(cov)
    values, vectors = values.flip(0), vectors.T.flip(0)
    scaled = (vectors / torch.sqrt(values.clamp(min=0) + eps)[:, None]).reshape(12, 3, 2, 2).float()
    whiten.weight.copy_(torch.cat([scaled, -scaled])); whiten.bias.zero_()
whiten.weight.requires_grad = False
# The batch norms only shift (the preset's learn_scale = false, airbench's): scales fixed at 1.
for m in net:
    if isinstance(m, nn.BatchNorm2d):
        m.weight.requires_grad = False


def forward(x):
    return net(x) / 9.0


norm_shifts = [m.bias for m in net if isinstance(m, nn.BatchNorm2d)]
ids = {id(p) for p in norm_shifts}
others = [p for p in net.parameters() if p.requires_grad and id(p) not in ids]
opt = torch.optim.SGD([dict(params=norm_shifts, lr=a.lr * 64, weight_decay=a.wd / 64),
                       dict(params=others, lr=a.lr, weight_decay=a.wd)],
                      momentum=0.85, nesterov=True)
rise = max(int(a.steps * 0.23), 1)


def factor(t):  # t counts from 0, as airbench's LambdaLR
    if t < rise:
        return 0.2 + 0.8 * t / rise
    return 1.0 - 0.93 * (t - rise) / max(a.steps - rise, 1)


sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
loss_fn = nn.CrossEntropyLoss(label_smoothing=0.2)
average = [t.detach().clone() for t in net.state_dict().values() if t.dtype == torch.float32]


def pull(decay):
    states = [t for t in net.state_dict().values() if t.dtype == torch.float32]
    for avg, t in zip(average, states):
        avg.lerp_(t, 1 - decay)
        t.copy_(avg)


def view(x, dy, dx, flip):
    """gradboard's test-time view: out[y][x] = in[y + dy][x + dx] (zeros outside), then the
    mirror."""
    p = F.pad(x, (2, 2, 2, 2), mode=pad_mode)[:, :, 2 + dy:34 + dy, 2 + dx:34 + dx]
    return p.flip(-1) if flip else p


g = torch.Generator().manual_seed(a.seed)
flip_first = torch.rand(len(xtr), generator=g) < 0.5
per_epoch = len(xtr) // a.batch
step, t0 = 0, time.time()
net.train()
while step < a.steps:
    epoch = step // per_epoch
    # The whitening bias trains for the first 3 epochs (gradboard's WHITEN_BIAS_EPOCHS).
    whiten.bias.requires_grad = epoch < 3
    order = torch.randperm(len(xtr), generator=g)
    for i in range(per_epoch):
        if step >= a.steps:
            break
        idx = order[i * a.batch:(i + 1) * a.batch]
        x, y = xtr[idx], ytr[idx]
        flip = flip_first[idx] ^ bool(epoch % 2)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        p = F.pad(x, (2, 2, 2, 2), mode=pad_mode)
        sy, sx = torch.randint(0, 5, (2, len(x)), generator=g)
        x = torch.stack([p[k, :, sy[k]:sy[k] + 32, sx[k]:sx[k] + 32] for k in range(len(x))])
        loss = loss_fn(forward(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step(); sched.step(); step += 1
        if step % every == 0 or step == a.steps:
            with torch.no_grad():
                pull(1.0 if step == a.steps else 0.95 ** 5 * (step / a.steps) ** 3)
        if step % max(12800 // a.batch, 1) == 0:
            print(f"step {step} loss {loss.item():.4f} {time.time() - t0:.0f} s", flush=True)
        if a.time_steps and step == a.time_steps:
            per = (time.time() - t0) / step
            print(f"{step} steps of batch {a.batch}: {per:.3f} s a step; {a.steps} steps take "
                  f"{per * a.steps / 60:.1f} min", flush=True)
            sys.exit(0)
train_s = time.time() - t0

net.eval()
views = [(0, 0, False, 0.25), (0, 0, True, 0.25), (-1, -1, False, 0.125), (-1, -1, True, 0.125),
         (1, 1, False, 0.125), (1, 1, True, 0.125)]
correct = 0
with torch.no_grad():
    for i in range(0, len(xte), 500):
        x = xte[i:i + 500]
        logits = sum(w * forward(view(x, dy, dx, f)) for dy, dx, f, w in views)
        correct += (logits.argmax(1) == yte[i:i + 500]).sum().item()
print(f"seed {a.seed}: test accuracy {correct / len(xte):.4f} (6 views), training {train_s:.0f} s, "
      f"whole run {time.time() - start:.0f} s, {a.steps} steps of {a.batch}, {a.threads} threads"
      f"{', airbench94 settings' if a.airbench else ''}")

"""Median time of a 10,000-image evaluation pass (model.eval(), torch.no_grad(), in chunks of
the size gradboard evaluates in: 1000 images for the MLPs, 100 for the ConvNet) in PyTorch on
the CPU, for the presets' models as ../shared/bench/torch_step.py builds them, on random data.
Compare with `gradboard bench --preset P --eval`.
usage: /tmp/gradboard-ref/bin/python scripts/torch_eval.py mlp-default|mlp-best|convnet [--threads N]"""
import argparse, time, torch, torch.nn as nn

def mlp(hidden, bn, dropout, slope=0.02):
    layers, d = [], 3072
    for i, h in enumerate(hidden):
        layers.append(nn.Linear(d, h))
        if bn: layers.append(nn.BatchNorm1d(h))
        layers.append(nn.LeakyReLU(slope))
        if dropout and i < len(hidden) - 1: layers.append(nn.Dropout(dropout))
        d = h
    return nn.Sequential(*layers, nn.Linear(d, 10))

def convnet():
    layers, c = [], 3
    for p in [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M']:
        if p == 'M': layers.append(nn.MaxPool2d(3, 2, 1))
        else: layers += [nn.Conv2d(c, p, 3, 1, 1), nn.BatchNorm2d(p), nn.ReLU()]; c = p
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, 10))

PRESETS = {  # model, chunk, input shape
    'mlp-default': (lambda: mlp([100], False, 0.0), 1000, (3072,)),
    'mlp-best': (lambda: mlp([800, 400, 200, 100], True, 0.2), 1000, (3072,)),
    'convnet': (convnet, 100, (3, 32, 32)),
}
ap = argparse.ArgumentParser(); ap.add_argument('preset', choices=PRESETS)
ap.add_argument('--threads', type=int, default=2)
a = ap.parse_args(); torch.set_num_threads(a.threads); torch.manual_seed(0)
make, chunk, shape = PRESETS[a.preset]; model = make().eval()
x = torch.randn(chunk, *shape)
times = []
with torch.no_grad():
    model(x)
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(-(-10000 // chunk)): model(x)
        times.append(time.perf_counter() - t)
times.sort()
print(f"{a.preset}: pytorch {torch.__version__} threads {a.threads} eval pass of 10000 images median {times[1]*1e3:.1f} ms")

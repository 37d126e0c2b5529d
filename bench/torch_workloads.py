"""
PyTorch side of advx's own benchmark workloads (bench/WORKLOADS.md), beside the shared reference
(../shared/bench/torch_reference.py) and with the same interface and output: one JSON line per
workload, {"workload", "batch", "ms" (median), "runs", "device", "threads", "torch"}.

    /usr/bin/python3 bench/torch_workloads.py [--device cpu|cuda] [--runs 10] [--only NAME,...] [--threads N]
"""
import argparse
import json
import os
import statistics
import time

import torch
from torch import nn

# MobileNet-v2 (Sandler et al. 2018, width 1.0): expansion t, output channels c, repeats n, first stride s.
MOBILENET_V2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class InvertedResidual(nn.Module):
    """Batch norm folded into the convolutions' biases, as in a converted (inference) model."""

    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = cin * t
        layers = [] if t == 1 else [nn.Conv2d(cin, hidden, 1), nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden), nn.ReLU6(), nn.Conv2d(hidden, cout, 1)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


def mobilenet_v2(classes=1000):
    layers, cin = [nn.Conv2d(3, 32, 3, 2, 1), nn.ReLU6()], 32
    for t, c, n, s in MOBILENET_V2:
        for i in range(n):
            layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
            cin = c
    layers += [nn.Conv2d(cin, 1280, 1), nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, classes)]
    return nn.Sequential(*layers)


def workloads(dev):
    sync = (lambda: torch.cuda.synchronize()) if dev == 'cuda' else (lambda: None)

    def mobilenet_input_grad(b):
        model = mobilenet_v2().to(dev).eval()
        x = torch.rand(b, 3, 224, 224, device=dev)
        y = torch.randint(0, 1000, (b,), device=dev)

        def step():
            xg = x.clone().requires_grad_(True)
            loss = nn.functional.cross_entropy(model(xg), y)
            (g,) = torch.autograd.grad(loss, xg)
            g.cpu()
        return step

    return sync, {'mobilenet-v2-input-grad': (mobilenet_input_grad, 8)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--runs', type=int, default=10)
    ap.add_argument('--only', default='')
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    sync, table = workloads(a.device)
    for name, (make, batch) in table.items():
        if a.only and name not in a.only.split(','):
            continue
        step = make(batch)
        for _ in range(2):
            step()
        sync()
        times = []
        for _ in range(a.runs):
            t = time.perf_counter()
            step()
            sync()
            times.append((time.perf_counter() - t) * 1000)
        print(json.dumps({'workload': name, 'batch': batch, 'ms': round(statistics.median(times), 3), 'runs': a.runs,
                          'device': a.device, 'threads': a.threads, 'torch': torch.__version__}), flush=True)


if __name__ == '__main__':
    main()

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


def cnn():
    """The reference MNIST CNN (../shared/bench/torch_reference.py), the architecture of models/mnist-robust."""
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))


def apgd_checkpoints(steps):
    """Croce & Hein's checkpoints p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06), times steps."""
    p = [0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted({c for c in (int(-(-(q * steps - 1e-9) // 1)) for q in p[1:]) if 0 < c <= steps})


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

    def apgd_ce(b, steps=10, eps=0.3):
        """APGD-CE (L-inf) as AutoAttack runs it: momentum 0.75, step 2 eps halved at checkpoints
        where the loss stalled, each example's best point kept; one gradient per iteration."""
        model = cnn().to(dev).eval()
        x = torch.rand(b, 1, 28, 28, device=dev)
        y = torch.randint(0, 10, (b,), device=dev)
        checkpoints = apgd_checkpoints(steps)

        def loss_grad(z):
            z = z.clone().requires_grad_(True)
            loss = nn.functional.cross_entropy(model(z), y, reduction='none')
            (g,) = torch.autograd.grad(loss.sum(), z)
            return loss.detach(), g

        def project(z):
            return torch.min(torch.max(z, x - eps), x + eps).clamp(0, 1)

        def step():
            adv = project(x + eps * (2 * torch.rand_like(x) - 1))
            size = torch.full((b, 1, 1, 1), 2 * eps, device=dev)
            loss, g = loss_grad(adv)
            best_loss, best, prev = loss.clone(), adv.clone(), adv.clone()
            improved = torch.zeros(b, device=dev)
            last_check, size_at_check, best_at_check = 0, size.clone(), best_loss.clone()
            for k in range(steps):
                z = project(adv + size * g.sign())
                a = 0.75 if k > 0 else 1.0
                new = project(adv + a * (z - adv) + (1 - a) * (adv - prev))
                prev, adv = adv, new
                loss, g = loss_grad(adv)
                better = loss > best_loss
                improved += better.float()
                best = torch.where(better.view(-1, 1, 1, 1), adv, best)
                best_loss = torch.where(better, loss, best_loss)
                if k + 1 in checkpoints:
                    since = k + 1 - last_check
                    halve = (improved < 0.75 * since) | ((size.view(-1) == size_at_check.view(-1)) & (best_loss == best_at_check))
                    size_at_check, best_at_check = size.clone(), best_loss.clone()
                    size = torch.where(halve.view(-1, 1, 1, 1), size / 2, size)
                    adv = torch.where(halve.view(-1, 1, 1, 1), best, adv)
                    improved.zero_()
                    last_check = k + 1
            best.cpu()
        return step

    return sync, {'mobilenet-v2-input-grad': (mobilenet_input_grad, 8), 'apgd-ce-10': (apgd_ce, 128)}


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

"""
PyTorch's FLOP rates on the kernels of bench/flops.ts (read as JSON on stdin: name, op, x NHWC or
[m, k], f [kh, kw, cin, cout] or [k, n]); prints one JSON line per kernel, {"gflops"}, and a last
line with the machine's measured peak: a 2048-square sgemm on all threads.

    node … | /usr/bin/python3 bench/torch_kernels.py [--runs 7] [--threads N]
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.grad import conv2d_input, conv2d_weight


def flops(k):
    if k['op'] == 'matmul':
        return 2 * k['x'][0] * k['x'][1] * k['f'][1]
    n, h, w, _ = k['x']
    kh, kw, cin, cout = k['f']
    return 2 * n * (h - kh + 1) * (w - kw + 1) * cout * kh * kw * cin


def call(k):
    if k['op'] == 'matmul':
        a, b = torch.rand(*k['x']), torch.rand(*k['f'])
        return lambda: a @ b
    n, h, w, c = k['x']
    kh, kw, cin, cout = k['f']
    x = torch.rand(n, c, h, w)
    f = torch.rand(cout, cin, kh, kw)
    dy = F.conv2d(x, f)
    return {
        'conv2d': lambda: F.conv2d(x, f),
        'conv2d-grad-input': lambda: conv2d_input(x.shape, f, dy),
        'conv2d-grad-filter': lambda: conv2d_weight(x, f.shape, dy),
    }[k['op']]


def rate(run, work, runs):
    with torch.no_grad():
        for _ in range(2):
            run()
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            run()
            times.append(time.perf_counter() - t)
    return work / statistics.median(times) / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', type=int, default=7)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for k in json.load(sys.stdin):
        print(json.dumps({'name': k['name'], 'op': k['op'], 'gflops': round(rate(call(k), flops(k), a.runs), 2)}), flush=True)
    m = 2048
    a2, b2 = torch.rand(m, m), torch.rand(m, m)
    print(json.dumps({'peak_sgemm_gflops': round(rate(lambda: a2 @ b2, 2 * m ** 3, a.runs), 2), 'threads': a.threads}), flush=True)


if __name__ == '__main__':
    main()

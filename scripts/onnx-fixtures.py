"""
Writes the ONNX fixtures for test/models/onnx.test.ts: three small PyTorch models exported with
torch.onnx.export, and for each a JSON of seeded inputs with PyTorch's outputs, so the tests
compare against PyTorch without Python. Run from the repository root:

    /usr/bin/python3 scripts/onnx-fixtures.py    (writes test/fixtures/onnx/)

Needs Debian's python3-torch (1.13). Weights are random (fixed seeds): the fixtures check that
the importer computes what PyTorch computes, not that the models are good classifiers.
"""
import json
import os

import numpy as np
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'onnx')


class SmallCnn(nn.Module):
    """conv, relu, maxpool, flatten (as x.view(batch, -1): Shape/Gather/Unsqueeze/Concat/Reshape), linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3)
        self.fc = nn.Linear(16 * 6 * 6, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(x.view(x.size(0), -1))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.skip(x))


class TinyResNet(nn.Module):
    """Residual adds, batch norm (one after an add, which the exporter cannot fold into a conv), average and global average pooling."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.block1 = Block(16, 16, 1)
        self.block2 = Block(16, 24, 2)
        self.pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.fc = nn.Linear(24, 10)

    def forward(self, x):
        x = torch.relu(self.bn(self.stem(x)))
        x = self.pool(self.block2(self.block1(x)))
        x = nn.functional.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


class TinyMobileNet(nn.Module):
    """Depthwise and grouped (groups=2) convolutions, ReLU6 (Clip), padded average pooling."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
            nn.Conv2d(16, 16, 3, 1, 1, groups=16), nn.ReLU6(),             # depthwise
            nn.Conv2d(16, 32, 1), nn.ReLU6(),                              # pointwise
            nn.Conv2d(32, 32, 3, 1, 2, dilation=2, groups=2), nn.ReLU6(),  # grouped, dilated
            nn.Conv2d(32, 32, 3, 2, 1, groups=32), nn.ReLU6(),             # depthwise, strided
            nn.AvgPool2d(2, 2, count_include_pad=True),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(32, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def randomize_batch_norm(model, gen):
    """Batch norm with running statistics other than 0 and 1, so the test sees them used."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


# name, model class, input shape (NCHW without batch), opset, dynamic batch axis, inputs stored
FIXTURES = [
    ('small-cnn', SmallCnn, (1, 28, 28), 11, True, 8),
    ('tiny-resnet', TinyResNet, (3, 32, 32), 13, False, 4),
    ('tiny-mobilenet', TinyMobileNet, (3, 32, 32), 17, False, 4),
]
# Inputs are stored as integers k, the value being k / INPUT_DIVISOR: exact and short in JSON.
INPUT_DIVISOR = 10000


def export(name, cls, shape, opset, dynamic, inputs, seed):
    torch.manual_seed(seed)
    model = cls()
    randomize_batch_norm(model, torch.Generator().manual_seed(seed))
    model.eval()
    k = np.random.default_rng(seed).integers(0, INPUT_DIVISOR + 1, (inputs, *shape))
    x = (k / INPUT_DIVISOR).astype(np.float32)
    # A dynamic batch axis is exported from another batch size than the one the test runs.
    batch = inputs if not dynamic else 2
    path = os.path.join(OUT, f'{name}.onnx')
    # PRESERVE keeps BatchNormalization nodes (EVAL would fold them into the convolutions).
    torch.onnx.export(model, torch.from_numpy(x[:batch]), path, opset_version=opset,
                      input_names=['input'], output_names=['logits'],
                      training=torch.onnx.TrainingMode.PRESERVE,
                      dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}} if dynamic else None)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    data = {'inputShape': [inputs, *shape], 'opset': opset, 'inputDivisor': INPUT_DIVISOR, 'input': [int(v) for v in k.ravel()],
            'outputShape': list(y.shape), 'output': [float(v) for v in y.ravel()]}
    with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
        json.dump(data, f)
    print(f'{name}: {os.path.getsize(path)} bytes, opset {opset}')


if __name__ == '__main__':
    for i, fixture in enumerate(FIXTURES):
        export(*fixture, seed=i + 1)

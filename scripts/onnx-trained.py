"""
Trains a small ResNet on MNIST-M with PyTorch and exports it to ONNX, as a user of advx would
bring their own model. Called by scripts/onnx-trained.ts with a folder of uint8 .npy arrays
(train-x.npy [N, 28, 28, 3], train-y.npy, test-x.npy, test-y.npy) and the number of epochs.

Writes test/fixtures/onnx/resnet-mnistm.onnx and resnet-mnistm.advx.json. The network takes
torchvision-style normalised input ((x - mean) / std per channel, x in [0, 1]); the normalisation
lives in advx.json's `preprocessing`, as a user's would, so attacks work in pixel space. The JSON
resnet-mnistm.json records PyTorch's accuracy on the whole test split and its logits for the
first 8 test images, which the tests re-measure through advx.
"""
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'onnx')
SEED = 0


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = nn.Sequential() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.skip(x))


class ResNet(nn.Module):
    """ResNet-style: a 3×3 stem, three residual stages (28 → 14 → 7), global average pooling, a linear head."""

    def __init__(self, width=24):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.stages = nn.Sequential(Block(width, width, 1), Block(width, 2 * width, 2), Block(2 * width, 4 * width, 2))
        self.fc = nn.Linear(4 * width, 10)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def load(folder, split):
    x = np.load(os.path.join(folder, f'{split}-x.npy')).astype(np.float32) / 255
    y = np.load(os.path.join(folder, f'{split}-y.npy')).astype(np.int64)
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y)


def accuracy(model, x, y, mean, std):
    model.eval()
    with torch.no_grad():
        correct = sum(int((model((x[i:i + 500] - mean) / std).argmax(1) == y[i:i + 500]).sum()) for i in range(0, len(x), 500))
    return correct / len(x)


def main(folder, epochs):
    torch.manual_seed(SEED)
    x_train, y_train = load(folder, 'train')
    x_test, y_test = load(folder, 'test')
    mean = x_train.mean(dim=(0, 2, 3)).view(1, 3, 1, 1)
    std = x_train.std(dim=(0, 2, 3)).view(1, 3, 1, 1)
    model = ResNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps = epochs * ((len(x_train) + 127) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=steps)
    start = time.time()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train))
        for i in range(0, len(x_train), 128):
            idx = order[i:i + 128]
            loss = nn.functional.cross_entropy(model((x_train[idx] - mean) / std), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f'epoch {epoch + 1}/{epochs}: loss {loss.item():.4f}, {time.time() - start:.0f} s', flush=True)
    test_accuracy = accuracy(model, x_test, y_test, mean, std)
    print(f'PyTorch test accuracy on MNIST-M ({len(x_test)} images): {test_accuracy:.4f}')
    model.eval()
    path = os.path.join(OUT, 'resnet-mnistm.onnx')
    # EVAL folds the batch norms into the convolutions, as a user's default export does.
    torch.onnx.export(model, x_test[:2], path, opset_version=13, input_names=['image'], output_names=['logits'],
                      dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}})
    info = {
        'inputShape': [28, 28, 3],
        'numClasses': 10,
        'bounds': [0, 1],
        'preprocessing': {'mean': [round(float(v), 6) for v in mean.flatten()], 'std': [round(float(v), 6) for v in std.flatten()]},
        'output': 'logits',
        'classNames': [str(i) for i in range(10)],
        'dataset': 'mnist-m',
    }
    with open(os.path.join(OUT, 'resnet-mnistm.advx.json'), 'w') as f:
        json.dump(info, f, indent=2)
        f.write('\n')
    with torch.no_grad():
        first = model((x_test[:8] - mean) / std)
    made = {
        'trainedOn': f'MNIST-M (advx), first {len(x_train)} training images, {epochs} epochs, PyTorch {torch.__version__}',
        'pytorchTestAccuracy': test_accuracy,
        'testImages': len(x_test),
        'firstTestLogits': [[float(v) for v in row] for row in first],
    }
    with open(os.path.join(OUT, 'resnet-mnistm.json'), 'w') as f:
        json.dump(made, f)
        f.write('\n')
    print(f'{path}: {os.path.getsize(path)} bytes')


if __name__ == '__main__':
    torch.set_num_threads(2)
    main(sys.argv[1], int(sys.argv[2]))

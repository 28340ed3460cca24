#!/usr/bin/python3
"""The Python PyTorch baseline for bench/trainer_bench.sh.

Trains the same model as a PolyTrain JobSpec (MLP 784-256-256-10, the CNN of
examples/jobs/fashion_mnist_cnn_poly1.txtpb, or the default ResNet: stages [16, 32, 64], one basic
block each) on Fashion-MNIST decoded once into one tensor (on the GPU with --device cuda), with
the same per-step work as the C++ trainer: a randperm gather per batch, forward, cross-entropy,
backward, SGD with Nesterov momentum, and the loss and batch accuracy read back every step, as a
plain PyTorch loop does. Also the GPU baseline of scripts/gpu-check.sh. Prints one JSON line.
"""
import argparse
import gzip
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=4 + 4 * rank).reshape(dims)


class BasicBlock(nn.Module):
    """worker/model.cc's BasicBlock: two 3x3 convolutions with batch norm, and a shortcut."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))


def model_for(kind):
    if kind == "resnet":
        layers = [nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
        channels = 16
        for stage, width in enumerate([16, 32, 64]):
            layers.append(BasicBlock(channels, width, 2 if stage > 0 else 1))
            channels = width
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256),
                             nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["mlp", "cnn", "resnet"], default="mlp")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--warmup", type=int, default=0, help="untimed steps first")
    args = parser.parse_args()
    device = torch.device(args.device)

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x = read_idx(f"{args.data}/train-images-idx3-ubyte.gz")
    x = x.unsqueeze(1).float().div_(255.0)
    x = (x - x.mean()) / x.std()
    y = read_idx(f"{args.data}/train-labels-idx1-ubyte.gz").long()
    x, y = x.to(device), y.to(device)
    model = model_for(args.model).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)

    n = x.shape[0]
    order = torch.randperm(n).to(device)
    position = 0
    train_seconds = 0.0
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        if position + args.batch > n:
            order = torch.randperm(n).to(device)
            position = 0
        index = order[position:position + args.batch]
        position += args.batch
        xb, yb = x.index_select(0, index), y.index_select(0, index)
        for group in optimizer.param_groups:
            group["lr"] = 0.05
        optimizer.zero_grad()
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        loss_value = loss.item()
        loss.backward()
        optimizer.step()
        correct = logits.argmax(1).eq(yb).sum().item()
        if step >= args.warmup:  # the item() reads above waited for the GPU
            train_seconds += time.perf_counter() - start
    print(json.dumps({"model": args.model, "device": args.device, "steps": args.steps, "batch": args.batch,
                      "threads": args.threads, "loss": loss_value, "correct": correct,
                      "samples_per_second": args.steps * args.batch / train_seconds}))


if __name__ == "__main__":
    main()

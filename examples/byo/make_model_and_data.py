#!/usr/bin/python3
"""Your model and your data, the way PolyTrain takes them: a model defined in Python and saved as
TorchScript, and a dataset saved as tensors with torch.save. Here a small ResNet and Debian's
Fashion-MNIST, written into DIR:

  python3 examples/byo/make_model_and_data.py /tmp/byo
  build/worker/polytrain-worker --spec examples/byo/resnet_poly1.txtpb --data_root /tmp/byo
  polyctl submit examples/byo/resnet_poly1.txtpb --files /tmp/byo --watch   # through the service

service_sweep.py does the same from Python with the client package, and compares three losses.
fashion_attributes.pt holds the same images with multi-label targets (attributes_focal.txtpb).
"""
import gzip
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class SmallResNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU())
        self.stages = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
        self.head = nn.Linear(64, classes)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=4 + 4 * rank).reshape(dims)


def fashion_mnist_tensors(source="/usr/share/datasets/fashion-mnist"):
    """Debian's Fashion-MNIST as the tensor dict a job takes: [N, 1, 28, 28] float32 pixels
    standardized with the training set's mean and std, int64 labels."""
    train_x = read_idx(f"{source}/train-images-idx3-ubyte.gz").unsqueeze(1).float() / 255
    test_x = read_idx(f"{source}/t10k-images-idx3-ubyte.gz").unsqueeze(1).float() / 255
    mean, std = train_x.mean(), train_x.std()
    return {"train_x": (train_x - mean) / std,
            "train_y": read_idx(f"{source}/train-labels-idx1-ubyte.gz").long(),
            "test_x": (test_x - mean) / std,
            "test_y": read_idx(f"{source}/t10k-labels-idx1-ubyte.gz").long()}


# Multi-label targets from the same images: attributes of each garment, any number per image
# (a bag has none, a dress two). Fashion-MNIST's classes: 0 T-shirt/top, 1 trouser, 2 pullover,
# 3 dress, 4 coat, 5 sandal, 6 shirt, 7 sneaker, 8 bag, 9 ankle boot.
ATTRIBUTES = {"upper_body": [0, 2, 3, 4, 6], "lower_body": [1, 3], "long_sleeves": [2, 4, 6],
              "footwear": [5, 7, 9], "closed_shoe": [7, 9]}


def attribute_tensors(tensors):
    """The tensor dict with train_y and test_y as [N, 5] float 0/1 rows, one column per entry of
    ATTRIBUTES: a multi-label task for a sigmoid loss."""
    table = torch.zeros(10, len(ATTRIBUTES))
    for column, classes in enumerate(ATTRIBUTES.values()):
        table[classes, column] = 1
    return dict(tensors, train_y=table[tensors["train_y"]], test_y=table[tensors["test_y"]])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/byo"
    os.makedirs(out, exist_ok=True)
    torch.jit.script(SmallResNet()).save(f"{out}/resnet.pt")
    tensors = fashion_mnist_tensors()
    torch.save(tensors, f"{out}/fashion_mnist.pt")
    torch.save(attribute_tensors(tensors), f"{out}/fashion_attributes.pt")
    print(f"wrote {out}/resnet.pt, {out}/fashion_mnist.pt and {out}/fashion_attributes.pt")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Writes the bring-your-own-model fixtures of worker/byo_test.cc into DIR, made at test time by
Debian's python3-torch (no binary fixture is committed): TorchScript modules, good and broken,
and tensor files, good and broken.

Usage: make_byo_fixtures.py DIR
"""
import os
import re
import sys
import zipfile
from typing import Tuple

import torch
import torch.nn as nn


def gaussian_classes(sizes, features, classes, seed):
    """One set of class means, then a split of each size: classes 6 apart, unit noise."""
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(classes, features, generator=g)
    means = means / means.norm(dim=1, keepdim=True) * 6
    splits = []
    for n in sizes:
        y = torch.randint(0, classes, (n,), generator=g)
        splits += [means[y] + torch.randn(n, features, generator=g), y]
    return splits


class Scaled(nn.Module):
    """A custom parameter beside standard layers: FROM_SEED leaves it as saved."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
        self.scale = nn.Parameter(torch.full((5,), 0.5))

    def forward(self, x):
        return self.body(x) * self.scale


class BnCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                      nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * 4 * 4, 3))

    def forward(self, x):
        return self.head(self.features(x))


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(20, 5)

    def forward(self, x):
        y = self.linear(x)
        return y, y


class Frozen(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(20, 5)
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        return self.linear(x)


class FrozenBackbone(nn.Module):
    """A pretrained backbone kept frozen (weights 0.5, biases 0.25, its BatchNorm's running mean
    0.3) under a trained head."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(20, 8)
        self.norm = nn.BatchNorm1d(8)
        self.head = nn.Linear(8, 5)
        with torch.no_grad():
            self.backbone.weight.fill_(0.5)
            self.backbone.bias.fill_(0.25)
            self.norm.running_mean.fill_(0.3)
        for p in list(self.backbone.parameters()) + list(self.norm.parameters()):
            p.requires_grad_(False)

    def forward(self, x):
        return self.head(self.norm(self.backbone(x)))


class Padded(nn.Module):
    """An Embedding with a padding row (saved as 7s; PyTorch's initialisation zeroes it) over
    token ids made from the features."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(10, 4, padding_idx=0)
        self.head = nn.Linear(4, 5)
        with torch.no_grad():
            self.embedding.weight[0].fill_(7.0)

    def forward(self, x):
        return self.head(self.embedding(x.abs().long().clamp(0, 9)).mean(1))


class Tied(nn.Module):
    """Two layers sharing one weight, as a language model's embedding and output layer."""

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(20, 20, bias=False)
        self.second = nn.Linear(20, 20, bias=False)
        self.second.weight = self.first.weight
        self.out = nn.Linear(20, 5)

    def forward(self, x):
        return self.out(self.second(torch.relu(self.first(x))))


class NarrowInTraining(nn.Module):
    """Right for the probe (evaluation mode), three logits of five while training."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(20, 5)

    def forward(self, x):
        y = self.linear(x)
        if self.training:
            return y[:, :3]
        return y


class NanInEvaluation(nn.Module):
    """Trains well, answers NaN in evaluation mode for more than the probe's two rows."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(20, 5)

    def forward(self, x):
        y = self.linear(x)
        if not self.training and x.size(0) > 2:
            return y * float("nan")
        return y


class RaisesInTraining(nn.Module):
    """Passes the probe (evaluation mode), raises at its first training step."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(20, 5)

    def forward(self, x):
        if self.training:
            raise RuntimeError("this model fails in training mode")
        return self.linear(x)


class HalfLogits(nn.Module):
    """Answers float16 logits, as a model converted with .half() at its end does."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(20, 5)

    def forward(self, x):
        return self.linear(x).half()


class Normalised(nn.Module):
    """Scales its input as (x - 0.5) * 2, in place (as a forward written for a DataLoader's fresh
    batches may) or not; counts its calls in a buffer."""

    def __init__(self, in_place: bool):
        super().__init__()
        self.in_place = in_place
        self.body = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        self.calls.add_(1)
        if self.in_place:
            x.sub_(0.5).mul_(2.0)
        else:
            x = (x - 0.5) * 2.0
        return self.body(x)


class Relu(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(20, 5)

    def forward(self, x):
        return torch.relu(self.linear(x))


class RaisesOnLoad(nn.Module):
    """Its __setstate__, which torch.jit.load runs, throws."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(20, 5))

    def forward(self, x):
        return x @ self.w

    @torch.jit.export
    def __getstate__(self) -> Tuple[torch.Tensor, bool]:
        return (self.w, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[torch.Tensor, bool]) -> None:
        raise RuntimeError("this module refuses to be restored")


def saved_records(path, tensors):
    """torch.save of `tensors` to `path`, and the records it wrote: (name, bytes) in order."""
    torch.save(tensors, path)
    with zipfile.ZipFile(path) as z:
        return [(info.filename, z.read(info.filename)) for info in z.infolist()]


def inflating(path, tensors):
    """torch.save of `tensors`, rewritten with one more record deflated from 80 MiB of zeros to
    a few kilobytes: a "zip bomb" that LibTorch would inflate in full."""
    entries = saved_records(path, tensors)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            z.writestr(name, data)
        z.writestr(entries[0][0].split("/")[0] + "/padding", bytes(80 << 20),
                   compress_type=zipfile.ZIP_DEFLATED)


def deflated(path, tensors):
    """torch.save of `tensors` with every record deflated (as zipfile.ZIP_DEFLATED rewrites it):
    a file far smaller than the tensors it holds."""
    entries = saved_records(path, tensors)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)


def lying_storage(path, tensors):
    """torch.save of `tensors`, then train_x's storage made to claim 10^8 values: a crafted file
    whose storage is larger than the record behind it."""
    torch.save(tensors, path)
    with zipfile.ZipFile(path) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    numel = tensors["train_x"].numel()
    assert numel < 65536
    # The storage tuple's last item, its numel: 'cpu', a memo, then BININT2 (M) with the count.
    claim = re.compile(rb"(cpuq.)M" + re.escape(numel.to_bytes(2, "little")), re.DOTALL)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for info, data in entries:
            if info.filename.endswith("data.pkl"):
                data, found = claim.subn(lambda m: m.group(1) + b"J" + (10**8).to_bytes(4, "little"),
                                         data, count=1)
                assert found == 1, "the storage tuple was not found"
            z.writestr(info.filename, data)


def short_record(source, path, padding=0):
    """A copy of the archive `source` with its first storage record (data/0) cut to 4 bytes,
    the directory rebuilt to match, and a `padding` record of that many zero bytes besides: a
    crafted file whose pickle claims more of a storage than its record holds, and which is as
    large as the claim."""
    with zipfile.ZipFile(source) as z:
        entries = [(info.filename, z.read(info.filename)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            z.writestr(name, data[:4] if name.endswith("/data/0") else data)
        if padding:
            z.writestr(entries[0][0].split("/")[0] + "/padding", bytes(padding))


def with_op_from_a_newer_torch(path):
    """A scripted model whose code calls an op this LibTorch lacks, as one scripted by a newer
    PyTorch can."""
    torch.jit.script(Relu()).save(path)
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        for info, data in members:
            if info.filename.endswith("code/__torch__.py"):
                data = data.replace(b"torch.relu(", b"torch.relu_from_a_newer_torch(")
            out.writestr(info, data)


def multi_label(sizes, features, labels, seed):
    """Gaussian samples, each label present where its own linear rule is positive: a sample
    carries any number of labels (none, one or several)."""
    g = torch.Generator().manual_seed(seed)
    rules = torch.randn(features, labels, generator=g)
    splits = []
    for n in sizes:
        x = torch.randn(n, features, generator=g)
        splits += [x, (x @ rules > 0.5).float()]
    return splits


def save_multi_label_files(out):
    """A multi-label task of 5 labels, the same as bool targets, with unknown (-1) targets, and
    broken variants."""
    x, y, tx, ty = multi_label([1200, 400], 20, 5, seed=2)
    good = {"train_x": x, "train_y": y, "test_x": tx, "test_y": ty}
    torch.save(good, f"{out}/multi_label.pt")
    torch.save(dict(good, train_y=y.bool(), test_y=ty.bool()), f"{out}/multi_label_bool.pt")
    unknown = y.clone()
    unknown[torch.arange(0, 1200, 7), torch.arange(0, 1200, 7) % 5] = -1
    torch.save(dict(good, train_y=unknown), f"{out}/multi_label_unknown.pt")
    wrong = y.clone()
    wrong[10, 3] = 2
    torch.save(dict(good, train_y=wrong), f"{out}/multi_label_two.pt")
    # 64 rows of which only the first 4 carry targets: with batches of one, most are ignored.
    sparse = y[:64].clone()
    sparse[4:] = -1
    torch.save({"train_x": x[:64], "train_y": sparse, "test_x": tx[:16], "test_y": ty[:16]},
               f"{out}/multi_label_sparse.pt")
    huge = y.double()
    huge[10, 3] = -1e300
    torch.save(dict(good, train_y=huge), f"{out}/multi_label_float32_overflow.pt")
    torch.save(dict(good, test_y=ty[:, :4]), f"{out}/multi_label_four_test_labels.pt")
    torch.save(dict(good, test_y=ty.argmax(1)), f"{out}/multi_label_class_test.pt")
    torch.save(dict(good, train_y=y[:, :0]), f"{out}/multi_label_no_labels.pt")
    # One class per sample saved one-hot, a softmax task's common mistake.
    one_hot = torch.nn.functional.one_hot(torch.arange(1200) % 5, 5).float()
    torch.save(dict(good, train_y=one_hot), f"{out}/multi_label_one_hot.pt")
    torch.save(dict(good, train_y=y[:-1]), f"{out}/multi_label_short.pt")
    torch.save(dict(good, train_y=torch.full_like(y, -1)), f"{out}/multi_label_all_unknown.pt")
    classes = torch.randint(0, 3, (1200, 1))  # class indices saved as a column by mistake
    torch.save(dict(good, train_y=classes, test_y=classes[:400]), f"{out}/multi_label_column.pt")
    torch.save(dict(good, train_y=y.unsqueeze(2), test_y=ty.unsqueeze(2)),
               f"{out}/multi_label_three_dims.pt")


def save_as_from_gpu(tensors, path):
    """torch.save as a GPU machine writes it (every storage tagged "cuda:0"), made on a machine
    without one."""
    tag = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(tensors, path)
    finally:
        torch.serialization.location_tag = tag


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    # The built-in MLP's twin: Flatten, Linear(20, 32), ReLU, Linear(32, 5), parameters named as
    # the native model's ("1.weight", ...).
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
    torch.jit.script(mlp).save(f"{out}/mlp.pt")
    torch.jit.trace(mlp, torch.randn(2, 20)).save(f"{out}/traced_mlp.pt")
    torch.jit.script(Scaled()).save(f"{out}/scaled.pt")
    torch.jit.script(Normalised(in_place=True)).save(f"{out}/normalised_in_place.pt")
    torch.jit.script(Normalised(in_place=False)).save(f"{out}/normalised.pt")
    torch.jit.script(BnCnn()).save(f"{out}/bn_cnn.pt")
    torch.jit.script(nn.Sequential(nn.Linear(20, 7))).save(f"{out}/seven_classes.pt")
    torch.jit.script(nn.Sequential(nn.Linear(3, 5))).save(f"{out}/wrong_input.pt")
    torch.jit.script(nn.Sequential(nn.Linear(20, 5)).double()).save(f"{out}/float64_mlp.pt")
    torch.jit.script(Pair()).save(f"{out}/pair.pt")
    torch.jit.script(Frozen()).save(f"{out}/frozen.pt")
    torch.jit.script(FrozenBackbone()).save(f"{out}/frozen_backbone.pt")
    torch.jit.script(Padded()).save(f"{out}/padded.pt")
    torch.jit.script(nn.Sequential(nn.Linear(20, 16), nn.BatchNorm1d(16), nn.ReLU(),
                                   nn.Linear(16, 5))).save(f"{out}/bn_mlp.pt")
    torch.jit.script(Tied()).save(f"{out}/tied.pt")
    torch.jit.script(NarrowInTraining()).save(f"{out}/narrow_in_training.pt")
    torch.jit.script(NanInEvaluation()).save(f"{out}/nan_in_evaluation.pt")
    torch.jit.script(HalfLogits()).save(f"{out}/half_logits.pt")
    infinite = nn.Sequential(nn.Linear(20, 5))
    with torch.no_grad():
        infinite[0].weight[0, 0] = float("inf")  # its logits are not finite before any update
    torch.jit.script(infinite).save(f"{out}/infinite_weight.pt")
    with_op_from_a_newer_torch(f"{out}/newer_op.pt")
    torch.jit.script(RaisesInTraining()).save(f"{out}/raises_in_training.pt")
    torch.jit.script(RaisesOnLoad()).save(f"{out}/raises_on_load.pt")
    with open(f"{out}/not_torchscript.pt", "w") as f:
        f.write("this is not a TorchScript file\n")

    x, y, tx, ty = gaussian_classes([1200, 400], 20, 5, seed=1)
    good = {"train_x": x, "train_y": y, "test_x": tx, "test_y": ty}
    torch.save(good, f"{out}/vectors.pt")
    torch.save(dict(good, train_x=x[:600], train_y=y[:600]), f"{out}/vectors_half.pt")
    images = torch.randint(0, 256, (300, 1, 8, 8), dtype=torch.uint8)
    labels = torch.randint(0, 3, (300,))
    torch.save({"train_x": images[:200], "train_y": labels[:200], "val_x": images[200:250],
                "val_y": labels[200:250], "test_x": images[250:], "test_y": labels[250:]},
               f"{out}/images.pt")
    save_as_from_gpu(good, f"{out}/from_gpu.pt")
    torch.save([x, y], f"{out}/list.pt")
    torch.save(dict(good, extra=x), f"{out}/extra_key.pt")
    torch.save({"train_x": x}, f"{out}/one_key.pt")  # pickled with SETITEM, not SETITEMS
    torch.save(dict(good, train_x=x.to(torch.int32)), f"{out}/int_samples.pt")
    torch.save(dict(good, train_y=y.float()), f"{out}/float_labels.pt")
    torch.save(dict(good, train_y=y[:-1]), f"{out}/short_labels.pt")
    torch.save(dict(good, test_y=ty.clone().fill_(9)), f"{out}/unknown_class.pt")
    torch.save(dict(good, test_x=tx[:, :10], test_y=ty), f"{out}/other_shape.pt")
    nan = x.clone()
    nan[3, 4] = float("nan")
    torch.save(dict(good, train_x=nan), f"{out}/nan.pt")
    huge = x.double()
    huge[3, 4] = 1e300  # finite in float64, infinite as the float32 the worker trains in
    torch.save(dict(good, train_x=huge), f"{out}/float32_overflow.pt")
    torch.save(good, f"{out}/legacy.pt", _use_new_zipfile_serialization=False)
    # numpy arrays saved by torch.save, a common slip (probe DH).
    torch.save({k: v.numpy() for k, v in good.items()}, f"{out}/numpy_arrays.pt")
    torch.save(dict(good, train_x=x.clone().requires_grad_()), f"{out}/requires_grad.pt")
    torch.save({k: v for k, v in good.items() if k != "test_y"}, f"{out}/no_test_y.pt")
    torch.save(dict(good, train_x=x.reshape(1200, 20, 1, 1, 1)), f"{out}/five_dims.pt")
    torch.save(dict(good, train_y=torch.zeros_like(y)), f"{out}/one_class.pt")
    torch.save({"train_x": 1, "train_y": y, "test_x": tx, "test_y": ty}, f"{out}/not_tensor.pt")
    torch.save(dict(good, train_x=torch.zeros(1, 20).expand(1200, 20)), f"{out}/expanded.pt")
    torch.save(dict(good, train_x=torch.zeros(1200, 0)), f"{out}/zero_width.pt")
    small = {"train_x": x[:100].clone(), "train_y": y[:100].clone(), "test_x": tx, "test_y": ty}
    lying_storage(f"{out}/lying_storage.pt", small)
    inflating(f"{out}/inflating.pt", small)
    zeros = torch.zeros(50000, 20)  # 4 MB that deflate to a few kilobytes
    deflated(f"{out}/deflated.pt", dict(small, train_x=zeros, train_y=torch.arange(50000) % 5))
    short_record(f"{out}/vectors.pt", f"{out}/short_record.pt", padding=200000)
    torch.jit.script(nn.Sequential(nn.Linear(20, 5))).save(f"{out}/linear.pt")
    short_record(f"{out}/linear.pt", f"{out}/short_record_model.pt")
    huge = torch.zeros(1).expand(64, 2**28, 2**28)  # 2^62 elements of one stored value
    torch.save(dict(good, train_x=huge, test_x=huge), f"{out}/huge_view.pt")
    save_multi_label_files(out)


if __name__ == "__main__":
    main()

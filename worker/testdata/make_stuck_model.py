"""Writes a TorchScript module whose forward never returns: a model stuck in its own code, where
nothing looks at a cancel. Usage: make_stuck_model.py OUT.pt"""
import sys

import torch


class Stuck(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x):
        y = self.linear(x)
        # Never ends: the condition is computed from the data, so the compiler cannot fold it.
        while bool((y == y).any()):
            y = y + 1.0
        return y


if __name__ == "__main__":
    torch.jit.script(Stuck()).save(sys.argv[1])

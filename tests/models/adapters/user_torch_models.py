"""A user's own torch module, registered with dchub so a TorchModel wrapping it can be saved and loaded."""
from __future__ import annotations

import torch

import dchub_client


@dchub_client.register_class
class TwoLayerNet(torch.nn.Module):
    """A tiny MLP with a BatchNorm (its running statistics are weights too)."""

    def __init__(self, n_features: int, hidden: int = 16, activation: str = "relu") -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(n_features, hidden), torch.nn.BatchNorm1d(hidden))
        self.head = torch.nn.Linear(hidden, 1)
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.activation = getattr(torch, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.activation(self.body(x))) * self.scale

"""User classes for the torch adapter review tests, registered so their folders may be loaded."""
from __future__ import annotations

from typing import Any

import deepchem as dc
import torch

import dchub_client


@dchub_client.register_class
class VarargsTorchModel(dc.models.TorchModel):
    """A TorchModel subclass that forwards everything: its module and loss are recorded as ``*args``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)


@dchub_client.register_class
class SmallNet(torch.nn.Module):
    """One linear layer."""

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(n_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


@dchub_client.register_class
class RootNamedChild(torch.nn.Module):
    """Its own ``scale`` and its child ``root``'s weight would both be called ``<model>-root-0``."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.root = torch.nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.root(x) * self.scale

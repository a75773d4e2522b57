"""The autoencoder: an MLP encoder to a bottleneck and a mirrored decoder."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["Autoencoder", "ACTIVATIONS"]

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "elu": nn.ELU, "tanh": nn.Tanh}


def _block(n_in: int, n_out: int, activation: str, batch_norm: bool, dropout: float) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Linear(n_in, n_out)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(n_out))
    layers.append(ACTIVATIONS[activation]())
    if dropout:
        layers.append(nn.Dropout(dropout))
    return layers


class Autoencoder(nn.Module):
    def __init__(self, input_dim: int, hidden_dims: Sequence[int], latent_dim: int, *, activation: str = "relu",
                 batch_norm: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        enc: list[nn.Module] = []
        widths = [input_dim, *hidden_dims]
        for a, b in zip(widths, widths[1:]):
            enc += _block(a, b, activation, batch_norm, dropout)
        enc.append(nn.Linear(widths[-1], latent_dim))
        dec: list[nn.Module] = []
        back = [latent_dim, *reversed(hidden_dims)]
        for a, b in zip(back, back[1:]):
            dec += _block(a, b, activation, batch_norm, dropout)
        dec.append(nn.Linear(back[-1], input_dim))
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    @torch.no_grad()
    def errors(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample mean squared reconstruction error (the anomaly score)."""
        return ((self(x) - x) ** 2).mean(dim=1)

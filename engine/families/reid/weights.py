"""Where a reid model's starting weights may come from, under the project's trust rules.

* a file the user names (``weights``): only from the operator's models folder
  (``engine.trust.user_weights``), loaded with ``torch.load(weights_only=True)``; a torchreid
  checkpoint (``{"state_dict": ...}``) or a bare state dict;
* an earlier reid model version (``init_version``, transfer learning): the worker resolves
  it to the version's artifact (``ctx.init_weights``, a ``VerifiedFile``) and it loads only while
  it still has the sha256 recorded at registration (``engine.checkpoints.load_verified``).

Layers load when name and shape match (torchreid's ``load_pretrained_weights`` rule), so a
classifier sized for other identities is left new.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch

from engine.checkpoints import load_verified
from engine.core import VerifiedFile
from engine.trust import user_weights

__all__ = ["ARTIFACT_KIND", "load_matching", "user_state", "transfer_state"]

ARTIFACT_KIND = "trainyard-reid-model"


def _plain(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def load_matching(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    """Copy the tensors of ``state`` whose name and shape match ``model``'s; return the names
    loaded and the names skipped."""
    own = model.state_dict()
    loaded = {k: v for k, v in _plain(state).items() if k in own and own[k].shape == v.shape}
    own.update(loaded)
    model.load_state_dict(own)
    return sorted(loaded), sorted(set(own) - set(loaded))


def user_state(name: str) -> dict[str, torch.Tensor]:
    path = user_weights(name, what="reid weights")
    raw = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(raw, Mapping) and isinstance(raw.get("state_dict"), Mapping):
        raw = raw["state_dict"]
    if not isinstance(raw, Mapping):
        raise ValueError(f"reid weights {name!r} hold no state dict")
    return _plain(raw)


def transfer_state(init: VerifiedFile) -> tuple[dict[str, torch.Tensor], dict]:
    """The weights and config of the earlier reid model version the worker handed in
    (``ctx.init_weights``), its digest checked again as it loads."""
    if init.meta.get("family", "reid") != "reid":
        raise ValueError(f"{init.what} is a {init.meta['family']} model, not a reid one")
    state = load_verified(init.path, init.sha256, what=f"{init.what} artifact")
    if state.get("kind") != ARTIFACT_KIND:
        raise ValueError(f"{init.what}'s artifact is not a reid model")
    return _plain(state["model"]), dict(state["config"])

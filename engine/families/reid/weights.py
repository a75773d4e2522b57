"""Where a reid model's starting weights may come from, under the project's trust rules.

* a file the user names (``weights``): only from the operator's models folder
  (``engine.trust.user_weights``), loaded with ``torch.load(weights_only=True)``; a torchreid
  checkpoint (``{"state_dict": ...}``) or a bare state dict;
* an earlier reid model version (``init_model_version``, transfer learning): only while its
  artifact still has the sha256 recorded at registration (``engine.trust.verify_recorded``).

Layers load when name and shape match (torchreid's ``load_pretrained_weights`` rule), so a
classifier sized for other identities is left new.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch

from engine.checkpoints import load_checkpoint
from engine.trust import user_weights, verify_recorded

__all__ = ["ARTIFACT_KIND", "load_matching", "user_state", "model_version_state"]

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


def model_version_state(model_version_id: int) -> tuple[dict[str, torch.Tensor], dict]:
    """The weights and config of an earlier reid model version, verified against its record."""
    from db.models import ModelVersion
    from db.session import session_scope

    with session_scope() as s:
        mv = s.get(ModelVersion, model_version_id)
        if mv is None:
            raise LookupError(f"no model version with id {model_version_id}")
        if mv.family != "reid":
            raise ValueError(f"model version {model_version_id} is a {mv.family} model, not a reid one")
        path = verify_recorded(mv.artifact_path, mv.sha256, what=f"model version {mv.id} artifact")
    state = load_checkpoint(path)
    if state.get("kind") != ARTIFACT_KIND:
        raise ValueError(f"model version {model_version_id}'s artifact is not a reid model")
    return _plain(state["model"]), dict(state["config"])

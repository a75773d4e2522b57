"""Market-1501 evaluation with torchreid's own metrics: features of query and gallery, the
distance matrix (``torchreid.metrics.compute_distance_matrix``) and CMC + mAP
(``torchreid.metrics.evaluate_rank``, which drops same-identity same-camera gallery images and
junk as the protocol asks)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from engine.families.reid.library import quiet, torchreid

__all__ = ["RANKS", "Features", "extract", "distances", "evaluate"]

RANKS = (1, 5, 10, 20)


@dataclass
class Features:
    features: torch.Tensor  # (n, d) on the CPU
    pids: np.ndarray
    camids: np.ndarray


@torch.no_grad()
def extract(model: torch.nn.Module, loader, device: str, should_stop: Callable[[], bool] | None = None) -> Features:
    """Features of every image in ``loader`` (model in eval mode: OSNet returns its embedding)."""
    model.eval()
    feats, pids, camids = [], [], []
    for batch in loader:
        feats.append(model(batch["img"].to(device)).float().cpu())
        pids.extend(batch["pid"].tolist())
        camids.extend(batch["camid"].tolist())
        if should_stop is not None and should_stop():
            break
    return Features(torch.cat(feats), np.asarray(pids), np.asarray(camids))


def distances(query: torch.Tensor, gallery: torch.Tensor, *, metric: str = "euclidean",
              normalize: bool = False) -> np.ndarray:
    if normalize:
        query, gallery = F.normalize(query, p=2, dim=1), F.normalize(gallery, p=2, dim=1)
    return torchreid().metrics.compute_distance_matrix(query, gallery, metric).numpy()


def evaluate(query: Features, gallery: Features, *, metric: str = "euclidean",
             normalize: bool = False) -> dict[str, float]:
    """``rank1``, ``rank5``, ``rank10``, ``rank20`` (CMC, as fractions) and ``mAP``."""
    distmat = distances(query.features, gallery.features, metric=metric, normalize=normalize)
    with quiet():
        cmc, mAP = torchreid().metrics.evaluate_rank(distmat, query.pids, gallery.pids, query.camids, gallery.camids,
                                                     max_rank=max(RANKS))
    out = {f"rank{r}": float(cmc[min(r, len(cmc)) - 1]) for r in RANKS}
    out["mAP"] = float(mAP)
    return out

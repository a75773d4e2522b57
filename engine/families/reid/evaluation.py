"""Market-1501 evaluation with torchreid's own metrics: features of query and gallery, the
distance matrix (``torchreid.metrics.compute_distance_matrix``, optionally k-reciprocal
re-ranked with ``torchreid.utils.re_ranking``) and CMC + mAP (``torchreid.metrics.evaluate_rank``,
which drops same-identity same-camera gallery images and junk as the protocol asks; CUHK03's
single-gallery-shot CMC with ``use_metric_cuhk03``). ``save_ranked_lists`` draws the top-k of a
few queries with torchreid's ``visualize_ranked_results`` (its ``visrank``)."""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from engine.families.reid.library import quiet, torchreid

__all__ = ["RANKS", "Features", "extract", "distances", "evaluate", "save_ranked_lists"]

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
              normalize: bool = False, rerank: bool = False) -> np.ndarray:
    """The (num_query, num_gallery) distance matrix; ``rerank``: k-reciprocal re-ranking (Zhong et
    al., CVPR'17) as torchreid's engine applies it, from the query-query and gallery-gallery
    distances too."""
    if normalize:
        query, gallery = F.normalize(query, p=2, dim=1), F.normalize(gallery, p=2, dim=1)
    tr = torchreid()
    distmat = tr.metrics.compute_distance_matrix(query, gallery, metric).numpy()
    if rerank:
        qq = tr.metrics.compute_distance_matrix(query, query, metric).numpy()
        gg = tr.metrics.compute_distance_matrix(gallery, gallery, metric).numpy()
        distmat = tr.utils.re_ranking(distmat, qq, gg)
    return distmat


def evaluate(query: Features, gallery: Features, *, metric: str = "euclidean", normalize: bool = False,
             rerank: bool = False, use_metric_cuhk03: bool = False, distmat: np.ndarray | None = None) -> dict[str, float]:
    """``rank1``, ``rank5``, ``rank10``, ``rank20`` (CMC, as fractions) and ``mAP``; ``distmat``
    saves computing the distances again when the caller has them (``distances``)."""
    if distmat is None:
        distmat = distances(query.features, gallery.features, metric=metric, normalize=normalize, rerank=rerank)
    with quiet():
        cmc, mAP = torchreid().metrics.evaluate_rank(distmat, query.pids, gallery.pids, query.camids, gallery.camids,
                                                     max_rank=max(RANKS), use_metric_cuhk03=use_metric_cuhk03)
    out = {f"rank{r}": float(cmc[min(r, len(cmc)) - 1]) for r in RANKS}
    out["mAP"] = float(mAP)
    return out


def save_ranked_lists(distmat: np.ndarray, query: Sequence[tuple], gallery: Sequence[tuple], root: Path,
                      out_dir: Path, *, topk: int = 10, queries: int = 20, width: int = 128,
                      height: int = 256) -> list[Path]:
    """One image per query (the first ``queries`` by path): the query, then its ``topk`` ranked
    gallery images framed green (same identity) or red, as torchreid's ``visrank`` draws them.

    ``query``/``gallery`` are torchreid's ``(path relative to root, pid, camid, dsetid)`` items in
    ``distmat``'s order. torchreid reads images with OpenCV from paths; it is handed copies of
    only the images it draws, each decoded through ``engine.safeio`` (confined, pixels capped),
    so no dataset file is opened by anything else."""
    from engine.safeio import inside, open_image

    out_dir = Path(out_dir)
    picked = sorted(range(len(query)), key=lambda i: query[i][0])[:queries]
    order = np.argsort(distmat[picked], axis=1)
    wanted: set[int] = set()
    for row, q in zip(order, picked):
        shown = 0
        for g in row:  # torchreid skips same identity + same camera, as the protocol does
            if gallery[g][1] == query[q][1] and gallery[g][2] == query[q][2]:
                continue
            wanted.add(int(g))
            shown += 1
            if shown >= topk:
                break
    staging = Path(tempfile.mkdtemp(prefix="visrank-"))
    try:
        def copy(kind: str, index: int, item: tuple) -> str:
            dst = staging / kind / f"{Path(item[0]).stem}.png"
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                open_image(inside(root, item[0])).save(dst)
            return str(dst)

        q_items = [(copy("query", i, query[i]), *query[i][1:]) for i in picked]
        g_items = [(copy("gallery", i, g), *g[1:]) if i in wanted else (str(staging / "unused.png"), *g[1:])
                   for i, g in enumerate(gallery)]
        out_dir.mkdir(parents=True, exist_ok=True)
        with quiet():
            torchreid().utils.visualize_ranked_results(distmat[picked], (q_items, g_items), "image", width=width,
                                                        height=height, save_dir=str(out_dir), topk=topk)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(out_dir.glob("*.jpg"))

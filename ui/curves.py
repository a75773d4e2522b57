"""A run's curves kept between refreshes: database buckets merged as new metric rows arrive.

The first draw asks the database for the run's metrics grouped into step buckets
(``queries.metric_buckets``); every later refresh of a live run asks only for rows inserted since
the highest metric id seen and merges them in (count, min and max combine exactly). When a curve
outgrows ``max_buckets`` the bucket width doubles and neighbouring buckets merge, so a refresh
costs the same at 1,000 points as at 1,000,000, and a curve never has more than
``2 * max_buckets`` points: each bucket is drawn as its minimum and maximum, so spikes survive.

``snapshot`` keeps the curves of the runs drawn lately in the dashboard process, shared by every
browser session, so a second viewer (or a reload) of a million-point run costs one small query.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from db import queries

# bucket → [count, step_max, value_min, value_max]
PYRAMID_FROM = 200_000  # metric rows from which a run's first draw reads the pyramid, not its rows
Buckets = dict[int, list]


@dataclass
class Series:
    """One metric's curve ready to draw; ``per_epoch`` when its steps are epochs."""
    steps: list[float]
    values: list[float]
    per_epoch: bool
    points: int  # rows behind the curve


@dataclass
class RunCurves:
    run_id: int
    max_buckets: int = queries.CURVE_BUCKETS
    width: int | None = None
    last_id: int = 0
    names: dict[str, Buckets] = field(default_factory=dict)
    latest: dict[str, tuple] = field(default_factory=dict)  # name → (step, epoch, value) of its last row

    def refresh(self, session) -> int:
        """Fetch what is new since the last refresh; return how many bucket rows came back."""
        if not self.last_id and self.width is None and self._from_pyramid(session):
            return sum(len(c) for c in self.names.values())
        width, rows = queries.metric_buckets(session=session, run_id=self.run_id, width=self.width,
                                             after_id=self.last_id, buckets=self.max_buckets)
        self.width = width
        changed = set()
        for name, b, n, s_hi, v_lo, v_hi, id_hi in rows:
            curve = self.names.setdefault(name, {})
            old, new = curve.get(b), [n, s_hi, v_lo, v_hi]
            curve[b] = new if old is None else _merge(old, new)
            self.last_id = max(self.last_id, int(id_hi))
            changed.add(name)
        while any(len(c) > self.max_buckets for c in self.names.values()):
            self._coarsen()
        if changed:
            self.latest.update(queries.last_points(session=session, run_id=self.run_id, names=sorted(changed)))
        return len(rows)

    def _from_pyramid(self, session) -> bool:
        """A long run's first draw from the curve pyramid instead of grouping its rows: the finest
        level whose buckets of ``2^level`` steps, counted from step 0, number ≤ ``max_buckets``
        (those are this class's buckets of that width, so later rows merge into them). Rows after
        the newest metric id at that moment are read by the next refresh."""
        summaries = queries.metric_summaries(session=session, run_ids=[self.run_id])
        if sum(x["count"] for x in summaries) < PYRAMID_FROM:
            return False
        top = max(x["last_step"] for x in summaries)
        level = next((k for k in queries.PYRAMID_LEVELS if (top >> k) < self.max_buckets), queries.PYRAMID_LEVELS[-1])
        self.last_id = queries.newest_metric_id(session=session)  # read with the pyramid, in one snapshot
        points = queries.curve_points(session=session, series=[(self.run_id, x["name"], level) for x in summaries])
        for p in points:
            self.names.setdefault(p["name"], {})[p["step"] >> level] = [p["count"], p["step"], p["min"], p["max"]]
        self.width = 2 ** level
        self.latest.update(queries.last_points(session=session, run_id=self.run_id, names=sorted(self.names)))
        return True

    def latest_values(self) -> dict[str, float]:
        """Each metric's value at its highest step."""
        return {name: point[2] for name, point in sorted(self.latest.items())}

    def _coarsen(self) -> None:
        """Double the bucket width: bucket ``b`` of width ``w`` lies inside bucket ``b // 2`` of ``2w``."""
        self.width = (self.width or 1) * 2
        for name, curve in self.names.items():
            merged: Buckets = {}
            for b in sorted(curve):
                old = merged.get(b // 2)
                merged[b // 2] = curve[b] if old is None else _merge(old, curve[b])
            self.names[name] = merged

    def series(self) -> dict[str, Series]:
        """Every metric's points: a bucket of one row is that row at its step; a larger one is its
        minimum then its maximum at the middle of the bucket's steps."""
        out = {}
        w = self.width or 1
        for name, curve in sorted(self.names.items()):
            xs, ys, total = [], [], 0
            for b in sorted(curve):
                n, s_hi, v_lo, v_hi = curve[b]
                total += n
                x = s_hi if n == 1 else (b * w + min(s_hi, b * w + w - 1)) / 2
                if n == 1 or v_lo == v_hi:
                    xs.append(x)
                    ys.append(v_lo)
                else:
                    xs += [x, x]
                    ys += [v_lo, v_hi]
            step, epoch, _ = self.latest.get(name, (None, None, None))
            out[name] = Series(steps=xs, values=ys, per_epoch=epoch is not None and epoch == step, points=total)
        return out


def _merge(a: list, b: list) -> list:
    return [a[0] + b[0], max(a[1], b[1]), _min(a[2], b[2]), _max(a[3], b[3])]


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


KEPT_RUNS = 16  # runs whose curves the dashboard process keeps
_KEPT: OrderedDict[tuple[int, Any], RunCurves] = OrderedDict()
_LOCK = threading.Lock()


def snapshot(session, run_id: int, attempt: Any = None) -> tuple[dict[str, Series], dict[str, float]]:
    """The run's curves and latest values, refreshed now with what is new. ``attempt`` tells
    attempts of one run apart (a resume replaces the metrics after its checkpoint): a new value
    starts the run's curves afresh. Safe to call from every session's script thread at once."""
    key = (run_id, attempt)
    with _LOCK:
        curves = _KEPT.pop(key, None)
        if curves is None:
            for old in [k for k in _KEPT if k[0] == run_id]:
                del _KEPT[old]
            curves = RunCurves(run_id)
        _KEPT[key] = curves
        while len(_KEPT) > KEPT_RUNS:
            _KEPT.popitem(last=False)
        curves.refresh(session)
        return curves.series(), curves.latest_values()

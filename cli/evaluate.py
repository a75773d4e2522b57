"""``python -m engine evaluate VERSION_ID --dataset NAME [--split test] [--wait]``: evaluate a
registered model version (or, with ``--checkpoint``, a recorded checkpoint) on a split of a
dataset through the worker queue, and print its metrics table.

Without ``--wait`` it queues the evaluation and prints its id; ``--wait`` follows its progress
and prints the metrics when it ends; ``--local`` runs it in this process instead of on a worker
(for a machine without one). A refusal (unknown version or dataset, a dataset of the wrong kind
or task, a split the dataset lacks) exits 2 with the reason, and nothing is queued.
"""
from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_parser", "metrics_table"]


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="evaluate VERSION_ID --dataset NAME: a saved model's metrics on a split",
                       description=__doc__, formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("version_id", type=int, help="model version id (a checkpoint id with --checkpoint)")
    p.add_argument("--dataset", required=True, help="dataset name (or id)")
    p.add_argument("--split", default="test", help="split to evaluate on (default: test)")
    p.add_argument("--checkpoint", action="store_true", help="VERSION_ID is a checkpoint id")
    p.add_argument("--family", default=None, help="refuse unless the model is of this family")
    p.add_argument("--episodes", type=int, default=None, help="ppo: episodes per image (default 1)")
    p.add_argument("--rerank", action=argparse.BooleanOptionalAction, default=None,
                   help="reid: k-reciprocal re-ranking (default: as the model was trained)")
    p.add_argument("--visrank", type=int, default=None, metavar="N",
                   help="reid: save ranked-list images of the first N queries")
    p.add_argument("--priority", default="default", help="queue: high, default or low")
    p.add_argument("--wait", action="store_true", help="follow the job and print its metrics when it ends")
    p.add_argument("--local", action="store_true", help="run it in this process, not on a worker")
    p.add_argument("--json", action="store_true", help="print the finished evaluation as JSON")
    p.set_defaults(run=_evaluate_cmd)


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
    return str(value)


def metrics_table(ev, ranking: str | None = None) -> str:
    """The evaluation's metrics, the family's ranking headline first, then its breakdown tables."""
    names = sorted(ev.metrics, key=lambda k: (k != ranking, k))
    width = max([len(n) for n in names] + [6])
    lines = [f"evaluation {ev.id}: {ev.family} "
             + (f"model version {ev.model_version_id}" if ev.model_version_id else f"checkpoint {ev.checkpoint_id}")
             + f" on dataset {ev.dataset_id} / {ev.split} · {ev.status}"
             + (f" in {ev.duration_s:.1f} s" if ev.duration_s is not None else ""),
             f"{'metric':<{width}}  value"]
    lines += [f"{n:<{width}}  {_fmt(ev.metrics[n])}" + ("   ← ranks" if n == ranking else "") for n in names]
    for name, rows in (ev.tables or {}).items():
        if not rows:
            continue
        cols = list(rows[0])
        lines.append(f"\n{name}:")
        lines.append("  ".join(f"{c:>12}" for c in cols))
        lines += ["  ".join(f"{_fmt(r.get(c)):>12}" for c in cols) for r in rows]
    for a in ev.artifacts or []:
        lines.append(f"file: {a['path']} ({a['size']} bytes, sha256 {a['sha256'][:12]})")
    if ev.error:
        lines.append(f"error: {ev.error}")
    return "\n".join(lines)


def _evaluate_cmd(args) -> int:
    from engine.core import EvaluationRefused
    from engine.families import FAMILIES
    from jobs import api
    from jobs.connection import QueueUnavailable

    options = {"episodes": args.episodes} if args.episodes is not None else {}
    if args.rerank is not None:
        options["rerank"] = int(args.rerank)
    if args.visrank is not None:
        options["visrank"] = args.visrank
    ids = {"checkpoint_id": args.version_id} if args.checkpoint else {"model_version_id": args.version_id}
    try:
        if args.local:
            ev = _run_here(dataset=args.dataset, split=args.split, family=args.family, options=options, **ids)
        else:
            ev = api.submit_evaluation(dataset=args.dataset, split=args.split, family=args.family, options=options,
                                       priority=args.priority, **ids)
    except (LookupError, EvaluationRefused, ValueError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except QueueUnavailable as exc:
        print(f"error: {exc} (or run it here with --local)", file=sys.stderr)
        return 2
    if not args.local and not args.wait:
        print(f"evaluation {ev.id} queued (job {ev.job_id}); follow it with --wait, or on the Models page")
        return 0
    if not args.local:
        if not _worker_listens(args.priority):
            print(f"evaluation {ev.id} queued, but no worker listens on the {args.priority!r} queue: start one "
                  "with `python -m jobs.worker` (`make run` starts one), or use --local", file=sys.stderr)
            return 3
        last = [None]

        def show(row) -> None:
            state = (row.status, row.phase, row.progress_done)
            if state != last[0] and row.status in ("pending", "running"):
                total = f"/{row.progress_total}" if row.progress_total else ""
                print(f"  {row.status} {row.phase or ''} {row.progress_done}{total}", file=sys.stderr)
                last[0] = state

        ev = api.wait_for_evaluation(ev.id, on_progress=show)
    ranking = FAMILIES[ev.family].ranking(ev.task, ev.split)
    if args.json:
        print(json.dumps(ev.model_dump(mode="json"), indent=2, default=str))
    else:
        print(metrics_table(ev, ranking.name if ranking else None))
    return 0 if ev.status == "completed" else 1


def _worker_listens(priority: str) -> bool:
    from jobs import queues

    return any(priority in w.queue_names() for w in queues.all_workers())


def _run_here(**kwargs):
    """The same checks and row, the job run in this process."""
    from db import queries
    from db.session import session_scope
    from jobs.evaluate import evaluate_job, plan_evaluation

    plan = plan_evaluation(**kwargs)
    with session_scope() as s:
        ev = queries.create_evaluation(session=s, family=plan.family, task=plan.task, dataset_id=plan.dataset_id,
                                       split=plan.split, model_version_id=plan.model_version_id,
                                       checkpoint_id=plan.checkpoint_id, run_id=plan.run_id, options=plan.options)
    evaluate_job(ev.id)
    with session_scope() as s:
        return queries.get_evaluation(session=s, evaluation_id=ev.id)

"""``train FAMILY``: plan a launch (``jobs.api.plan_launch``) and train its runs in this process,
against the database, without the queue (each is a normal Run row, so the dashboard shows it).

The same for every family: ``--dataset``, ``--config FILE.yaml``, ``--set key=value`` (values are
YAML, read by the one safe loader), ``--name`` and ``--override``. A config that expands to several
runs (anomaly ``age_groups``) trains them one after another and ends with a summary table. A run
the data sufficiency gate refuses is skipped with its reasons (``--override`` trains it anyway);
when the gate refuses every run, nothing trains and the exit status is 2.

A family adds options in the ``cli`` module of its package (``engine/families/<key>/cli.py``),
which imports neither ``db`` nor ``jobs``:

``cli_arguments(parser)``
    declares the extra options;
``cli_config(args, data) -> dict``
    folds them into the config data (before the family's ``expand``);
``skip_trained(args) -> bool`` (optional)
    True: a run whose label (its model scope, e.g. an age group) already has an active model
    trained on this dataset is skipped.
``prepare_only(args) -> bool`` and ``prepare(config, dataset, *, stores, device, progress)`` (optional)
    True: instead of training, ``prepare`` runs for each planned run (anomaly's
    ``--skip-training``: embeddings only) and its figures are printed.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path
from types import ModuleType

from cli import dataset_named

__all__ = ["add_parser", "family_cli"]


def family_cli(family) -> ModuleType | None:
    """The family's CLI hooks: the ``cli`` module beside its config module, or None."""
    package = family.config_path.partition(":")[0].rpartition(".")[0]
    if not package:
        return None
    name = f"{package}.cli"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def _config_keys(family) -> str:
    """``--help`` epilog: every config key with its default and meaning (``configs/<key>.yaml``)."""
    lines = [f"config keys (defaults: configs/{family.key}.yaml):"]
    for name, field in family.config_model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        lines.append(f"  {name} (default {default!r}): {field.description or ''}".rstrip(": "))
    return "\n".join(lines)


def add_parser(sub) -> None:
    from engine.families import FAMILIES

    train = sub.add_parser("train", help="train one family in this process (train FAMILY --help: its options)",
                           description="Train in this process, against the database, without the queue. "
                                       "`train FAMILY --help` lists the family's options and config keys.")
    families = train.add_subparsers(dest="family", required=True, metavar="FAMILY")
    for key, family in FAMILIES.items():
        p = families.add_parser(key, help=family.title, description=family.description, epilog=_config_keys(family),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--dataset", help="dataset name")
        p.add_argument("--config", type=Path, help="YAML file of config overrides")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override one config key (repeatable); the keys are listed below")
        p.add_argument("--name", default="", help="run name (default: the family and what tells the runs apart, "
                                                  "with '(cli)')")
        p.add_argument("--override", action="store_true",
                       help="train even when the data sufficiency gate refuses the launch")
        hooks = family_cli(family)
        if hooks is not None and hasattr(hooks, "cli_arguments"):
            hooks.cli_arguments(p)
        p.set_defaults(run=run)


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _shown(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def run(args: argparse.Namespace) -> int:
    from engine.configs import ConfigError, config_overrides
    from engine.families import FAMILIES
    from jobs.api import plan_launch

    family = FAMILIES[args.family]
    hooks = family_cli(family)
    try:
        data = config_overrides(family, {}, args.config, args.set)
        if hooks is not None and hasattr(hooks, "cli_config"):
            data = hooks.cli_config(args, data)
    except (ConfigError, OSError) as exc:
        return _error(str(exc))
    dataset_id = None
    if args.dataset:
        ds = dataset_named(args.dataset)
        if ds is None or (family.dataset_kind and ds.kind != family.dataset_kind):
            kind = f"{family.dataset_kind} " if family.dataset_kind else ""
            return _error(f"no {kind}dataset named {args.dataset!r}")
        dataset_id = ds.id
    try:
        plan = plan_launch(family, dataset_id=dataset_id, config=data, name=args.name)
    except ConfigError as exc:
        return _error(str(exc))
    tagged = len(plan.runs) > 1 or any(r.label for r in plan.runs)
    if plan.dataset is not None:
        runs = ", ".join(r.label or r.name or family.key for r in plan.runs)
        print(f"dataset {plan.dataset.name!r}: {len(plan.dataset.samples)} samples; {len(plan.runs)} run(s): {runs}")
    if not args.override and all(r.blockers for r in plan.runs):
        print("error: not enough data for this launch (--override trains anyway):", file=sys.stderr)
        for reason in plan.blockers:
            print(f"  - {reason}", file=sys.stderr)
        return 2
    if hooks is not None and hasattr(hooks, "prepare_only") and hooks.prepare_only(args):
        return _prepare(hooks, plan, tagged)
    skip_trained = hooks is not None and hasattr(hooks, "skip_trained") and hooks.skip_trained(args)
    rows, t_all = [], time.monotonic()
    for planned in plan.runs:
        tag = f"[{planned.label or planned.name or family.key}] " if tagged else ""
        skipped = _trained(family.key, planned.label, dataset_id) if skip_trained and planned.label else None
        if skipped:
            print(f"{tag}skipped: {skipped}; --force retrains")
            rows.append((planned, "skipped", 0.0, {}))
            continue
        if planned.blockers and not args.override:
            print(f"{tag}skipped: " + "; ".join(planned.blockers) + " (--override trains it anyway)")
            rows.append((planned, "too few", 0.0, {}))
            continue
        for reason in planned.blockers:
            print(f"warning: {tag}overriding the sufficiency gate: {reason}", file=sys.stderr)
        status, took, summary = _train(family, planned, plan.dataset_id, args.name, tag)
        rows.append((planned, status, took, summary))
    if tagged:
        _summary(family, rows, time.monotonic() - t_all)
    return 1 if any(status not in ("completed", "skipped", "too few") for _, status, _, _ in rows) else 0


def _prepare(hooks, plan, tagged: bool) -> int:
    """Each planned run's preparation only (no Run row, nothing trained)."""
    from engine.devices import resolve_device
    from jobs.inputs import stores_for

    if plan.dataset is None:
        return _error("this needs --dataset")
    for planned in plan.runs:
        tag = f"[{planned.label or planned.name}] " if tagged else ""
        config = planned.config
        device = resolve_device(getattr(config, "device", "auto"))
        t0 = time.monotonic()
        figures = hooks.prepare(config, plan.dataset, stores=stores_for(plan.family), device=device)
        print(f"{tag}prepared in {time.monotonic() - t0:.1f} s: "
              + ", ".join(f"{k} {_shown(v)}" for k, v in figures.items()))
    return 0


def _trained(family: str, scope: str, dataset_id: int | None) -> str | None:
    """Why a run of this scope need not train again: an active model trained on this dataset."""
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        active = queries.active_model(session=s, family=family, scope=scope)
        prior = queries.get_run(session=s, run_id=active.run_id) if active else None
    if prior is None or prior.dataset_id != dataset_id:
        return None
    return f"already trained (model #{active.id}, run #{prior.id})"


def _train(family, planned, dataset_id: int | None, name: str, tag: str) -> tuple[str, float, dict]:
    """Create the run row and execute it here; print its status, headlines and summary."""
    from db import queries
    from db.session import session_scope
    from jobs.tasks import execute_run

    data = planned.config.model_dump(mode="json")
    with session_scope() as s:
        run = queries.create_run(session=s, family=family.key, config=data, dataset_id=dataset_id,
                                 name=planned.name if name else f"{planned.name or family.key} (cli)",
                                 task=data.get("task"))
    print(f"{tag}run #{run.id}: training…", flush=True)
    t0 = time.monotonic()
    status = execute_run(run.id, capture=False)
    took = time.monotonic() - t0
    with session_scope() as s:
        done = queries.get_run(session=s, run_id=run.id)
    summary = dict(done.summary or {})
    print(f"{tag}{'done' if status == 'completed' else status} in {took:.1f} s")
    print(f"run {run.id}: {status}" + (f" — {done.error}" if done.error else ""))
    heads = [h for h in family.headlines_for(data.get("task")) if h.name in summary]
    for h in heads:
        better = {"min": "  (lower is better)", "max": "  (higher is better)"}.get(h.direction, "")
        print(f"  {h.label or h.name}: {_shown(summary[h.name])}{better}")
    for key, value in sorted(summary.items()):
        print(f"  {key}: {_shown(value)}")
    return status, took, summary


def _summary(family, rows: list, took_all: float) -> None:
    """One line per planned run: its status, time and the family's headline metrics."""
    tasks = {planned.config.model_dump(mode="json").get("task") for planned, *_ in rows}
    heads = [h for h in family.headlines if h.task is None or h.task in tasks]
    widths = [max(len(h.label or h.name), 10) for h in heads]
    width = max([len(planned.label or planned.name or family.key) for planned, *_ in rows] + [3])
    print("\nsummary")
    print(f"  {'run':<{width}} {'status':<10} {'time s':>8}"
          + "".join(f" {h.label or h.name:>{w}}" for h, w in zip(heads, widths)))
    for planned, status, took, summary in rows:
        values = "".join(f" {_shown(summary[h.name]) if h.name in summary else '—':>{w}}"
                         for h, w in zip(heads, widths))
        print(f"  {planned.label or planned.name or family.key:<{width}} {status:<10} {took:>8.1f}{values}")
    trained = sum(1 for _, status, _, _ in rows if status == "completed")
    skipped = sum(1 for _, status, _, _ in rows if status in ("skipped", "too few"))
    print(f"  total: {trained} trained, {skipped} skipped, {len(rows) - trained - skipped} failed; {took_all:.1f} s")

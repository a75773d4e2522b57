"""``python -m engine train anomaly``: train age groups in this process, against the database.

    python -m engine train anomaly --dataset NAME [--age-groups 3-6,6-9,9-12] [--min-samples 10]
                                   [--force] [--override] [--config FILE.yaml] [--set key=value ...]

One run per age group, without the queue (each is a normal Run row, so the dashboard shows it).
Groups with an active model trained on this dataset are skipped unless ``--force``; groups
below ``--min-samples`` normal drawings are skipped with the reason (``--override`` trains
them anyway, as the Launch page's override box does). Without ``--age-groups``
the groups come from the age distribution (as on the Data Sufficiency page).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine train anomaly", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help="name of a drawings dataset")
    p.add_argument("--age-groups", help="comma-separated LO-HI ranges, e.g. 3-6,6-9,9-12 (default: automatic)")
    p.add_argument("--min-samples", type=int, help="fewest normal drawings per group (default: the config's, 10)")
    p.add_argument("--force", action="store_true", help="retrain groups that already have an active model")
    p.add_argument("--override", action="store_true",
                   help="train groups the data sufficiency gate refuses (too few drawings) anyway")
    p.add_argument("--config", type=Path, help="YAML file of config overrides")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one config key")
    return p


def main(argv: list[str]) -> int:
    from db import queries
    from db.session import session_scope
    from engine.configs import ConfigError, config_overrides, default_config, validate_config
    from engine.families import FAMILIES
    from engine.families.anomaly.config import parse_age_groups
    from engine.families.anomaly.sufficiency import RECOMMENDED_SAMPLES, auto_age_groups
    from jobs.tasks import execute_run

    args = _parser().parse_args(argv)
    family = FAMILIES["anomaly"]
    try:
        base = config_overrides(family, default_config(family), args.config, args.set)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.min_samples is not None:
        base["min_samples"] = args.min_samples
    with session_scope() as s:
        ds = queries.get_dataset_by_name(session=s, name=args.dataset)
        if ds is None or ds.kind != "drawings":
            print(f"error: no drawings dataset named {args.dataset!r}", file=sys.stderr)
            return 2
        ages = [smp.group_value for smp in queries.dataset_samples(session=s, dataset_id=ds.id)]
    try:
        groups = parse_age_groups(args.age_groups) if args.age_groups else auto_age_groups(ages, RECOMMENDED_SAMPLES)
        configs = [validate_config(family, {**base, "age_group": g.label}) for g in groups]
    except (ValueError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"dataset {ds.name!r}: {len(ages)} drawings; age groups {', '.join(g.label for g in groups)}")

    rows, failed, t_all = [], 0, time.monotonic()
    for cfg in configs:
        group = cfg.age_group
        with session_scope() as s:
            active = queries.active_model(session=s, family="anomaly", scope=group)
            prior = queries.get_run(session=s, run_id=active.run_id) if active else None
        if prior is not None and prior.dataset_id == ds.id and not args.force:
            print(f"[{group}] skipped: already trained (model #{active.id}, run #{prior.id}); --force retrains")
            rows.append((group, "skipped", 0, 0.0, None, None))
            continue
        from jobs.inputs import dataset_ref

        blockers = family.launch_blockers(dataset_ref(ds.id), cfg)
        if blockers and not args.override:
            print(f"[{group}] skipped: " + "; ".join(blockers) + " (--override trains it anyway)")
            rows.append((group, "too few", 0, 0.0, None, None))
            continue
        for reason in blockers:
            print(f"[{group}] overriding the sufficiency gate: {reason}")
        with session_scope() as s:
            run = queries.create_run(session=s, family="anomaly", config=cfg.model_dump(mode="json"),
                                     dataset_id=ds.id, name=f"anomaly {group} (cli)")
        print(f"[{group}] run #{run.id}: training…", flush=True)
        t0 = time.monotonic()
        status = execute_run(run.id, capture=False)
        took = time.monotonic() - t0
        with session_scope() as s:
            done = queries.get_run(session=s, run_id=run.id)
        m = done.summary or {}
        n = int(m.get("data/train", 0) + m.get("data/val", 0) + m.get("data/test", 0))
        if status != "completed":
            failed += 1
            print(f"[{group}] {status}: {done.error or ''}")
        else:
            auroc = f", AUROC {m['val/auroc']:.3f}" if "val/auroc" in m else ""
            print(f"[{group}] done in {took:.1f} s: {n} normal drawings, threshold {m.get('threshold', float('nan')):.5g}, "
                  f"final val loss {m.get('val/loss', float('nan')):.5g}{auroc}")
        rows.append((group, status, n, took, m.get("threshold"), m.get("val/loss")))

    print("\nsummary")
    print(f"  {'group':<8} {'status':<10} {'samples':>7} {'time s':>8} {'threshold':>10} {'val loss':>10}")
    for group, status, n, took, thr, vl in rows:
        fmt = (lambda v: f"{v:>10.5g}" if v is not None else f"{'—':>10}")
        print(f"  {group:<8} {status:<10} {n:>7} {took:>8.1f} {fmt(thr)} {fmt(vl)}")
    trained = sum(1 for r in rows if r[1] == "completed")
    print(f"  total: {trained} trained, {sum(1 for r in rows if r[1] in ('skipped', 'too few'))} skipped, "
          f"{failed} failed; {sum(r[2] for r in rows)} drawings; {time.monotonic() - t_all:.1f} s")
    return 1 if failed else 0

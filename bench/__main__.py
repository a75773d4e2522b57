"""``python -m bench [--full] [NAME ...]``: run the benchmarks (all by default) and print each one's
ratio against its baseline, measured in the same run, and whether it meets its bar.

Quick sizes by default; ``--full`` (or ``BENCH_FULL=1``) uses the issue's sizes (a million metric
points, 10k and 50k drawings, 300 autoencoder epochs). ``BENCH_REPEATS`` sets the repetitions
(default 3; each figure is the minimum). PostgreSQL rows run when the local server answers.
"""
import argparse
import importlib
import logging
import os
import sys

BENCHES = ("metric_writes", "metric_ingest", "progress_curves", "worker_start", "home_page", "drawings_import",
           "autoencoder", "comparison_curves", "ppo_vs_defaults", "many_runs")

parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
parser.add_argument("--full", action="store_true", help="the issue's sizes (minutes, not seconds)")
parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHES)}")
args = parser.parse_args()
unknown = sorted(set(args.names) - set(BENCHES))
if unknown:
    parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
if args.full:
    os.environ["BENCH_FULL"] = "1"
logging.disable(logging.WARNING)
results = []
for name in args.names or BENCHES:
    module = importlib.import_module(f"bench.{name}")
    outcome = module.report()
    results += outcome if isinstance(outcome, list) else []
missed = results.count(False)
print(f"{len(results) - missed} of {len(results)} bars met"
      + (f"; {missed} NOT met (see bench/RESULTS.md)" if missed else ""))
sys.exit(0)

"""``python -m bench``: run every benchmark and print its ratio against its baseline."""
import logging

from bench import comparison_curves, metric_writes, ppo_vs_defaults

logging.disable(logging.INFO)
metric_writes.report()
comparison_curves.report()
ppo_vs_defaults.report()

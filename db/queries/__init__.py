"""Repository functions: all of Trainyard's SQL lives in this package, one module per entity.

Every function takes the session as a keyword argument so callers decide the transaction. Call
sites import the package and use the names it re-exports (``from db import queries;
queries.create_run(session=s, ...)``); the modules say where each one lives:

- ``runs``: runs (create, read, list, filter, status changes)
- ``attempts``: one execution of a run at a time (compare-and-set on the attempt number)
- ``metrics``: logged curves, bulk writes and in-database downsampling
- ``checkpoints``: checkpoint files and their digests
- ``resources``: CPU/RAM/GPU samples of a run
- ``datasets``, ``samples``, ``embeddings``: imported data and its cached vectors
- ``models``: the model registry (versions, activation, audit trail, policies)
- ``sweeps``: sweeps and their trials
- ``sharing``: share links
- ``artifacts``: files a run wrote, with their recorded sha256
- ``manifests``: what produced each attempt of a run
- ``notifications``: the outbox of events and their webhook deliveries
- ``evaluations``: saved models evaluated on a dataset split, per version and as a leaderboard
- ``catalog``: the base models of the operator's models folder and their recorded digests
"""
from __future__ import annotations

from db.queries.artifacts import get_artifact, list_artifacts, replace_artifacts
from db.queries.attempts import ACTIVE, UNFINISHED, attempt_state, bump_attempt, set_status_if_current, update_if_current
from db.queries.catalog import catalog_entry, delete_catalog_entry, list_catalog, upsert_catalog_entry
from db.queries.checkpoints import (
                             add_checkpoint,
                             best_monitored,
                             checkpoint_by_path,
                             checkpoints_at_path,
                             checkpoints_newest_first,
                             checkpoints_per_file,
                             get_checkpoint,
                             latest_checkpoint,
                             list_checkpoints,
)
from db.queries.datasets import create_dataset, get_dataset, get_dataset_by_name, list_datasets, update_dataset
from db.queries.embeddings import (
                             count_embeddings,
                             delete_embeddings,
                             embedding_backbones,
                             embeddings_for_samples,
                             samples_missing_embedding,
                             store_embeddings,
)
from db.queries.evaluations import (
                             EVALUATION_STATUSES,
                             create_evaluation,
                             delete_evaluation,
                             evaluations_for_versions,
                             finish_evaluation,
                             get_evaluation,
                             latest_evaluations_on,
                             list_evaluations,
                             start_evaluation,
                             update_evaluation,
)
from db.queries.manifests import latest_manifest, run_manifests, save_manifest
from db.queries.metrics import (
                             CURVE_BUCKETS,
                             METRIC_COLUMNS,
                             PYRAMID_LEVELS,
                             add_metrics,
                             curve_level,
                             curve_points,
                             delete_metrics_after,
                             downsampled_metrics,
                             first_finite_metric,
                             last_metric_value,
                             last_points,
                             latest_metrics,
                             metric_buckets,
                             metric_names,
                             metric_rows,
                             metric_summaries,
                             newest_metric_id,
                             pyramid_metrics,
                             rebuild_summaries,
                             scanned_summaries,
)
from db.queries.models import (
                             ACTIVATION_POLICIES,
                             DEFAULT_ACTIVATION_POLICY,
                             activate_model_version,
                             active_model,
                             active_model_for_update,
                             add_audit_line,
                             add_model_event,
                             get_activation_policy,
                             get_model_version,
                             list_model_versions,
                             model_events,
                             model_scopes,
                             model_slot,
                             model_versions_for_runs,
                             register_model_version,
                             rollback_target,
                             scope_versions,
                             search_model_versions,
                             set_activation_policy,
                             set_model_status,
)
from db.queries.notifications import (
                             add_delivery,
                             add_notification,
                             claim_delivery,
                             delivery_failures,
                             due_deliveries,
                             finish_delivery,
                             notification_payload,
                             notifications_about,
                             undelivered_notifications,
)
from db.queries.resources import add_resource_sample, latest_resource_samples, resource_samples
from db.queries.runs import (
                             cancel_requested,
                             count_runs_by_status,
                             create_run,
                             delete_run,
                             find_runs,
                             get_run,
                             list_runs,
                             mark_stalled,
                             purge_run,
                             request_cancel,
                             requeue_candidates,
                             run_tags,
                             runs_in_status,
                             runs_started_from,
                             search_runs,
                             set_run_notes,
                             set_run_status,
                             stale_runs,
                             stall_candidates,
                             status_values,
                             update_run,
)
from db.queries.samples import (
                             add_samples,
                             dataset_samples,
                             delete_samples,
                             replace_dataset_samples,
                             sample_meta_by_root,
                             samples_in_age_range,
)
from db.queries.sharing import create_share_link, get_share_link, list_share_links, revoke_share_link
from db.queries.sweeps import create_sweep, get_sweep, list_sweeps, search_sweeps, sweep_runs, update_sweep

__all__ = ["create_run", "get_run", "list_runs", "count_runs_by_status", "update_run", "status_values",
           "set_run_status", "request_cancel", "cancel_requested", "stale_runs", "runs_in_status",
           "requeue_candidates", "delete_run", "find_runs", "set_run_notes", "run_tags", "purge_run",
           "stall_candidates", "mark_stalled", "runs_started_from", "search_runs", "ACTIVE", "UNFINISHED", "bump_attempt",
           "update_if_current", "set_status_if_current", "attempt_state", "METRIC_COLUMNS", "add_metrics",
           "metric_rows", "CURVE_BUCKETS", "metric_buckets", "latest_metrics", "first_finite_metric", "last_points",
           "last_metric_value", "delete_metrics_after", "metric_names", "metric_summaries", "downsampled_metrics",
           "PYRAMID_LEVELS", "curve_level", "curve_points", "pyramid_metrics", "rebuild_summaries",
           "scanned_summaries", "newest_metric_id",
           "add_checkpoint", "list_checkpoints", "checkpoints_per_file", "latest_checkpoint",
           "checkpoints_newest_first", "checkpoints_at_path", "checkpoint_by_path", "best_monitored", "get_checkpoint",
           "add_resource_sample", "resource_samples", "latest_resource_samples", "create_dataset", "get_dataset", "get_dataset_by_name",
           "list_datasets", "update_dataset", "add_samples", "dataset_samples", "replace_dataset_samples",
           "delete_samples", "samples_in_age_range", "sample_meta_by_root", "samples_missing_embedding",
           "store_embeddings", "embeddings_for_samples", "count_embeddings", "embedding_backbones",
           "delete_embeddings", "ACTIVATION_POLICIES", "DEFAULT_ACTIVATION_POLICY", "model_slot",
           "register_model_version", "get_model_version", "active_model_for_update", "activate_model_version",
           "set_model_status", "add_model_event", "add_audit_line", "model_events", "rollback_target", "get_activation_policy",
           "set_activation_policy", "list_model_versions", "model_scopes", "search_model_versions",
           "active_model", "model_versions_for_runs",
           "scope_versions", "create_sweep", "get_sweep", "list_sweeps", "search_sweeps", "update_sweep", "sweep_runs",
           "create_share_link", "get_share_link", "list_share_links", "revoke_share_link",
           "replace_artifacts", "list_artifacts", "get_artifact", "save_manifest", "latest_manifest", "run_manifests",
           "add_notification", "undelivered_notifications", "add_delivery", "claim_delivery", "due_deliveries",
           "finish_delivery", "delivery_failures", "notifications_about", "notification_payload",
           "EVALUATION_STATUSES", "create_evaluation", "get_evaluation", "update_evaluation", "start_evaluation",
           "finish_evaluation", "evaluations_for_versions", "latest_evaluations_on", "list_evaluations",
           "delete_evaluation",
           "upsert_catalog_entry", "catalog_entry", "list_catalog", "delete_catalog_entry"]

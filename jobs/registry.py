"""The model registry's decisions: which version serves a scope, and every change by hand.

A finished run's model is registered as a *candidate*. The family's activation policy (a row of
``activationpolicy``, edited on the Models page; absent: ``auto-if-better``) then decides:

- ``auto-if-better``: active when its scope has no active version, or when it is strictly better
  than the active one on the family's first headline metric for its task;
- ``always``: active at once (the newest wins, the old behaviour);
- ``manual``: stays a candidate until someone activates it.

Every decision and change leaves a ``ModelEvent`` line. Uniqueness of the active version is the
database's job (unique ``active_slot`` index); the functions here retry a transaction that lost
a race, re-reading the scope each time so the decision is made against what is really active.
"""
from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from db import queries
from db.models import ModelStatus, ModelVersion
from db.session import session_scope
from engine.core import Headline
from engine.families import FAMILIES
from engine.safeio import is_within
from engine.trust import UntrustedModelError
from jobs import notify
from settings import get_settings

__all__ = ["register_candidate", "decide", "activate", "rollback", "archive", "delete", "set_policy",
           "ranking_headline", "verified_artifact"]

log = logging.getLogger("trainyard.registry")
T = TypeVar("T")
ATTEMPTS = 30


def _retrying(fn: Callable[[Session], T]) -> T:
    """Run ``fn`` in its own transaction until it commits: a unique-slot violation or a busy
    SQLite/serialisation failure means another activation won the race; try again against it."""
    for attempt in range(ATTEMPTS):
        try:
            with session_scope() as s:
                return fn(s)
        except (IntegrityError, OperationalError) as exc:
            if attempt == ATTEMPTS - 1:
                raise
            log.info("activation retry %d after %s", attempt + 1, type(exc.orig).__name__)
            time.sleep(random.uniform(0.005, 0.03) * (attempt + 1))
    raise AssertionError("unreachable")


def ranking_headline(family: str, task: str | None) -> Headline | None:
    """The headline that decides between two versions of ``family``/``task`` (None: none declared)."""
    try:
        heads = FAMILIES[family].headlines_for(task)
    except KeyError:
        return None
    return next((h for h in heads if h.direction in ("max", "min")), None)


def _number(metrics: dict, name: str) -> float | None:
    value = metrics.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:  # NaN never ranks
        return None
    return float(value)


def register_candidate(*, session: Session, run_id: int, family: str, artifact_path: str, sha256: str,
                       task: str | None, scope: str, metrics: dict, threshold: float | None) -> ModelVersion:
    """Store a finished run's model as a candidate (call ``decide`` after the commit)."""
    return queries.register_model_version(session=session, run_id=run_id, family=family, task=task, scope=scope,
                                          artifact_path=artifact_path, sha256=sha256, metrics=metrics,
                                          threshold=threshold, activate=False, actor="worker")


def decide(model_version_id: int) -> ModelStatus:
    """Apply the family's policy to a candidate; return the status it ends with."""
    def attempt(s: Session) -> ModelStatus:
        version = queries.get_model_version(session=s, model_version_id=model_version_id, for_update=True)
        if version is None or version.status != ModelStatus.candidate.value:
            return ModelStatus(version.status) if version else ModelStatus.deleted
        policy = queries.get_activation_policy(session=s, family=version.family)
        current = queries.active_model_for_update(session=s, family=version.family, task=version.task,
                                                  scope=version.scope)
        activate_why = None
        if policy == "always":
            activate_why = "policy always: the newest model serves"
        elif policy == "manual":
            keep_why = "policy manual: waits for someone to activate it"
        elif current is None:
            activate_why = "auto-if-better: no active model in this scope"
        else:
            head = ranking_headline(version.family, version.task)
            new = _number(version.metrics, head.name) if head else None
            old = _number(current.metrics, head.name) if head else None
            if head is None:
                keep_why = "auto-if-better: the family declares no headline metric to compare"
            elif new is None:
                keep_why = f"auto-if-better: it has no {head.name} to compare"
            elif old is None:
                activate_why = f"auto-if-better: {head.name} {new:.4g}; active #{current.id} has none"
            elif head.better(new, old):
                activate_why = f"auto-if-better: {head.name} {new:.4g} beats #{current.id}'s {old:.4g}"
            else:
                keep_why = (f"auto-if-better: {head.name} {new:.4g} does not beat active "
                            f"#{current.id}'s {old:.4g}")
        if activate_why:
            queries.activate_model_version(session=s, model_version_id=version.id, reason=activate_why,
                                           actor="policy")
            return ModelStatus.active
        queries.add_model_event(session=s, version=version, action="keep", reason=keep_why, actor="policy")
        return ModelStatus.candidate

    status = _retrying(attempt)
    if status == ModelStatus.active:
        notify.model_activated(model_version_id, reason="by the activation policy")
    return status


def activate(model_version_id: int, *, actor: str | None = None, reason: str = "activated by hand") -> ModelVersion:
    """Make a version active now (whatever its metrics), archiving the one it replaces."""
    version = _retrying(lambda s: queries.activate_model_version(session=s, model_version_id=model_version_id,
                                                                 reason=reason, actor=actor))
    notify.model_activated(model_version_id, reason=reason)
    return version


def rollback(*, family: str, task: str | None, scope: str, actor: str | None = None) -> ModelVersion:
    """Re-activate the version that the scope's active one replaced."""
    def attempt(s: Session) -> ModelVersion:
        target = queries.rollback_target(session=s, family=family, task=task, scope=scope)
        if target is None:
            raise LookupError(f"nothing to roll back to in {family}/{task or '-'}/{scope or '-'}")
        current = queries.active_model(session=s, family=family, scope=scope, task=task)
        return queries.activate_model_version(session=s, model_version_id=target.id, actor=actor,
                                              reason=f"rollback from #{current.id}")
    version = _retrying(attempt)
    notify.model_activated(version.id, reason="rolled back")
    return version


def archive(model_version_id: int, *, actor: str | None = None) -> ModelVersion:
    """Set a version aside; an active one leaves its scope with no active model."""
    return _retrying(lambda s: queries.set_model_status(session=s, model_version_id=model_version_id,
                                                        status=ModelStatus.archived, reason="archived by hand",
                                                        actor=actor))


def delete(model_version_id: int, *, actor: str | None = None) -> ModelVersion:
    """Remove the version's file (only a file under the artifacts folder: Trainyard never deletes
    what it did not write); the row, its metrics and its audit lines stay."""
    with session_scope() as s:
        version = queries.get_model_version(session=s, model_version_id=model_version_id)
        if version is None:
            raise LookupError(f"no model version with id {model_version_id}")
        path = Path(version.artifact_path).resolve()
    if not is_within(path, get_settings().resolved_artifacts_dir):
        raise UntrustedModelError(f"{path} is not under the artifacts folder; Trainyard deletes only files it wrote")
    version = _retrying(lambda s: queries.set_model_status(session=s, model_version_id=model_version_id,
                                                           status=ModelStatus.deleted,
                                                           reason=f"deleted by hand: {path.name} removed", actor=actor))
    path.unlink(missing_ok=True)
    return version


def set_policy(family: str, policy: str, *, actor: str | None = None) -> None:
    """Change how the family's next finished runs are activated (existing versions keep their status)."""
    FAMILIES[family]  # unknown family: raises with the valid keys
    _retrying(lambda s: queries.set_activation_policy(session=s, family=family, policy=policy, actor=actor))


def verified_artifact(model_version_id: int) -> tuple[str, bytes]:
    """The version's file name and bytes, after checking the bytes against the recorded sha256."""
    with session_scope() as s:
        version = queries.get_model_version(session=s, model_version_id=model_version_id)
    if version is None:
        raise LookupError(f"no model version with id {model_version_id}")
    if not version.sha256:
        raise UntrustedModelError(f"model #{version.id} has no recorded sha256; it cannot be verified")
    path = Path(version.artifact_path)
    if not path.is_file():
        raise FileNotFoundError(f"model #{version.id}: {path} is missing on this machine")
    data = path.read_bytes()  # hash exactly the bytes handed out, not the file a moment earlier
    if hashlib.sha256(data).hexdigest() != version.sha256:
        raise UntrustedModelError(f"model #{version.id}: {path.name} changed on disk since it was registered")
    return path.name, data

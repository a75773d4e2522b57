"""Model registry: versions registered by runs, which one is active per scope, the audit
trail, and each family's activation policy."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from db.models import ActivationPolicy, ModelEvent, ModelStatus, ModelVersion, Run, utcnow
from db.queries.search import contains, id_or_date, page

__all__ = ["ACTIVATION_POLICIES", "DEFAULT_ACTIVATION_POLICY", "model_slot", "register_model_version",
           "get_model_version", "active_model_for_update", "activate_model_version", "set_model_status",
           "add_model_event", "add_audit_line", "model_events", "rollback_target", "get_activation_policy", "set_activation_policy",
           "list_model_versions", "model_scopes", "search_model_versions", "active_model", "model_versions_for_runs", "scope_versions"]


ACTIVATION_POLICIES = ("auto-if-better", "manual", "always")
DEFAULT_ACTIVATION_POLICY = "auto-if-better"


def model_slot(family: str, task: str | None, scope: str) -> str:
    """The key of a (family, task, scope): at most one version holds it as ``active_slot``."""
    return f"{family}|{task or ''}|{scope}"


def register_model_version(*, session: Session, run_id: int, family: str, artifact_path: str,
                           task: str | None = None, scope: str = "",
                           metrics: Mapping[str, Any] | None = None, threshold: float | None = None,
                           sha256: str | None = None, activate: bool = True,
                           actor: str | None = None) -> ModelVersion:
    """Store a new version as a candidate (with an audit line); ``activate`` makes it active at
    once regardless of metrics (the worker decides through the family's policy instead)."""
    version = ModelVersion(run_id=run_id, family=family, task=task, scope=scope, sha256=sha256,
                           artifact_path=artifact_path, metrics=dict(metrics or {}), threshold=threshold,
                           status=ModelStatus.candidate.value)
    session.add(version)
    session.flush()
    add_model_event(session=session, version=version, action="register", reason=f"run #{run_id} finished",
                    actor=actor)
    if activate:
        activate_model_version(session=session, model_version_id=version.id, reason="activated at registration",
                               actor=actor)
    return version


def get_model_version(*, session: Session, model_version_id: int, for_update: bool = False) -> ModelVersion | None:
    stmt = select(ModelVersion).where(ModelVersion.id == model_version_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


def active_model_for_update(*, session: Session, family: str, task: str | None, scope: str) -> ModelVersion | None:
    """The active version of a scope, row-locked until commit on PostgreSQL (SQLite locks the
    whole database at the first write instead; the unique slot index catches the rest)."""
    stmt = (select(ModelVersion).where(ModelVersion.active_slot == model_slot(family, task, scope))
            .with_for_update())
    return session.exec(stmt).first()


def activate_model_version(*, session: Session, model_version_id: int, reason: str = "manual",
                           actor: str | None = None) -> ModelVersion:
    """Make one version the active one of its family/task/scope and archive the one it replaces,
    with an audit line. One attempt: when another transaction activates a version of the same
    scope at the same time, the unique ``active_slot`` index makes one of them fail with an
    ``IntegrityError`` (or SQLite's 'database is locked'); callers retry in a new transaction."""
    version = get_model_version(session=session, model_version_id=model_version_id, for_update=True)
    if version is None:
        raise LookupError(f"no model version with id {model_version_id}")
    if version.status == ModelStatus.deleted.value:
        raise ValueError(f"model version #{version.id} was deleted; its file is gone")
    current = active_model_for_update(session=session, family=version.family, task=version.task, scope=version.scope)
    if current is not None and current.id == version.id:
        return version
    if current is not None:
        current.active, current.active_slot, current.status = False, None, ModelStatus.archived.value
        session.add(current)
        session.flush()  # free the slot before taking it
    version.active, version.status = True, ModelStatus.active.value
    version.active_slot = model_slot(version.family, version.task, version.scope)
    session.add(version)
    session.flush()
    add_model_event(session=session, version=version, action="activate", reason=reason, actor=actor,
                    replaced_id=current.id if current is not None else None)
    return version


def set_model_status(*, session: Session, model_version_id: int, status: ModelStatus, reason: str,
                     actor: str | None = None) -> ModelVersion:
    """Archive, delete or return a version to candidate (never 'active': use ``activate_model_version``).
    A version that was active leaves its scope with none active."""
    if ModelStatus(status) == ModelStatus.active:
        raise ValueError("use activate_model_version to activate")
    version = get_model_version(session=session, model_version_id=model_version_id, for_update=True)
    if version is None:
        raise LookupError(f"no model version with id {model_version_id}")
    version.active, version.active_slot, version.status = False, None, ModelStatus(status).value
    session.add(version)
    session.flush()
    action = "demote" if ModelStatus(status) == ModelStatus.candidate else ModelStatus(status).value
    add_model_event(session=session, version=version, action=action, reason=reason, actor=actor)
    return version


def add_model_event(*, session: Session, version: ModelVersion, action: str, reason: str,
                    actor: str | None = None, replaced_id: int | None = None) -> ModelEvent:
    event = ModelEvent(family=version.family, task=version.task, scope=version.scope, action=action,
                       model_version_id=version.id, replaced_id=replaced_id, reason=reason, actor=actor)
    session.add(event)
    session.flush()
    return event


def add_audit_line(*, session: Session, family: str, action: str, reason: str, actor: str | None = None,
                   task: str | None = None, scope: str = "") -> ModelEvent:
    """An audit line about something other than one model version (a run deleted)."""
    event = ModelEvent(family=family, task=task, scope=scope, action=action, reason=reason, actor=actor)
    session.add(event)
    session.flush()
    return event


def model_events(*, session: Session, family: str | None = None, model_version_id: int | None = None,
                 limit: int = 500) -> list[ModelEvent]:
    """Audit lines, newest first."""
    stmt = select(ModelEvent).order_by(col(ModelEvent.id).desc()).limit(limit)
    if family:
        stmt = stmt.where(ModelEvent.family == family)
    if model_version_id is not None:
        stmt = stmt.where((ModelEvent.model_version_id == model_version_id)
                          | (ModelEvent.replaced_id == model_version_id))
    return list(session.exec(stmt))


def rollback_target(*, session: Session, family: str, task: str | None, scope: str) -> ModelVersion | None:
    """The version the current active one replaced (the newest activation's ``replaced_id``),
    if it still has its file."""
    current = active_model(session=session, family=family, scope=scope, task=task)
    if current is None:
        return None
    stmt = (select(ModelEvent).where(ModelEvent.model_version_id == current.id, ModelEvent.action == "activate")
            .order_by(col(ModelEvent.id).desc()))
    event = session.exec(stmt).first()
    if event is None or event.replaced_id is None:
        return None
    target = session.get(ModelVersion, event.replaced_id)
    return target if target is not None and target.status != ModelStatus.deleted.value else None


def get_activation_policy(*, session: Session, family: str) -> str:
    row = session.get(ActivationPolicy, family)
    return row.policy if row is not None else DEFAULT_ACTIVATION_POLICY


def set_activation_policy(*, session: Session, family: str, policy: str, actor: str | None = None) -> None:
    if policy not in ACTIVATION_POLICIES:
        raise ValueError(f"unknown activation policy {policy!r}; choose one of {', '.join(ACTIVATION_POLICIES)}")
    row = session.get(ActivationPolicy, family)
    old = row.policy if row is not None else DEFAULT_ACTIVATION_POLICY
    row = row or ActivationPolicy(family=family)
    row.policy, row.updated_at, row.updated_by = policy, utcnow(), actor
    session.add(row)
    session.add(ModelEvent(family=family, scope="", action="policy", reason=f"policy {old} → {policy}", actor=actor))
    session.flush()


def list_model_versions(*, session: Session, family: str | None = None,
                        active_only: bool = False) -> list[ModelVersion]:
    stmt = select(ModelVersion).order_by(col(ModelVersion.id).desc())
    if family:
        stmt = stmt.where(ModelVersion.family == family)
    if active_only:
        stmt = stmt.where(ModelVersion.active == True)  # noqa: E712 (SQL expression)
    return list(session.exec(stmt))


def model_scopes(*, session: Session) -> list[tuple[str, str | None, str, int]]:
    """Every (family, task, scope) that has versions, with how many: one grouped query."""
    rows = session.exec(select(ModelVersion.family, ModelVersion.task, ModelVersion.scope, func.count())
                        .group_by(ModelVersion.family, ModelVersion.task, ModelVersion.scope))
    return sorted(((f, t, sc, int(n)) for f, t, sc, n in rows), key=lambda r: (r[0], r[1] or "", r[2]))


def _version_term(term: str):
    """One search word over versions: a version or run id (``12``, ``#12``), a status, a date
    (``2026-12-03``, ``2026-12``) or text in the run's name."""
    conds = [func.lower(ModelVersion.status) == term.lower(),
             col(ModelVersion.run_id).in_(select(Run.id).where(func.lower(Run.name).like(contains(term), escape="\\"))),
             *id_or_date(term, ModelVersion.id, ModelVersion.created_at)]
    if term.lstrip("#").isdigit():
        conds.append(ModelVersion.run_id == int(term.lstrip("#")))
    return or_(*conds)


def search_model_versions(*, session: Session, family: str, task: str | None, scope: str, query: str = "",
                          offset: int = 0, limit: int = 50) -> tuple[list[ModelVersion], int]:
    """One page of a scope's versions, the active one first and then newest first, and how many
    match (every word of ``query``, ``_version_term``). The database filters, counts and pages."""
    conds = [ModelVersion.family == family, ModelVersion.scope == scope,
             ModelVersion.task == task if task is not None else col(ModelVersion.task).is_(None),
             *(_version_term(t) for t in (query or "").split())]
    return page(session, ModelVersion, conds, [col(ModelVersion.active).desc(), col(ModelVersion.id).desc()],
                offset=offset, limit=limit)


def active_model(*, session: Session, family: str, scope: str = "", task: str | None = None) -> ModelVersion | None:
    stmt = select(ModelVersion).where(ModelVersion.family == family, ModelVersion.scope == scope,
                                      ModelVersion.active == True)  # noqa: E712
    stmt = stmt.where(ModelVersion.task == task) if task is not None else stmt
    return session.exec(stmt).first()


def model_versions_for_runs(*, session: Session, run_ids: Iterable[int]) -> list[ModelVersion]:
    ids = list(run_ids)
    if not ids:
        return []
    return list(session.exec(select(ModelVersion).where(col(ModelVersion.run_id).in_(ids)).order_by(ModelVersion.id)))


def scope_versions(*, session: Session, family: str, scope: str, task: str | None = None,
                   usable_only: bool = True) -> list[ModelVersion]:
    """Versions of one scope, active first then newest (for pickers); ``usable_only`` drops deleted ones."""
    stmt = select(ModelVersion).where(ModelVersion.family == family, ModelVersion.scope == scope)
    stmt = stmt.where(ModelVersion.task == task) if task is not None else stmt
    if usable_only:
        stmt = stmt.where(ModelVersion.status != ModelStatus.deleted.value)
    return sorted(session.exec(stmt), key=lambda v: (not v.active, -(v.id or 0)))

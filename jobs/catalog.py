"""The base-model catalog: what the operator's models folder (``TRAINYARD_MODELS_DIR``) holds,
with the sha256 recorded when each file or folder was added or pulled.

Why a table (``catalog_entry``, migration 0012) and not a manifest beside the files: the digest a
file is checked against must not live where the file lives. Whoever can replace a file in the
models folder could rewrite a manifest next to it in the same breath; a database record is
written only by ``python -m engine models add/pull`` (an operator action) and read by every
launch and every worker, on every machine of a scale-out, from one place. It is the same rule
checkpoints and model versions follow (``Checkpoint.sha256``, ``ModelVersion.sha256``).

* ``add_file`` copies a file or folder in (or records one already inside) with its digest;
* ``pull`` fetches a named base model with its library's own downloader (Ultralytics assets,
  torchreid's ImageNet OSNet weights via gdown, Hugging Face ViTs as safetensors only). It is an
  operator action, never run inside a training job; offline it fails within a few seconds
  (a reachability probe with a short timeout first) naming the file to place and where;
* ``verify_config`` is the gate: each models-folder name a config loads (yolo ``model``, reid
  ``weights``, anomaly ``backbone`` folder, ppo ``init_weights``, transition
  ``initial_weights``) must be in the catalog, for that family, and still have its recorded
  digest. ``jobs.launch.plan_launch`` calls it before anything is queued and the worker calls it
  again before the family loads anything, so a file swapped after launch is refused there too.

Light on purpose (no torch, no ultralytics, not even the database at import): the pages read it,
and an offline ``models pull`` answers before the command has opened the database.
"""
from __future__ import annotations

import re
import shutil
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.core import VerifiedFile
from engine.digests import folder_sha256, sha256_file
from engine.trust import UntrustedModelError, models_dir, user_weights

__all__ = ["CatalogError", "PullOffline", "PULLABLE", "CatalogRef", "add_file", "pull", "pull_check", "verify_entry",
           "verify_config", "catalog_refs", "entries_for", "production_choice", "start_note", "folder_report",
           "describe", "FROM_SCRATCH"]

FROM_SCRATCH = "from scratch"
PROBE_TIMEOUT_S = 2.5  # a pull gives up on an unreachable host within this (the whole command: < 5 s)
FAMILY_KEYS = {"yolo": "model", "reid": "weights", "anomaly": "backbone", "ppo": "init_weights",
               "transition": "initial_weights"}
_YOLO_ASSET = re.compile(r"^(yolo11|yolov8|yolo26)[nslmx](-seg|-cls)?\.pt$")
_OSNET_ASSET = re.compile(r"^(osnet_(?:ain_|ibn_)?x\d_\d+)_imagenet\.pth$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
PULLABLE = ("yolo11n.pt, yolo11n-seg.pt, yolo11n-cls.pt (any Ultralytics yolo11/yolov8/yolo26 asset name)",
            "osnet_x1_0_imagenet.pth (torchreid's ImageNet weights of any OSNet variant: MODEL_imagenet.pth)",
            "google/vit-base-patch16-224-in21k (any Hugging Face ViT id; safetensors only)")


class CatalogError(ValueError):
    """A catalogued file is missing from the catalog, belongs to another family, or a name cannot be pulled."""


class PullOffline(CatalogError):
    """The downloader's host cannot be reached: the message says which file to place where."""


@dataclass(frozen=True)
class CatalogRef:
    key: str   # the config key that names it
    name: str  # relative to the models folder


def _task_of_yolo(name: str) -> str:
    stem = Path(name).stem
    return "segment" if stem.endswith("-seg") else "classify" if stem.endswith("-cls") else "detect"


def _guess(name: str, path: Path) -> tuple[str | None, str | None]:
    """(family, task) from a file's name or a folder's contents; (None, None) when unclear."""
    base = Path(name).name
    if "yolo" in base.lower() and path.suffix in (".pt", ".yaml", ".yml"):
        return "yolo", _task_of_yolo(base)
    if "osnet" in base.lower():
        return "reid", None
    if path.is_dir() and (path / "config.json").is_file():
        return "anomaly", None
    return None, None


def describe(path: Path) -> dict[str, Any]:
    """Format, size and sha256 of a file, or of a folder (``folder_sha256``)."""
    if path.is_dir():
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        fmt = "safetensors folder" if any(path.rglob("*.safetensors")) else "folder"
        return {"format": fmt, "size": size, "sha256": folder_sha256(path)}
    return {"format": path.suffix.lstrip(".") or "file", "size": path.stat().st_size, "sha256": sha256_file(path)}


def _db():
    from db import queries
    from db.session import session_scope

    return queries, session_scope


def _record(name: str, path: Path, *, family: str, task: str | None, source: str):
    queries, session_scope = _db()
    info = describe(path)
    with session_scope() as s:
        return queries.upsert_catalog_entry(session=s, name=name, family=family, task=task, source=source, **info)


def add_file(src: str | Path, *, family: str | None = None, task: str | None = None, name: str | None = None,
             replace: bool = False):
    """Copy ``src`` (a file or a folder) into the models folder as ``name`` (default its file
    name) and record its digest; a path already inside the folder is recorded where it is.
    Returns the ``CatalogEntry``. The family is read from the name when it is clear (yolo*,
    osnet*, a folder with a config.json is a ViT), else ``--family`` must say it."""
    from engine.families import FAMILIES

    src_path = Path(src).expanduser()
    if not src_path.exists():
        raise FileNotFoundError(f"{src}: no such file or folder")
    base = models_dir().resolve()
    resolved = src_path.resolve()
    inside = resolved == base or base in resolved.parents
    if inside:
        name = name or resolved.relative_to(base).as_posix()
    name = name or src_path.name
    target = user_weights(name, what="catalog name", must_exist=False)  # refuses a name leaving the folder
    guessed_family, guessed_task = _guess(name, resolved)
    family = family or guessed_family
    if family is None:
        raise CatalogError(f"cannot tell which family {name!r} is for; give --family ({', '.join(FAMILIES)})")
    if family not in FAMILIES:
        raise CatalogError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")
    task = task or (guessed_task if family == "yolo" else None)
    if not inside:
        if target.exists() and not replace:
            same = describe(target)["sha256"] == describe(resolved)["sha256"]
            if not same:
                raise CatalogError(f"{target} already exists with other content; give --replace to overwrite it")
        else:
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            if resolved.is_dir():
                shutil.copytree(resolved, target)
            else:
                shutil.copy2(resolved, target)
    source = f"added from {resolved}" if not inside else "recorded in place"
    return _record(name, target, family=family, task=task, source=source)


# ---- pull: the libraries' own downloaders ---------------------------------------------------------


def _reachable(host: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when a TCP connection to ``host:443`` opens within ``timeout`` s, else why not. The
    lookup runs on a thread so a resolver that hangs cannot hold the command either."""
    result: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(None)
        except OSError as exc:
            result.append(str(exc) or type(exc).__name__)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    return result[0] if result else f"no answer within {timeout:g} s"


def _offline(name: str, host: str, why: str, *, url: str, family: str) -> PullOffline:
    place = models_dir() / name
    return PullOffline(
        f"cannot pull {name!r}: {host} is not reachable from this machine ({why}). Place the "
        f"{'folder' if family == 'anomaly' else 'file'} yourself: fetch {url} on a machine that is online, copy it "
        f"to {place} and record it with `python -m engine models add {place} --family {family}`")


def _pull_plan(name: str) -> tuple[str, str | None, str, str]:
    """(family, task, host, url) of a pullable name, or ``CatalogError`` listing what can be pulled."""
    if _YOLO_ASSET.match(name):
        return ("yolo", _task_of_yolo(name), "github.com",
                f"https://github.com/ultralytics/assets/releases/download/v8.4.0/{name}")
    m = _OSNET_ASSET.match(name)
    if m:
        from engine.families.reid.config import MODELS

        if m.group(1) not in MODELS:
            raise CatalogError(f"{name!r}: torchreid has no ImageNet weights for {m.group(1)!r}; one of "
                               + ", ".join(f"{x}_imagenet.pth" for x in MODELS))
        return "reid", None, "drive.google.com", f"torchreid's pretrained_urls[{m.group(1)!r}] (Google Drive)"
    if _HUB_ID.match(name):
        return "anomaly", None, "huggingface.co", f"https://huggingface.co/{name} (its *.safetensors and *.json)"
    raise CatalogError(f"{name!r} is not a name `models pull` knows; it pulls: " + "; ".join(PULLABLE))


def pull_check(name: str) -> tuple[str, str | None, str, str]:
    """What pulling ``name`` takes, after checking that its host answers: ``CatalogError`` for a
    name nothing can pull, ``PullOffline`` (within ``PROBE_TIMEOUT_S``) when the host is out of
    reach. Touches neither the database nor the folder."""
    family, task, host, url = _pull_plan(name)
    user_weights(name, what="catalog name", must_exist=False)  # a name leaving the folder is refused
    why = _reachable(host)
    if why is not None:
        raise _offline(name, host, why, url=url, family=family)
    return family, task, host, url


def pull(name: str):
    """Fetch ``name`` into the models folder with its library's downloader and record it;
    ``PullOffline`` at once when the host is unreachable. Returns the ``CatalogEntry``."""
    family, task, host, url = pull_check(name)
    target = user_weights(name, what="catalog name", must_exist=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    if family == "yolo":
        from ultralytics.utils.downloads import attempt_download_asset

        got = Path(attempt_download_asset(target))
        if got.resolve() != target.resolve():
            shutil.copy2(got, target)
        source = f"pulled {name} (ultralytics attempt_download_asset)"
    elif family == "reid":
        import gdown

        key = _OSNET_ASSET.match(name).group(1)
        if key.startswith("osnet_ain"):
            from torchreid.reid.models.osnet_ain import pretrained_urls
        else:
            from torchreid.reid.models.osnet import pretrained_urls
        tmp = target.with_suffix(".part")
        if gdown.download(pretrained_urls[key], str(tmp), quiet=True) is None or not tmp.is_file():
            raise _offline(name, host, "the download returned nothing", url=url, family=family)
        tmp.replace(target)
        source = f"pulled {name} (torchreid pretrained_urls via gdown)"
    else:
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id=name, local_dir=str(target), allow_patterns=["*.safetensors", "*.json", "*.txt"],
                          etag_timeout=PROBE_TIMEOUT_S)
        if not any(target.rglob("*.safetensors")):
            shutil.rmtree(target, ignore_errors=True)
            raise CatalogError(f"{name!r} has no safetensors weights on the hub; Trainyard loads no pickled ViT")
        source = f"pulled {name} (huggingface_hub snapshot_download, safetensors only)"
    if not target.exists():
        raise _offline(name, host, "the downloader wrote no file", url=url, family=family)
    return _record(name, target, family=family, task=task, source=source)


# ---- the gate -------------------------------------------------------------------------------------


def catalog_refs(family: str, config: Any) -> list[CatalogRef]:
    """The models-folder names ``config`` loads (empty for from-scratch, tiny-vit, a built-in
    yolo yaml, or a hub id not present in the folder, which loads from the hub)."""
    key = FAMILY_KEYS.get(family)
    value = getattr(config, key, None) if key else None
    if not value:
        return []
    value = str(value)
    if family == "yolo":
        from engine.families.yolo.config import _builtin_yaml

        if _builtin_yaml(value):
            return []
    if family == "anomaly":
        from engine.families.anomaly.config import TINY_BACKBONE

        if value == TINY_BACKBONE or (_HUB_ID.match(value) and not (models_dir() / value).exists()):
            return []
    return [CatalogRef(key, _relative(value))]


def _relative(value: str) -> str:
    base = models_dir().resolve()
    try:
        p = Path(value).expanduser()
    except RuntimeError:  # "~someone" with no such user: user_weights refuses it with its own message
        return value
    if p.is_absolute():
        try:
            return p.resolve().relative_to(base).as_posix()
        except ValueError:
            return value  # user_weights refuses it with its own message
    return Path(value).as_posix()


def verify_entry(name: str, *, family: str | None = None) -> VerifiedFile:
    """The catalogued file ``name`` as a ``VerifiedFile`` while it still has its recorded digest;
    ``CatalogError`` when it is not catalogued or is another family's, ``UntrustedModelError``
    when it changed, ``FileNotFoundError`` when it is gone."""
    queries, session_scope = _db()
    path = user_weights(name, what="base model", must_exist=False)
    with session_scope() as s:
        entry = queries.catalog_entry(session=s, name=name)
    if entry is None:
        raise CatalogError(f"{name!r} is not in the base-model catalog; record it with `python -m engine models add "
                           f"{path}` (files in the models folder load only once their digest is recorded)")
    if family is not None and entry.family != family:
        raise CatalogError(f"{name!r} is a {entry.family} base model, not a {family} one")
    if not path.exists():
        raise FileNotFoundError(f"base model {name!r} is catalogued but missing from {path.parent}")
    actual = describe(path)["sha256"]
    if actual != entry.sha256:
        raise UntrustedModelError(
            f"base model {name!r} changed since it was catalogued (sha256 {actual[:12]}… ≠ recorded "
            f"{entry.sha256[:12]}…); refusing to load it. Put the original back, or record this one on purpose "
            f"with `python -m engine models add {path} --replace`")
    return VerifiedFile(path=path, sha256=entry.sha256, what=f"base model {name}",
                        meta={"family": entry.family, "task": entry.task, "catalog_id": entry.id})


def verify_config(family: str, config: Any) -> list[VerifiedFile]:
    """Every catalogued file ``config`` loads, verified (see ``verify_entry``); raises the first
    refusal as ``CatalogError``/``UntrustedModelError``/``FileNotFoundError`` naming the key."""
    out = []
    for ref in catalog_refs(family, config):
        try:
            out.append(verify_entry(ref.name, family=family))
        except (CatalogError, UntrustedModelError, FileNotFoundError) as exc:
            raise type(exc)(f"{ref.key}: {exc}") from None
    return out


# ---- what the pages show --------------------------------------------------------------------------


def entries_for(family: str, task: str | None = None) -> list:
    """Catalog entries of ``family`` (yolo: those of a compatible task; a yaml fits any task)."""
    queries, session_scope = _db()
    with session_scope() as s:
        rows = queries.list_catalog(session=s, family=family)
    if family == "yolo" and task:
        ok = {"detect": ("detect", "segment"), "segment": ("segment", "detect")}.get(task, (task,))
        rows = [r for r in rows if r.task is None or r.format in ("yaml", "yml") or r.task in ok]
    return rows


def _getter(config: Any):
    return config.get if isinstance(config, dict) else lambda k, d=None: getattr(config, k, d)


def production_choice(family: str, config: Any) -> str | None:
    """The seed's production base model for this config: yolo ``yolo11n.pt`` per task, reid the
    OSNet variant's ImageNet weights, anomaly the ViT-base backbone; None for the others.
    ``config`` is a validated config or its plain data."""
    get = _getter(config)
    if family == "yolo":
        suffix = {"detect": "", "segment": "-seg", "classify": "-cls"}.get(get("task") or "detect", "")
        return f"yolo11n{suffix}.pt"
    if family == "reid":
        return f"{get('model') or 'osnet_x1_0'}_imagenet.pth"
    if family == "anomaly":
        from engine.families.anomaly.config import PRODUCTION_BACKBONE

        return PRODUCTION_BACKBONE
    return None


def start_note(family: str, config: Any) -> str | None:
    """One plain sentence when a run starts from nothing pretrained (None when it starts from
    base weights or a model version): what the Launch and Progress pages and the model card say."""
    get = _getter(config)
    if get("init_version"):
        return None
    if family == "anomaly":
        from engine.families.anomaly.config import PRODUCTION_BACKBONE, TINY_BACKBONE

        if (get("backbone") or TINY_BACKBONE) == TINY_BACKBONE:
            return (f"Demo features: the `tiny-vit` backbone is a randomly initialised ViT, so its embeddings are "
                    f"not pretrained and scores on real drawings mean little. For real use pull "
                    f"`{PRODUCTION_BACKBONE}` (`python -m engine models pull {PRODUCTION_BACKBONE}`).")
        return None
    key = FAMILY_KEYS.get(family)
    if key is None or get(key):
        return None
    what = {"yolo": "the architecture yaml", "reid": "random weights (pretrained=False)",
            "ppo": "a fresh policy", "transition": "random weights"}.get(family, "random weights")
    hint = {"yolo": " Pull `yolo11n.pt` (or `-seg`/`-cls`) for pretrained weights.",
            "reid": " Pull `osnet_x1_0_imagenet.pth` for ImageNet weights."}.get(family, "")
    return f"Trains from scratch: {what}, no pretrained weights.{hint}"


def folder_report() -> list[dict[str, Any]]:
    """Every catalogued entry with its state on disk, plus top-level files of the models folder
    that are not catalogued (they load only once recorded). Hashes every entry: for the Models
    page behind a button, not on every refresh."""
    queries, session_scope = _db()
    base = models_dir()
    with session_scope() as s:
        entries = queries.list_catalog(session=s)
    rows, names = [], set()
    for e in entries:
        path = base / e.name
        names.add(e.name.split("/")[0])
        state = "missing" if not path.exists() else "sha256 ✓" if describe(path)["sha256"] == e.sha256 else "sha256 ✗ changed"
        rows.append({"name": e.name, "family": e.family, "task": e.task or "", "format": e.format, "size": e.size,
                     "sha256": e.sha256, "source": e.source, "added": e.added_at, "check": state})
    for p in sorted(base.iterdir()) if base.is_dir() else []:
        if p.name not in names and not p.name.endswith(".part"):
            rows.append({"name": p.name, "family": "", "task": "", "format": "folder" if p.is_dir() else p.suffix,
                         "size": None, "sha256": "", "source": "", "added": None,
                         "check": "not catalogued (models add)"})
    return rows

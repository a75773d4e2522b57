"""The trust boundary for model files (see README, "Security").

Two kinds of file may be loaded as a model:

* **Files Trainyard wrote itself** (checkpoints, registered model artifacts). Their sha256 was
  recorded in the database when they were written (``Checkpoint.sha256``,
  ``ModelVersion.sha256``); they load only after the file on disk still has that digest
  (``verify_recorded``), so a file swapped on disk after the fact is refused.
* **Weights a user supplies** (a YOLO ``.pt``/``.yaml``, a ViT folder, OSNet/PPO/transition
  weights). They load only from the operator-controlled models folder (``TRAINYARD_MODELS_DIR``,
  default ``$TRAINYARD_HOME/models``), resolved with symlinks followed (``user_weights``).
  Whoever can write that folder can run code on a worker (Ultralytics ``.pt`` files unpickle);
  that is the operator, by design.

Anything else is refused with ``UntrustedModelError`` naming the file and where to put it.
"""
from __future__ import annotations

from pathlib import Path

from engine.digests import sha256_file
from engine.safeio import is_within

__all__ = ["UntrustedModelError", "models_dir", "user_weights", "verify_recorded"]


class UntrustedModelError(ValueError):
    """A model file outside the trust boundary, or one whose digest no longer matches its record."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "untrusted model file"


def models_dir() -> Path:
    """The operator's models folder (created on first use)."""
    from settings import get_settings

    folder = get_settings().resolved_models_dir
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def user_weights(name: str | Path, *, what: str = "weights", must_exist: bool = True) -> Path:
    """Resolve user-supplied ``name`` inside the models folder, or refuse it.

    A relative name is looked up under the models folder; an absolute one must resolve (symlinks
    followed) inside it. Returns the resolved path.
    """
    base = models_dir().resolve()
    try:
        raw = Path(str(name)).expanduser()
    except RuntimeError:  # "~someone" naming no user of this machine
        raise UntrustedModelError(f"{what} {str(name)!r}: '~' names no user's home folder here; name the file "
                                  f"relative to the models folder {base}") from None
    candidate = (raw if raw.is_absolute() else base / raw).resolve()
    if not is_within(candidate, base):
        raise UntrustedModelError(
            f"{what} {str(name)!r} is outside the models folder {base}: user-supplied model files load only "
            f"from there (they can run code when loaded). Ask the operator to copy the file into {base} "
            f"(setting TRAINYARD_MODELS_DIR) and name it relative to that folder.")
    if must_exist and not candidate.exists():
        raise FileNotFoundError(
            f"{what} {str(name)!r} not found in the models folder {base}; put the file there first "
            f"(nothing is downloaded at run time)")
    return candidate


def verify_recorded(path: str | Path, expected_sha256: str | None, *, what: str = "model file") -> Path:
    """Return ``path`` when its sha256 equals the digest recorded when Trainyard wrote it."""
    p = Path(path)
    if not expected_sha256:
        raise UntrustedModelError(f"{what} {p} has no recorded sha256; Trainyard loads only files it registered")
    if not p.is_file():
        raise FileNotFoundError(f"{what} {p} is missing on this machine")
    actual = sha256_file(p)
    if actual != expected_sha256:
        raise UntrustedModelError(
            f"{what} {p} changed on disk since Trainyard wrote it (sha256 {actual[:12]}… ≠ recorded "
            f"{expected_sha256[:12]}…); refusing to load it")
    return p

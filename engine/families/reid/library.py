"""How Trainyard loads torchreid 0.2.5: quietly and offline.

``import torchreid`` warns that its Cython ranking is not compiled (the pure-Python evaluation
gives the same numbers) and its builders print progress to stdout; both are kept out of the run
log. Pretrained ImageNet weights would be fetched with gdown inside ``build_model(pretrained=True)``,
so models are always built with ``pretrained=False`` and weights load only through
``engine.trust`` (see ``weights``).
"""
from __future__ import annotations

import contextlib
import io
import warnings
from types import ModuleType
from typing import Any

__all__ = ["torchreid", "quiet"]


def torchreid() -> ModuleType:
    """The ``torchreid`` package, imported without its Cython warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Cython evaluation", category=UserWarning)
        import torchreid as tr
    return tr


@contextlib.contextmanager
def quiet() -> Any:
    """Swallow what torchreid prints (transform lists, summaries) while building things."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield

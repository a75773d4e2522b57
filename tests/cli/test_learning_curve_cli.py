"""``python -m engine learning-curve``: bad fractions and repeats are refused with exit status 2
before anything is queued (the queue and the database stay as they were)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cli import main
from db.models import Run, Sweep
from db.session import session_scope


def _counts():
    with session_scope() as s:
        return tuple(s.exec(select(func.count()).select_from(t)).one() for t in (Run, Sweep))


@pytest.mark.parametrize("args, message", [
    (["--fractions", "0,0.5,1"], "must lie in (0, 1]"),
    (["--fractions", "0.5,1.5"], "must lie in (0, 1]"),
    (["--fractions", "a,1"], "is not a number"),
    (["--repeats", "0"], "repeats"),
])
def test_bad_study_arguments_exit_2_and_queue_nothing(stack, capsys, args, message):
    before = _counts()
    code = main(["learning-curve", "anomaly", "--dataset", "no-such-dataset", *args]) if "--repeats" not in args \
        else main(["learning-curve", "toy", *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "nothing was queued" in err, err
    assert _counts() == before

"""Long lists under AppTest page through the database: the Sweeps and Learning-curve pickers and a
model scope's versions show one page, a page number, and a search that narrows them; a page
number the search made too large falls back to the last page."""
from __future__ import annotations

import uuid

from db import queries
from db.session import session_scope
from tests.pages.test_pages import open_page


def _sweeps(word: str, n: int, kind: str) -> list[int]:
    with session_scope() as s:
        return [queries.create_sweep(session=s, name=f"{word}-{i:02d}", family="toy", space={}, method="random",
                                     metric="val/loss", direction="minimize", max_trials=2, parallel=1, pruner="none",
                                     kind=kind).id for i in range(n)]


def _opened(page: str, key: str, word: str):
    at = open_page(page)
    at.run()
    at.text_input(key=f"{key}-search").set_value(word).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_sweeps_picker_pages_and_searches(stack):
    word = f"pg{uuid.uuid4().hex[:6]}"
    ids = _sweeps(word, 25, "search")
    at = _opened("pages/9_Sweeps.py", "sweeps", word)
    box = at.selectbox(key="sweeps-pick")
    assert len(box.options) == 20 and box.value.id == ids[-1]  # newest first, one page of 20
    at.number_input(key="sweeps-page").set_value(2).run()
    assert not at.exception
    assert [o for o in at.selectbox(key="sweeps-pick").options] == [f"#{i} {word}-{n:02d} · toy · running"
                                                                    for n, i in reversed(list(enumerate(ids[:5])))]
    at.text_input(key="sweeps-search").set_value(f"{word}-03").run()  # one match: page 2 no longer exists
    assert not at.exception and at.selectbox(key="sweeps-pick").value.id == ids[3]
    assert at.query_params["sweep"] == str(ids[3])
    at.text_input(key="sweeps-search").set_value(f"{word}-nothing").run()
    assert any("No sweep matches this search" in i.value for i in at.info)


def test_a_study_link_opens_its_study_wherever_it_pages(stack):
    word = f"pg{uuid.uuid4().hex[:6]}"
    ids = _sweeps(word, 23, "curve")
    at = open_page("pages/10_Learning_Curve.py")
    at.query_params["study"] = str(ids[0])  # the oldest: not on the first page of 20
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="studies-pick").value.id == ids[0]
    at = _opened("pages/10_Learning_Curve.py", "studies", word)
    assert len(at.selectbox(key="studies-pick").options) == 20 and at.number_input(key="studies-page").value == 1


def test_a_scope_of_many_versions_pages_and_the_search_finds_one(stack):
    scope = f"pg-{uuid.uuid4().hex[:6]}"
    with session_scope() as s:
        runs = [queries.create_run(session=s, family="anomaly", config={}, name=f"{scope}-r{i}").id for i in range(60)]
        versions = [queries.register_model_version(session=s, run_id=r, family="anomaly", artifact_path="m.pt",
                                                   scope=scope, activate=False).id for r in runs]
    at = open_page("pages/8_Models.py")
    at.run()
    at.selectbox(key="family").set_value("anomaly").run()
    at.selectbox(key="scope").set_value((None, scope)).run()
    assert not at.exception, [e.message for e in at.exception]
    assert f"({len(versions)} versions)" in at.selectbox(key="scope").format_func(at.selectbox(key="scope").value)
    table = next(d.value for d in at.dataframe if "version" in d.value.columns)
    assert list(table["version"]) == versions[::-1][:50]
    at.number_input(key="version-page").set_value(2).run()
    table = next(d.value for d in at.dataframe if "version" in d.value.columns)
    assert list(table["version"]) == versions[::-1][50:]
    at.text_input(key="version-search").set_value(f"{scope}-r17").run()
    assert not at.exception
    assert at.selectbox(key="version").options == [f"#{versions[17]} · candidate · run #{runs[17]}"]
    assert "No version of this scope matches" not in " ".join(i.value for i in at.info)
    at.text_input(key="version-search").set_value("no-such-run").run()
    assert any("No version of this scope matches this search" in i.value for i in at.info)


def test_comparison_sweep_filter_searches_sweeps_beyond_the_newest(stack):
    """The Comparison filter takes a sweep by id or name from any number of sweeps (it listed the newest 200)."""
    word = f"cmp{uuid.uuid4().hex[:6]}"
    old = _sweeps(word, 1, "search")[0]
    _sweeps(f"{word}x", 3, "search")
    with session_scope() as s:
        trial = queries.create_run(session=s, family="toy", config={}, name=f"{word}-trial", sweep_id=old)
        other = queries.create_run(session=s, family="toy", config={}, name=f"{word}-other")
    at = open_page("pages/4_Model_Comparison.py")
    at.run()
    at.multiselect(key="f-status").set_value([]).run()
    at.text_input(key="f-sweep").set_value(f"#{old}").run()
    assert not at.exception, [e.message for e in at.exception]
    options = at.multiselect(key="runs").options
    assert any(f"#{trial.id} " in o for o in options) and not any(f"#{other.id} " in o for o in options)
    at.text_input(key="f-sweep").set_value(f"{word}-00").run()
    assert [o for o in at.multiselect(key="runs").options if word in o] == [o for o in options if word in o]

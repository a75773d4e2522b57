"""One page of a long list: the database counts and pages, the page shows a page number.

Every list that can grow with use (runs, sweeps, studies, model versions) goes through
``page_of``, so a database of ten thousand runs costs one page's rows and one count per draw."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import streamlit as st

Fetch = Callable[[int, int], "tuple[Sequence[Any], int]"]


def page_of(fetch: Fetch, *, key: str, size: int, where: Any = None, noun: str = "items") -> tuple[list, int]:
    """``fetch(offset, limit) -> (rows, total)`` for the page the widget ``key`` holds, then the
    page-number input (in ``where``, a column or container) when there is more than one page.
    A page number the filters made too large goes back to the last page instead of showing none."""
    where = where if where is not None else st
    wanted = st.session_state.get(key, 1)
    wanted = wanted if isinstance(wanted, int) and wanted >= 1 else 1
    rows, total = fetch((wanted - 1) * size, size)
    pages = max(1, -(-int(total) // size))
    if wanted > pages:
        wanted = pages
        st.session_state[key] = pages
        rows, total = fetch((wanted - 1) * size, size)
    if pages > 1:
        where.number_input("Page", min_value=1, max_value=pages, step=1, key=key,
                           help=f"{total} {noun} match; {size} a page")
    else:
        st.session_state.pop(key, None)
    return list(rows), int(total)


def sweep_picker(*, kind: str, param: str, label: str, key: str, size: int = 20):
    """The sweep (or learning-curve study) a page shows: a search box, one page of matches and a
    pick, ``?{param}=ID`` opening that one wherever it pages. None when nothing matches; the
    caller says why (``searched`` tells an empty database from an empty search)."""
    from db import queries
    from db.session import session_scope

    cols = st.columns([3, 1])
    search = cols[0].text_input(f"Search {label.lower()}s", key=f"{key}-search",
                                placeholder="id, name, family, status, metric, dataset or date (2026-12-03)")
    wanted = st.query_params.get(param)
    wanted_id = int(wanted) if wanted and wanted.isdigit() else None
    with session_scope() as s:
        found, total = page_of(lambda offset, limit: queries.search_sweeps(
            session=s, query=search, kind=kind, offset=offset, limit=limit), key=f"{key}-page", size=size,
            where=cols[1], noun=f"{label.lower()}s")
        if wanted_id is not None and not search and wanted_id not in {w.id for w in found}:
            linked = queries.get_sweep(session=s, sweep_id=wanted_id)
            found = ([linked] if linked is not None and linked.kind == kind else []) + found
    if not found:
        return None, bool(search)
    ids = [w.id for w in found]
    picked = st.selectbox(label, found, index=ids.index(wanted_id) if wanted_id in ids else 0, key=f"{key}-pick",
                          format_func=lambda w: f"#{w.id} {w.name} · {w.family} · {w.status}",
                          help=f"{total} match; this page shows {len(found)}" if total > len(found) else None)
    st.query_params[param] = str(picked.id)
    return picked, bool(search)

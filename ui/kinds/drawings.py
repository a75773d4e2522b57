"""Data sufficiency for ``drawings`` datasets: drawings per age group against ``min_samples``,
automatic groups, merge suggestions, subject and label balance, image problems, embeddings,
and adding drawings by upload. The maths lives in ``engine.families.anomaly.sufficiency``
(no training library is imported here)."""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from db import queries
from db.models import Dataset
from db.session import session_scope
from engine.families.anomaly.config import TINY_BACKBONE, parse_age_groups
from engine.families.anomaly.data import check_image
from engine.families.anomaly.sufficiency import (
    DEFAULT_MIN_SAMPLES,
    RECOMMENDED_SAMPLES,
    auto_age_groups,
    flag_counts,
    group_stats,
    merge_suggestions,
)
from ui.charts import categorical
from ui.clone import prefill_launch

__all__ = ["render_sufficiency"]

_PROBLEM_KINDS = (("corrupt", "corrupt or unreadable"), ("file not found", "missing file"),
                  ("outside the accepted", "age out of range"), ("not a number", "bad age"),
                  ("no row", "image without metadata"), ("10 MB", "too large"), ("not a PNG", "wrong format"))


def _problem_kind(text: str) -> str:
    return next((name for needle, name in _PROBLEM_KINDS if needle in text), "other")


def render_sufficiency(dataset: Dataset) -> None:
    with session_scope() as s:
        samples = queries.dataset_samples(session=s, dataset_id=dataset.id)
        embedded = queries.embedding_backbones(session=s, dataset_id=dataset.id)
    if not samples:
        st.warning("This dataset has no valid drawings.")
        _upload(dataset)
        return
    ages = [smp.group_value for smp in samples if smp.group_value is not None]
    key = f"drawings-{dataset.id}"
    c = st.columns([1, 2])
    minimum = int(c[0].number_input("min_samples per age group", min_value=1, value=DEFAULT_MIN_SAMPLES, key=f"{key}-min",
                                    help=f"Normal drawings needed to train a group's model; {RECOMMENDED_SAMPLES} "
                                         "are recommended. The Launch page blocks groups below it."))
    auto = ",".join(g.label for g in auto_age_groups(ages, RECOMMENDED_SAMPLES))
    text = c[1].text_input("Age groups", value=auto, key=f"{key}-groups",
                           help="Comma-separated LO-HI ranges in years (lo <= age < hi). The default is computed "
                                f"from the age distribution: whole years merged until each group has {RECOMMENDED_SAMPLES}.")
    try:
        groups = parse_age_groups(text)
    except ValueError as exc:
        st.error(str(exc))
        return
    stats = group_stats(samples, groups)
    n_anom = sum(st_.anomalous for st_ in stats)
    cols = st.columns(4)
    cols[0].metric("drawings", len(samples))
    cols[1].metric("ages", f"{min(ages):g}–{max(ages):g}")
    cols[2].metric("labelled anomalous", sum(1 for smp in samples if (smp.label or "") == "anomalous"))
    cols[3].metric("groups below minimum", sum(1 for st_ in stats if st_.normal < minimum))
    st.caption(f"Automatic age groups from the distribution: **{auto}**")

    frame = pd.DataFrame([{"age group": st_.label, "normal": st_.normal, "anomalous": st_.anomalous,
                           "status": "enough" if st_.normal >= RECOMMENDED_SAMPLES else
                           ("above minimum" if st_.normal >= minimum else "below minimum")} for st_ in stats])
    left, right = st.columns(2)
    with left:
        fig = categorical(px.bar(frame, x="age group", y="normal", color="status", title="Normal drawings per age group",
                                 color_discrete_map={"enough": "#2ca02c", "above minimum": "#ff7f0e",
                                                     "below minimum": "#d62728"}))
        fig.add_hline(y=minimum, line_dash="dot", annotation_text=f"min_samples {minimum}")
        fig.add_hline(y=RECOMMENDED_SAMPLES, line_dash="dash", annotation_text=f"recommended {RECOMMENDED_SAMPLES}")
        st.plotly_chart(fig, width="stretch")
    with right:
        ages_frame = pd.DataFrame({"age (years)": ages, "label": [smp.label or "unlabelled" for smp in samples
                                                                 if smp.group_value is not None]})
        st.plotly_chart(px.histogram(ages_frame, x="age (years)", color="label", nbins=max(8, int(max(ages) - min(ages)) * 2),
                                     title="Age distribution"), width="stretch")

    short = [st_ for st_ in stats if st_.normal < minimum]
    merges = merge_suggestions(stats, minimum)
    for st_ in short:
        st.warning(f"Age group {st_.label} has {st_.normal} normal drawing(s), below min_samples={minimum}.")
    for i, m in enumerate(merges):
        box = st.columns([5, 1], vertical_alignment="center")
        (box[0].info if m.enough else box[0].warning)(f"Suggestion: {m}.")
        if box[1].button("Apply", key=f"{key}-merge-{i}", help="open the Launch page with these age groups, the "
                         "merged one in place of the groups it joins, and this min_samples"):
            launch_groups = _merged(groups, m)
            prefill_launch(family="anomaly", dataset_id=dataset.id,
                           config={"age_groups": launch_groups, "min_samples": minimum},
                           note=f"Age groups from the Data Sufficiency page, with {' + '.join(m.groups)} merged into "
                                f"{m.merged}: {', '.join(launch_groups)}.")
    if not short:
        st.success(f"Every age group has at least {minimum} normal drawings.")
    uncovered = sum(1 for a in ages if not any(g.contains(a) for g in groups))
    if uncovered:
        st.caption(f"{uncovered} drawing(s) fall outside these age groups.")

    left, right = st.columns(2)
    subj = pd.DataFrame([{"age group": st_.label, "subject": k, "drawings": v}
                         for st_ in stats for k, v in st_.subjects.items()])
    labels = pd.DataFrame([{"age group": st_.label, "label": k, "drawings": v}
                           for st_ in stats for k, v in st_.labels.items()])
    if not subj.empty:
        left.plotly_chart(categorical(px.bar(subj, x="age group", y="drawings", color="subject",
                                             title="Subject balance")), width="stretch")
        right.plotly_chart(categorical(px.bar(labels, x="age group", y="drawings", color="label",
                                              title="Label balance")), width="stretch")
    if n_anom == 0:
        st.info("No drawing in these groups is labelled anomalous: models train, but AUROC, precision and "
                "recall cannot be measured.")

    flags = flag_counts(samples)
    problems = Counter(_problem_kind(p) for p in (dataset.summary or {}).get("problems", []))
    issues = [{"problem": f"{k} (imported, flagged)", "files": v} for k, v in flags.items()]
    issues += [{"problem": f"{k} (not imported)", "files": v} for k, v in problems.items()]
    if issues:
        st.plotly_chart(categorical(px.bar(pd.DataFrame(issues), x="problem", y="files", title="Image problems")),
                        width="stretch")
    else:
        st.caption("No image problems: every file decoded, none tiny or blank.")

    _embeddings(dataset, len(samples), embedded)
    _upload(dataset)


def _merged(groups, merge) -> list[str]:
    """The age groups as labels, those ``merge`` joins replaced by the merged one, youngest first."""
    joined = set(merge.groups)
    labels = sorted({g.label for g in groups if g.label not in joined} | {merge.merged},
                    key=lambda label: parse_age_groups(label)[0].lo)
    return labels


def _embeddings(dataset: Dataset, total: int, embedded: dict[str, int]) -> None:
    with st.expander("Embeddings"):
        st.caption("Each run embeds its age group's drawings the first time; stored vectors are reused by every run.")
        for name, n in sorted(embedded.items()):
            st.progress(min(n / total, 1.0), text=f"{name}: {n} of {total} drawings embedded")
        backbone = st.text_input("Backbone", value=TINY_BACKBONE, key=f"emb-{dataset.id}-backbone",
                                 help="tiny-vit (offline demo) or a hub name / local folder such as "
                                      "google/vit-base-patch16-224-in21k")
        if st.button("Compute missing embeddings now", key=f"emb-{dataset.id}-go"):
            from jobs import api

            job_id = api.submit_embedding(dataset_id=dataset.id, backbone=backbone)
            st.success(f"Queued embedding job {job_id[:8]}; coverage updates here as it runs.")


def _upload(dataset: Dataset) -> None:
    with st.expander("Add drawings"):
        st.caption("PNG, JPEG or BMP, at most 10 MB each; every file is decoded before it is kept.")
        files = st.file_uploader("Drawings", type=["png", "jpg", "jpeg", "bmp"], accept_multiple_files=True,
                                 key=f"up-{dataset.id}")
        c = st.columns(3)
        age = c[0].number_input("age_years", min_value=2.0, max_value=18.0, value=6.0, step=0.5, key=f"up-{dataset.id}-age")
        subject = c[1].text_input("subject", key=f"up-{dataset.id}-subject")
        label = c[2].selectbox("expert_label", ["", "normal", "anomalous"], key=f"up-{dataset.id}-label")
        if not files or not st.button("Add to dataset", key=f"up-{dataset.id}-go"):
            return
        root = Path(dataset.root)
        meta = root / "metadata.csv"
        if not meta.exists():
            st.error("This dataset has no metadata.csv to add rows to.")
            return
        (root / "uploads").mkdir(exist_ok=True)
        with open(meta, newline="") as fh:
            fields = csv.DictReader(fh).fieldnames or ["filename", "age_years", "subject", "expert_label"]
        kept = []
        for f in files:
            data = f.getvalue()
            _, reason = check_image(data, f.name)
            if reason:
                st.error(f"`{f.name}`: {reason}")
                continue
            rel = f"uploads/{Path(f.name).name}"
            (root / rel).write_bytes(data)
            kept.append({"filename": rel, "age_years": age, "subject": subject, "expert_label": label})
        if kept:
            with open(meta, "a", newline="") as fh:
                csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore").writerows(kept)
            from jobs.datasets import import_dataset

            _, report = import_dataset(name=dataset.name, kind=dataset.kind, root=root, replace=True)
            st.success(f"Added {len(kept)} drawing(s); the dataset now has {len(report.samples)}.")

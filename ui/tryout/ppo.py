"""``ppo`` model views: the agent against VTracer's defaults per category (a finished run), and
Try Model (original, the agent's SVG render and the defaults' render side by side, with SSIM,
parameters and the SVG to download). Predictions run on a worker; nothing heavy is imported."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from db import queries
from db.models import ModelVersion, Run
from db.session import session_scope
from engine.families.ppo.config import CATEGORIES
from jobs import api
from ui.charts import categorical

__all__ = ["render_results", "render_try", "agent_vs_defaults"]


def agent_vs_defaults(summary: dict, split: str) -> pd.DataFrame:
    """One row per category with the agent's and the defaults' mean SSIM on ``split``."""
    rows = []
    for cat in CATEGORIES:
        if f"{split}/{cat}/ssim" in summary:
            agent, default = summary[f"{split}/{cat}/ssim"], summary[f"{split}/{cat}/default_ssim"]
            rows.append({"category": cat, "agent SSIM": agent, "default SSIM": default, "gain": agent - default,
                         "success rate": summary.get(f"{split}/{cat}/success_rate")})
    return pd.DataFrame(rows)


def render_results(run: Run) -> None:
    summary = run.summary or {}
    split = st.radio("Images", ["test", "val"], horizontal=True, key=f"ppo-results-{run.id}-split",
                     format_func=lambda s: {"test": "test (held out)", "val": "validation"}[s])
    frame = agent_vs_defaults(summary, split)
    if frame.empty:
        st.info("This run has no evaluation yet (it reports one when training ends).")
        return
    cols = st.columns(3)
    cols[0].metric("mean SSIM reached", f"{summary.get(f'{split}/ssim', float('nan')):.3f}",
                   delta=f"{summary.get(f'{split}/ssim', 0) - summary.get(f'{split}/default_ssim', 0):+.3f} vs defaults")
    cols[1].metric("success rate", f"{summary.get(f'{split}/success_rate', float('nan')):.0%}")
    cols[2].metric("categories at or above defaults",
                   f"{int(summary.get(f'{split}/categories_matching_defaults', 0))} of {len(frame)}")
    long = frame.melt(id_vars="category", value_vars=["agent SSIM", "default SSIM"], var_name="parameters",
                      value_name="SSIM")
    st.plotly_chart(categorical(px.bar(long, x="category", y="SSIM", color="parameters", barmode="group",
                           title="Agent vs VTracer defaults per category")), width="stretch",
                    key=f"ppo-results-{run.id}-chart")
    st.dataframe(frame.round(4), hide_index=True, width="stretch")


def _image_source(key: str) -> tuple[bytes | None, str]:
    source = st.radio("Logo", ["Upload", "Pick from a dataset"], horizontal=True, key=f"{key}-source")
    if source == "Upload":
        upload = st.file_uploader("Logo image", type=["png", "jpg", "jpeg", "bmp", "webp"], key=f"{key}-upload")
        return (upload.getvalue(), upload.name) if upload is not None else (None, "")
    with session_scope() as s:
        datasets = queries.list_datasets(session=s, kind="logos")
    if not datasets:
        st.info("No logos dataset imported yet.")
        return None, ""
    ds = st.selectbox("Dataset", datasets, format_func=lambda d: d.name, key=f"{key}-dataset")
    with session_scope() as s:
        samples = [x for x in queries.dataset_samples(session=s, dataset_id=ds.id) if (x.meta or {}).get("usable")]
    if not samples:
        return None, ""
    smp = st.selectbox("Image", samples, format_func=lambda x: f"{x.path} · {x.label} · {x.split}", key=f"{key}-sample")
    from engine.safeio import UnsafeFile, inside

    try:
        return inside(Path(ds.root), smp.path).read_bytes(), smp.path
    except (UnsafeFile, OSError) as exc:
        st.error(f"{smp.path}: {exc}")
        return None, ""


def render_try(model: ModelVersion) -> None:
    key = f"ppo-try-{model.id}"
    data, name = _image_source(key)
    category = st.selectbox("Category", ["auto", *CATEGORIES], key=f"{key}-category",
                            help="auto plays one episode per category and keeps the best result")
    if data is None:
        return
    if not st.button("Vectorise", type="primary", key=f"{key}-run"):
        st.image(data, caption=name, width=256)
        return
    try:
        with st.spinner("The agent is choosing parameters on a worker…"):
            out = api.request_prediction(model.id, {"image": data, "category": category}, timeout_s=300)
    except (TimeoutError, RuntimeError, ValueError) as exc:
        st.error(str(exc))
        return
    default = out["default"]
    cols = st.columns(3)
    cols[0].image(out["original_png"], caption=f"original ({out['width']}×{out['height']})", width="stretch")
    cols[1].image(out["image_png"], caption=f"agent: SSIM {out['ssim']:.3f} · {out['svg_bytes']:,} bytes",
                  width="stretch")
    cols[2].image(default["image_png"], caption=f"VTracer defaults: SSIM {default['ssim']:.3f} · "
                  f"{default['svg_bytes']:,} bytes", width="stretch")
    m = st.columns(4)
    m[0].metric("agent SSIM", f"{out['ssim']:.3f}", delta=f"{out['ssim'] - default['ssim']:+.3f} vs defaults")
    m[1].metric("PSNR", f"{out['psnr']:.1f} dB")
    m[2].metric("category", out["category"], help=f"target SSIM {out['target']:.2f}")
    m[3].metric("steps", out["steps"])
    st.dataframe(pd.DataFrame([{"parameter": k, "agent": v, "default": default["params"][k]}
                               for k, v in out["params"].items()]), hide_index=True, width="stretch")
    st.download_button("Download SVG", out["svg"], file_name=f"{Path(name).stem or 'logo'}.svg",
                       mime="image/svg+xml", key=f"{key}-download")

"""Releases: the published releases, their manifests and verify status; promote a design.

Reads ``<results>/releases`` through ``dse.release``. When that module cannot be imported
(an older install) the page says so and the promote action is hidden. Promote is an action:
offered only by ``dse dashboard --allow-actions``, to a session that typed the token.
"""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from app import _actions, _data, _ui
from dse.errors import DseError

_LOG = logging.getLogger("dse.dashboard")
st.title("Releases")
src = _ui.source()
try:
    from dse import release as rel
except ImportError as exc:  # promote not available in this install
    st.info(f"Releases need `dse.release`, which this install does not have ({exc}).")
    st.stop()

releases = rel.list_releases(src.results)
if not releases:
    st.info(
        f"No releases under {rel.releases_root(src.results)} yet. Promote a design below or "
        "with `dse promote STUDY TRIAL --name NAME`."
    )
else:
    rows = []
    for r in releases:
        rows.append(
            {
                "release": r.name,
                "study": r.study,
                "trial": r.trial,
                "flow": r.flow,
                "host": r.host,
                "timing met": r.timing_met,
                "created": r.created_at,
                "error": r.error or "",
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="releases_table")
    names = [r.name for r in releases]
    name = st.selectbox("Release", names, key="releases_pick")
    chosen = releases[names.index(name)]
    if chosen.error:
        st.error(chosen.error)
    else:
        try:
            report = rel.verify_release(src.results, name)
        except rel.ReleaseError as exc:
            st.error(str(exc))
        else:
            if report.ok:
                st.success(
                    f"Verified: all {report.checked} files, their modes and the manifest match. "
                    f"Release digest sha256:{report.digest}"
                )
            else:
                found = report.problems()
                st.error(
                    f"Verify FAILED ({len(found)} findings): "
                    + "; ".join(f"{kind}: {what}" for kind, what in found[:8])
                    + (" …" if len(found) > 8 else "")
                )
        if chosen.bitstream is not None:
            st.markdown(f"Bitstream: `{chosen.bitstream}`")
        a, b = st.columns(2)
        a.markdown("Parameters")
        a.json(chosen.parameters, expanded=True)
        b.markdown("Measured")
        b.json(chosen.measured, expanded=True)
        with st.expander("manifest.json"):
            st.json(chosen.manifest, expanded=1)

st.subheader("Promote a design")
if not _actions.unlock("promote"):
    st.stop()
study, url = _ui.study_or_stop()
data = _ui.load(url, study)
# The front and the built trials, with their builds' timing slack (_data.promote_candidates).
candidates = _data.promote_candidates(data, _ui.builds(url, study)[0])
config = data.attrs.get("dse:config") or {}
flow_default, flows_ok, part = _data.promote_flows(config, list(rel.RELEASE_FLOWS))
templates = _data.promote_templates(config)
if len(candidates):
    st.dataframe(candidates.drop(columns="label"), hide_index=True, key="promote_candidates")
    labels = candidates["label"].tolist()
    kept = st.session_state.get(_ui.TRIAL_KEY)
    hit = candidates.index[candidates["number"] == kept].tolist()
    pick = st.selectbox(
        "Promote which trial (the front and every built trial)",
        labels,
        index=int(hit[0]) if hit else 0,
        key="promote_pick",
    )
    default = int(candidates["number"].iloc[labels.index(pick)])
else:
    default = int(st.session_state.get(_ui.TRIAL_KEY, 0))
with st.form("promote"):
    c = st.columns(3)
    trial = int(c[0].number_input("Trial", min_value=0, value=default, step=1, key="promote_trial"))
    name_in = c[1].text_input("Release name", value=f"{study}-t{trial}", key="promote_name")
    flow = c[2].selectbox(
        "Flow (for the study's platform)",
        flows_ok,
        index=flows_ok.index(flow_default) if flow_default in flows_ok else 0,
        key="promote_flow",
    )
    template = (
        st.selectbox("Template (default: the whole accelerator)", templates, key="promote_template")
        if templates
        else None
    )
    st.caption(
        f"Platform {config.get('platform')!r}: part {part or '(the flow default)'}; flows for "
        f"another vendor's parts are refused."
    )
    st.caption(
        "Builds the trial at bitstream fidelity here (this can take minutes) and publishes "
        f"it read-only under {rel.releases_root(src.results)}/NAME."
    )
    confirm = st.checkbox("I want to build and publish this release", key="promote_confirm")
    go = st.form_submit_button("Promote this design", disabled=False)
if go and not _actions.authorised():  # re-checked here: the form is not the guard
    st.error("Promote needs the action token.")
elif go and flow not in flows_ok:  # the form offers only these; refuse anything else
    st.error(f"Flow {flow!r} does not build for {config.get('platform')!r} (use {flows_ok}).")
elif go:
    if not confirm:
        st.warning("Tick the confirmation box first.")
    else:
        with st.status(f"Promoting trial {trial} as {name_in}…", expanded=True) as status:
            try:
                made = rel.promote(
                    study,
                    trial,
                    name_in,
                    flow=flow,
                    template=template,
                    results=src.results,
                    storage=url,
                    log=st.write,
                )
            except DseError as exc:  # one line that names the input; nothing published
                status.update(label=f"Promote failed: {exc}", state="error")
            except Exception as exc:  # details to the server log, not to the page
                _LOG.exception("dashboard: promote of trial %s as %s failed", trial, name_in)
                status.update(
                    label=f"Promote failed ({type(exc).__name__}); details are in the server log",
                    state="error",
                )
            else:
                status.update(label=f"Published {made.name} at {made.path}", state="complete")
                _ui.studies.clear()

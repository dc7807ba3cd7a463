"""GA4 events, one day at a time: the sessions starting on a day expanded column-wise into events, with their
traffic tags, event_params, cookieless pings and the export's quirks (late, duplicate, intraday-only rows):
day_frame."""
from __future__ import annotations

from datetime import datetime

import numpy as np
from numpy.random import Generator

from .distributions import (
    APP_PAGES, BOUNCE_DWELL_MEAN_MS, DAY, DWELL_MEAN_MS, KINDS, KIND_LANDINGS, KIND_REFERRER, LANDING_URLS, PAGES,
    PAGE_P, PAGE_TO_LANDING, PAGE_URLS, P_COOKIELESS, P_DUP_LINE, P_ENGAGED_STRING, P_LATE_EVENT, P_NOT_IN_INTRADAY,
    P_SID_REPR, P_TS_STRING, bern,
)
from .enrichment import Enrichment
from .schema import (
    E_ENGAGE, E_FIRST, E_FORM, E_LEAD, E_LOGIN, E_PV, E_SCROLL, E_START, INT, INT_STR, PARAM_KEYS, P_CAMP, P_ENG,
    P_ENGAGED, P_GCLID, P_LOC, P_MED, P_REF, P_SCROLL, P_SID, P_SNUM, P_SRC, STR,
)
from .world import COOKIELESS_PROFILES, Lookups, World


# ---------------------------------------------------------------------------------------------------------
# GA4 events, one day at a time.
# ---------------------------------------------------------------------------------------------------------


def _session_tags(w: World, kind: np.ndarray, style: np.ndarray, start: np.ndarray, sid_key: np.ndarray):
    """Per session: collected_traffic_source fields, event_params fields and the landing query string."""
    S = len(kind)
    cs, cm, cc, cg = (np.full(S, None, dtype=object) for _ in range(4))
    ps, pm, pc, pg = (np.full(S, None, dtype=object) for _ in range(4))
    query = np.full(S, "", dtype=object)
    months = np.datetime_as_string(start.astype("datetime64[s]"), unit="M")
    for i, k in enumerate(KINDS):
        m = kind == i
        if not m.any():
            continue
        if k.params:
            ps[m], pm[m], pc[m] = k.params
        if k.utm is None:
            continue
        src, med, camp = k.utm
        idx = np.flatnonzero(m)
        if camp and "{month}" in camp:
            uniq, inv = np.unique(months[idx], return_inverse=True)
            camps = np.array([camp.replace("{month}", datetime.strptime(x, "%Y-%m").strftime("%B").lower())
                              for x in uniq.tolist()], dtype=object)[inv]
        else:
            camps = np.full(len(idx), camp, dtype=object)
        gcl = (np.array([f"EAIaIQobChMI{x}" for x in sid_key[idx].tolist()], dtype=object) if k.gclid
               else np.full(len(idx), None, dtype=object))
        coll = style[idx] < 2
        par = style[idx] > 0
        ci, pi = idx[coll], idx[par]
        cs[ci], cm[ci], cc[ci], cg[ci] = src, med, camps[coll], gcl[coll]
        ps[pi], pm[pi], pc[pi], pg[pi] = src, med, camps[par], gcl[par]
        q = []
        for c, g in zip(camps.tolist(), gcl.tolist()):
            parts = [f"utm_source={src}&utm_medium={med}&utm_campaign={c}"] if src else []
            if g:
                parts.append(f"gclid={g}")
            q.append("?" + "&".join(parts))
        query[idx] = np.array(q, dtype=object)
    has_coll = (cs != None) | (cg != None)  # noqa: E711  (elementwise on object arrays)
    return (cs, cm, cc, cg, has_coll), (ps, pm, pc, pg), query


def day_frame(w: World, lk: Lookups, rng: Generator, d: int, eid0: int, en: Enrichment | None = None) -> dict:
    """The events of the sessions starting on day d, plus the day's cookieless pings, as columns.

    With `en`, the enrichment columns are added from its own random stream (the main `rng` draws the same).
    """
    lo, hi = int(w.day_lo[d]), int(w.day_lo[d + 1])
    s = {k: v[lo:hi] for k, v in w.s.items()}
    S = hi - lo
    start, pages = s["start"], s["pages"].astype(np.int64)
    # page views: time on page, path; the landing page depends on the traffic
    n_pv = int(pages.sum())
    pv_sess = np.repeat(np.arange(S), pages)
    pv_first = np.cumsum(pages) - pages
    pv_no = np.arange(n_pv) - pv_first[pv_sess]
    dwell = (rng.exponential(DWELL_MEAN_MS, n_pv) + 3000).astype(np.int64)
    bounce = pages[pv_sess] == 1
    dwell = np.where(bounce, (rng.exponential(BOUNCE_DWELL_MEAN_MS, n_pv) + 1000).astype(np.int64), dwell)
    excl = np.cumsum(dwell) - dwell
    pv_off = excl - excl[pv_first][pv_sess]
    last_pv = pv_first + pages - 1
    sess_len = pv_off[last_pv] + dwell[last_pv]
    total_dwell = sess_len
    path = rng.choice(len(PAGES), n_pv, p=PAGE_P)
    app = (s["login"][pv_sess] == 1) | (s["login"][pv_sess] == 2)
    app &= rng.random(n_pv) < 0.7
    path = np.where(app, len(PAGES) + rng.integers(0, len(APP_PAGES), n_pv), path)
    land = np.array([KIND_LANDINGS[k][x % len(KIND_LANDINGS[k])] for k, x in
                     zip(s["kind"].tolist(), s["landing"].tolist())], dtype=np.int64)
    (cs, cm, cc, cg, has_coll), (ps, pm, pc, pg), query = _session_tags(w, s["kind"], s["style"], start,
                                                                         start * 7 + s["dev"])
    later = s["later"]
    lat = np.flatnonzero(later >= 0)
    (lcs, lcm, lcc, lcg, lhas), (lps, lpm, lpc, lpg), lquery = _session_tags(
        w, np.maximum(later[lat], 0), np.zeros(len(lat), dtype=np.int64), start[lat], start[lat] * 11 + s["dev"][lat])
    later_row = np.full(S, -1)
    later_row[lat] = np.arange(len(lat))
    pv_land = pv_no == 0
    pv_url = np.where(pv_land, LANDING_URLS[land[pv_sess]] + query[pv_sess], PAGE_URLS[path])
    pv_plain = np.where(pv_land, LANDING_URLS[land[pv_sess]], PAGE_URLS[path])
    pv_landing = np.where(pv_land, land[pv_sess], PAGE_TO_LANDING[path])  # pv_plain as a LANDING_URLS index
    # the last page of a session with a later tag is that campaign's landing page
    pv_later = (pv_no == pages[pv_sess] - 1) & (pv_no > 0) & (later_row[pv_sess] >= 0)
    if pv_later.any():
        li = later_row[pv_sess[pv_later]]
        lk_land = np.array([KIND_LANDINGS[k][0] for k in later[lat][li].tolist()], dtype=np.int64)
        pv_url[pv_later] = LANDING_URLS[lk_land] + lquery[li]
        pv_plain[pv_later] = LANDING_URLS[lk_land]
        pv_landing[pv_later] = lk_land
    pv_ref = np.empty(n_pv, dtype=object)
    pv_ref[1:] = pv_plain[:-1]
    pv_ref[pv_land] = KIND_REFERRER[s["kind"][pv_sess[pv_land]]]

    # the events of each type: (session, offset ms, name, page index)
    blocks = []
    sess_all = np.arange(S)
    blocks.append((sess_all[s["first"]], np.zeros(int(s["first"].sum()), np.int64), E_FIRST))
    blocks.append((sess_all, np.zeros(S, np.int64), E_START))
    blocks.append((pv_sess, pv_off, E_PV))
    scroll = (dwell > 20_000) & (rng.random(n_pv) < 0.35)
    blocks.append((pv_sess[scroll], pv_off[scroll] + dwell[scroll] * 7 // 10, E_SCROLL))
    lg = (s["login"] == 1) | (s["login"] == 3)
    blocks.append((sess_all[lg], s["login_off"][lg] * 1000, E_LOGIN))
    fm = s["form"]
    blocks.append((sess_all[fm], s["form_off"][fm] * 1000, E_FORM))
    ld = s["lead"]
    blocks.append((sess_all[ld], s["form_off"][ld] * 1000 + 2500, E_LEAD))
    engaged = (pages >= 2) | (total_dwell >= 10_000) | fm
    # user_engagement as the page is left (navigation or background), with the time spent on it
    blocks.append((pv_sess, pv_off + dwell - 5, E_ENGAGE))
    sess = np.concatenate([b[0] for b in blocks]).astype(np.int64)
    off = np.concatenate([b[1] for b in blocks]).astype(np.int64)
    name = np.concatenate([np.full(len(b[0]), b[2], np.int8) for b in blocks])
    pv_own = np.full(len(sess), -1)
    o = len(blocks[0][0]) + len(blocks[1][0])
    pv_own[o:o + n_pv] = np.arange(n_pv)
    o2 = o + n_pv
    pv_own[o2:o2 + int(scroll.sum())] = np.flatnonzero(scroll)
    n = len(sess)
    pv_own[n - n_pv:] = np.arange(n_pv)
    # the page an event happened on: the last page view at or before it
    key = sess * (1 << 34) + off
    pv_key = pv_sess * (1 << 34) + pv_off
    page = np.maximum(np.searchsorted(pv_key, key, side="right") - 1, pv_first[sess])
    page = np.where(pv_own >= 0, pv_own, page)
    has_session = name != E_LEAD

    micros = rng.integers(0, 1000, n)
    ts = (start[sess] * 1_000_000 + s["jitter"][sess] + off * 1000 + np.where(off > 0, micros, 0))
    # user_id: after a login event, on every event of an already-logged-in session
    login_state = s["login"][sess]
    uid_on = ((login_state == 1) | (login_state == 3)) & (off >= s["login_off"][sess] * 1000)
    uid_on |= login_state == 2
    uid_on &= has_session
    uid = np.full(n, None, dtype=object)
    person = s["person"][sess]
    uid[uid_on] = np.where(login_state[uid_on] == 3, "undefined", w.p_uid[person[uid_on]])

    f = {"ts": ts, "name": name, "dev": s["dev"][sess].astype(np.int64), "uid": uid,
         "consent": s["consent"][sess].astype(np.int8)}
    # traffic tags: on session_start (unless on page_view only) and the landing page_view; a later tag
    tag_main = ((name == E_START) & ~s["pv_only"][sess]) | ((name == E_PV) & (pv_own >= 0) & (pv_no[page] == 0))
    tag_later = (name == E_PV) & (pv_own >= 0) & pv_later[page]
    coll = [np.full(n, None, dtype=object) for _ in range(4)]
    par = [np.full(n, None, dtype=object) for _ in range(4)]
    for arrs, src in ((coll, (cs, cm, cc, cg)), (par, (ps, pm, pc, pg))):
        for a, v in zip(arrs, src):
            a[tag_main] = v[sess[tag_main]]
    if tag_later.any():
        li = later_row[sess[tag_later]]
        for arrs, src in ((coll, (lcs, lcm, lcc, lcg)), (par, (lps, lpm, lpc, lpg))):
            for a, v in zip(arrs, src):
                a[tag_later] = v[li]
    f["has_coll"] = (tag_main & has_coll[sess])
    if tag_later.any():
        f["has_coll"][tag_later] = lhas[later_row[sess[tag_later]]]
    f["cs"], f["cm"], f["cc"], f["cg"] = coll

    # event_params
    kinds = np.full((len(PARAM_KEYS), n), -1, dtype=np.int8)
    vals = np.full((len(PARAM_KEYS), n), None, dtype=object)
    ints = np.zeros((len(PARAM_KEYS), n), dtype=np.int64)
    sid = start[sess]
    kinds[P_SID] = np.where(has_session, rng.choice(3, n, p=P_SID_REPR), -1)
    ints[P_SID] = sid
    as_text = kinds[P_SID] == STR
    vals[P_SID][as_text] = sid[as_text].astype(str).astype(object)
    kinds[P_SNUM] = np.where(has_session, np.where(rng.random(n) < 0.3, INT_STR, INT), -1)
    ints[P_SNUM] = s["num"][sess]
    loc = np.where(has_session, pv_url[page], None)
    loc[name == E_FORM] = pv_plain[page[name == E_FORM]]
    kinds[P_LOC] = np.where(loc != None, STR, -1)  # noqa: E711  (object array: elementwise)
    vals[P_LOC] = loc
    ref = np.where((name == E_PV) | (name == E_START) | (name == E_FIRST), pv_ref[page], None)
    kinds[P_REF] = np.where(ref != None, STR, -1)  # noqa: E711
    vals[P_REF] = ref
    for key, a in zip((P_SRC, P_MED, P_CAMP, P_GCLID), par):
        kinds[key] = np.where(a != None, STR, -1)  # noqa: E711
        vals[key] = a
    eng = np.full(n, -1, dtype=np.int64)
    eng[name == E_ENGAGE] = dwell[page[name == E_ENGAGE]]
    kinds[P_ENG] = np.where(eng >= 0, INT, -1)
    ints[P_ENG] = eng
    kinds[P_SCROLL] = np.where(name == E_SCROLL, INT, -1)
    ints[P_SCROLL] = 90
    engaged_now = engaged[sess] & has_session & ~((name == E_START) | (name == E_FIRST) |
                                                  ((name == E_PV) & (pv_own >= 0) & (pv_no[page] == 0)))
    kinds[P_ENGAGED] = np.where(engaged_now, np.where(rng.random(n) < P_ENGAGED_STRING, STR, INT), -1)
    ints[P_ENGAGED] = 1
    vals[P_ENGAGED] = "1"

    # cookieless pings: no user_pseudo_id, no ga_session_id
    n_sess_events = n
    ping_landing = np.zeros(0, dtype=np.int64)
    n_ping = max(1, int(rng.poisson(P_COOKIELESS * S))) if S else 0
    if n_ping:
        p_ts = (w.t0 + d * DAY) * 1_000_000 + rng.integers(0, DAY * 1_000_000, n_ping)
        two = rng.random(n_ping) < 0.6
        p_ts = np.r_[p_ts, p_ts[two]]
        p_name = np.r_[np.full(n_ping, E_PV, np.int8), np.full(int(two.sum()), E_START, np.int8)]
        m = len(p_ts)
        prof = lk.cookieless0 + rng.integers(0, COOKIELESS_PROFILES, n_ping)
        p_path = rng.choice(len(PAGES), n_ping, p=PAGE_P)
        p_loc = PAGE_URLS[np.r_[p_path, p_path[two]]]
        ping_landing = PAGE_TO_LANDING[np.r_[p_path, p_path[two]]]
        f = {k: np.concatenate([v, np.full(m, None, dtype=object) if v.dtype == object else np.zeros(m, v.dtype)])
             for k, v in f.items()}
        f["ts"][n:] = p_ts
        f["name"][n:] = p_name
        f["dev"][n:] = np.r_[prof, prof[two]]
        f["consent"][n:] = 2
        f["has_coll"][n:] = False
        kinds = np.concatenate([kinds, np.full((len(PARAM_KEYS), m), -1, np.int8)], axis=1)
        vals = np.concatenate([vals, np.full((len(PARAM_KEYS), m), None, dtype=object)], axis=1)
        ints = np.concatenate([ints, np.zeros((len(PARAM_KEYS), m), np.int64)], axis=1)
        kinds[P_LOC, n:] = STR
        vals[P_LOC, n:] = p_loc
        sess_late = np.r_[s["late"][sess], np.zeros(m, bool)]
    else:
        sess_late = s["late"][sess]
    n = len(f["ts"])
    for k in range(len(PARAM_KEYS)):
        f[f"k{k}"], f[f"v{k}"], f[f"i{k}"] = kinds[k], vals[k], ints[k]
    event_day = (f["ts"] // 1_000_000 - w.t0) // DAY
    u = rng.random(n)
    shift = np.where(u < P_LATE_EVENT[1], 2, np.where(u < P_LATE_EVENT[0] + P_LATE_EVENT[1], 1, 0))
    if n and not shift.any():
        shift[rng.integers(0, n)] = 1
    shift = np.maximum(shift, sess_late.astype(np.int64))
    f["day"] = event_day
    f["shard"] = event_day + shift
    f["dup"] = bern(rng, n, P_DUP_LINE, at_least=1 if n else 0)
    f["ts_str"] = rng.random(n) < P_TS_STRING
    f["intra"] = rng.random(n) >= P_NOT_IN_INTRADAY
    f["ecom"] = rng.random(n) < 1 / 6
    f["batch"] = np.where(rng.random(n) < 0.2, rng.integers(0, 10, n), -1)
    f["eid"] = eid0 + np.arange(n)
    if en is not None:
        pv_ms = (start[pv_sess] * 1_000_000 + s["jitter"][pv_sess] + pv_off * 1000) // 1000
        en.frame(f, d, dict(s=s, lo=lo, n0=n_sess_events, sess=sess, page=page, off=off, has_session=has_session,
                            pv_own=pv_own, pv_no=pv_no, pv_li=pv_landing, pv_ms=pv_ms, ping_li=ping_landing,
                            engaged=engaged))
    return f

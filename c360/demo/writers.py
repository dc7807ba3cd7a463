"""Writing a World to a source root: the CRM, product, marketing and seed CSVs (write_tables, with csv_field's
quoting), and the GA4 shards, day by day (write_ga4): formatted as JSON lines or arrow tables and handed to a writer
thread. FORMATS lists the daily shard formats."""
from __future__ import annotations

import gzip
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import numpy as np
from numpy.random import Generator

from .currency import cents_text, micro_text
from .distributions import (
    AMBIGUOUS_DOMAINS, DAY, DEAL_PRODUCTS, FX_USD, KINDS, KIND_INDEX, NON_CUSTOMER_STAGES, PAID, PERSONAL_DOMAINS,
    P_CSV_OFFSET, TITLES,
)
from .enrichment import Enrichment, LAST_CLICKS
from .events import day_frame
from .schema import (
    CONSENT_VALUE, DBL, EVENT_NAMES, EVENT_NAME_ARRAY, HEAD, HEAD_QUOTED, PARAM_KEYS, PIECES, PRIVACY_JSON,
    P_BATCH_ORDER, P_BATCH_PAGE, STR, STREAM_ID, TAIL, USER_LTV_JSON, export_arrow_schema,
)
from .world import Lookups, World, iso_text


FORMATS = ("jsonl.gz", "jsonl", "parquet")
GZIP_LEVEL = 6
CHUNK_ROWS = 50_000  # rows formatted and handed to the writer thread at a time


# ---------------------------------------------------------------------------------------------------------
# Files other than GA4: CRM, product users, ad spend, fx rates, email domains.
# ---------------------------------------------------------------------------------------------------------


def csv_field(v) -> str:
    """One CSV field as the data contract's files write it: empty for None, quoted only when it must be
    (a comma, quote or line break, or surrounding spaces, which must survive the reader)."""
    if v is None:
        return ""
    s = str(v)
    if any(c in s for c in ',"\n\r') or s != s.strip():
        return '"' + s.replace('"', '""') + '"'
    return s


def _write_csv(path: Path, header: tuple, columns: list) -> int:
    """Columns (equal-length sequences) -> CSV, header first, fields quoted only when needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = [list(c) for c in columns]
    lines = [",".join(header)]
    lines += [",".join(csv_field(v) for v in row) for row in zip(*cols)]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(data)
    return len(data)


def write_tables(w: World, out: Path) -> int:
    """The world's CSV files under `out` (contacts, deals, form submissions, product users, ad spend, fx rates when
    there are several currencies, email domains); returns the bytes written."""
    rng = w.rng
    size = 0
    synced = iso_text([w.t_end - 3600])[0]
    # lifecycle stage from the contact's live deals
    best = np.full(len(w.c_id), 3)  # 0 won, 1 open, 2 lost, 3 none
    live = ~w.k_deleted
    rank = np.array([0, 2, 1])[w.k_status]
    np.minimum.at(best, w.k_contact_row[live], rank[live])
    pre = rng.integers(0, len(NON_CUSTOMER_STAGES), len(w.c_id))
    stage = [("customer", "opportunity")[b] if b < 2 else NON_CUSTOMER_STAGES[p]
             for b, p in zip(best.tolist(), pre.tolist())]
    cp = w.c_person
    size += _write_csv(
        out / "crm/contacts.csv",
        ("contact_id", "email", "first_name", "last_name", "company_name", "job_title", "lifecycle_stage",
         "external_id", "created_at", "updated_at", "_fivetran_deleted", "_fivetran_synced"),
        [w.c_id.tolist(), w.c_email, [w.p_first[p] for p in cp.tolist()],
         [w.p_last[p] for p in cp.tolist()], [w.comp_name[w.p_comp[p]] for p in cp.tolist()],
         [TITLES[w.p_title[p]] for p in cp.tolist()], stage,
         [w.p_uid[p] if e else "" for p, e in zip(cp.tolist(), w.c_ext.tolist())],
         iso_text(w.c_created, rng, P_CSV_OFFSET), iso_text(w.c_updated),
         np.where(w.c_deleted, "true", "false").tolist(), [synced] * len(w.c_id)])
    closed = [c if s < 2 else "" for c, s in zip(iso_text(w.k_closed, rng, P_CSV_OFFSET).tolist(),
                                                 w.k_status.tolist())]
    size += _write_csv(
        out / "crm/deals.csv",
        ("deal_id", "contact_id", "deal_name", "amount", "currency", "stage", "created_at", "closed_at",
         "_fivetran_deleted"),
        [w.k_id.tolist(), w.c_id[w.k_contact_row].tolist(),
         [f"{w.comp_name[w.p_comp[p]]} {DEAL_PRODUCTS[k]}" for p, k in
          zip(w.k_person.tolist(), w.k_product.tolist())],
         cents_text(w.k_amount), [w.currencies[c] for c in w.k_currency.tolist()], w.k_stage,
         iso_text(w.k_created), closed, np.where(w.k_deleted, "true", "false").tolist()])
    o = w.f_order.tolist()
    size += _write_csv(
        out / "crm/form_submissions.csv", ("submission_id", "form_name", "email", "ga_client_id", "submitted_at"),
        [[f"FS-{i:07d}" for i in range(1, len(o) + 1)], [w.f_name[i] for i in o], [w.f_email[i] for i in o],
         [w.f_client[i] for i in o], w.f_when[w.f_order].tolist()])
    order = np.argsort(w.p_uid[w.u_person].astype(str), kind="stable")
    size += _write_csv(
        out / "product/users.csv", ("user_id", "email", "company_name", "plan", "signed_up_at", "last_login_at"),
        [w.p_uid[w.u_person][order].tolist(), [w.u_email[i] for i in order.tolist()],
         [w.u_company[i] for i in order.tolist()], [w.u_plan[i] for i in order.tolist()],
         iso_text(w.u_signed[order]), iso_text(w.u_last[order])])
    size += _write_ad_spend(w, out)
    fx = out / "marketing/fx_rates.csv"
    if len(w.currencies) > 1:
        rows = [(d.isoformat(), c, r) for i, c in enumerate(w.currencies) if i
                for d, r in zip(w.fx_dates, micro_text(w.fx_micros[i]))]
        rows.sort()
        size += _write_csv(fx, ("date", "currency", "rate"), list(zip(*rows)))
    elif fx.exists():  # a single currency: no rates (and none left from an earlier run into the same folder)
        fx.unlink()
    domains = ([(d, "personal") for d, _ in PERSONAL_DOMAINS] + [(d, "ambiguous") for d in AMBIGUOUS_DOMAINS]
               + [(d, "corporate") for d in sorted(set(w.comp_domain))])
    domains.sort()
    size += _write_csv(out / "seeds/email_domains.csv", ("domain", "classification"),
                       [[d for d, _ in domains], [c for _, c in domains]])
    return size


def _write_ad_spend(w: World, out: Path) -> int:
    rng, s, days = w.rng, w.s, w.days
    day = (s["start"] - w.t0) // DAY
    counts = np.bincount(day * len(KINDS) + s["kind"], minlength=days * len(KINDS)).reshape(days, len(KINDS))
    gclid = counts[:, KIND_INDEX["google_gclid_only"]]
    # costs per click are USD; in the reporting currency at its first weekly rate against USD
    report = 1.0 if w.currencies[0] == "USD" else (
        1e6 / w.fx_micros[w.currencies.index("USD")][0] if "USD" in w.currencies
        else FX_USD.get(w.currencies[0], 1.0))
    rows = []
    for d in range(days):
        for name, cpc in PAID:
            k = KINDS[KIND_INDEX[name]]
            clicks = counts[d, KIND_INDEX[name]] / 0.75 + rng.poisson(2)
            if name.startswith("google_cpc"):
                clicks += gclid[d] / 2 / 0.75
            spend = clicks * cpc * rng.lognormal(0, 0.15) / report  # in the reporting currency
            source = k.utm[0].capitalize() if rng.random() < 0.05 else k.utm[0]
            rows.append(((w.start + timedelta(days=d)).isoformat(), source, k.utm[1], k.utm[2],
                         cents_text([int(round(spend * 100))])[0]))
    return _write_csv(out / "marketing/ad_spend.csv", ("date", "source", "medium", "campaign", "spend"),
                      list(zip(*rows)) if rows else [[], [], [], [], []])


# ---------------------------------------------------------------------------------------------------------
# GA4 shards: each day's rows as JSON lines or an arrow table, written by a writer thread.
# ---------------------------------------------------------------------------------------------------------


def _concat(a: dict, b: dict) -> dict:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def _take(f: dict, idx: np.ndarray) -> dict:
    return {k: v[idx] for k, v in f.items()}


def _int64_json(values: np.ndarray, null: np.ndarray, quoted: np.ndarray) -> list:
    """INT64 values as JSON text: a number, a string on the rows written INT64-as-string, or null."""
    text = values.astype(str).astype(object)
    text = np.where(quoted, '"' + text + '"', text)
    return np.where(null, "null", text).tolist()


def _json_bytes(f: dict, lk: Lookups, en: Enrichment, day_str: np.ndarray, intraday: bool) -> bytes:
    """The rows of one shard as `bq extract` JSON lines.

    Each line is joined from pieces built column-wise: a head (date, timestamp, name), one piece per event_params
    key (empty when absent), and a tail (ids, consent, user, device, geo, traffic, batch, attribution).
    """
    n = len(f["ts"])
    if not n:
        return b""
    days = day_str[f["day"]].tolist()
    names = EVENT_NAME_ARRAY[f["name"]].tolist()
    head = [(HEAD_QUOTED if q else HEAD) % (d, t, nm)
            for d, t, nm, q in zip(days, f["ts"].tolist(), names, f["ts_str"].tolist())]
    pieces = []
    for k, (pre, post) in enumerate(PIECES[intraday]):
        kind = f[f"k{k}"]
        m = kind >= 0
        if not m.any():
            continue
        piece = np.full(n, "", dtype=object)
        km = kind[m]
        text = f[f"v{k}"][m]
        is_int = km < STR
        if is_int.any():
            text = text.copy()
            text[is_int] = f[f"i{k}"][m][is_int].astype(str).astype(object)
        piece[m] = pre[km] + text + post[km]
        pieces.append(piece.tolist())
    if not pieces:
        pieces.append([""] * n)
    # every piece starts with ',': drop it from the first piece of each row
    first = pieces[0]
    for i, p in enumerate(first):
        if p:
            first[i] = p[1:]
        else:
            for col in pieces[1:]:
                if col[i]:
                    col[i] = col[i][1:]
                    break
    uid = np.full(n, "null", dtype=object)
    has_uid = f["uid"] != None  # noqa: E711
    uid[has_uid] = '"' + f["uid"][has_uid] + '"'
    coll = np.full(n, "null", dtype=object)
    hc = np.flatnonzero(f["has_coll"])
    if len(hc):
        def j(v):
            return "null" if v is None else f'"{v}"'
        coll[hc] = [f'{{"manual_campaign_name":{j(c)},"manual_source":{j(s)},"manual_medium":{j(m)},'
                    f'"gclid":{j(g)}}}' for c, s, m, g in
                    zip(f["cc"][hc].tolist(), f["cs"][hc].tolist(), f["cm"][hc].tolist(), f["cg"][hc].tolist())]
    ecom = np.where(f["ecom"], ',"ecommerce":null', "").astype(object)
    batch = np.full(n, "", dtype=object)
    b = f["batch"] >= 0
    batch[b] = ',"batch_event_index":' + f["batch"][b].astype(str).astype(object)
    dev = f["dev"]
    quoted = f["ts_str"]  # a row written with INT64 as strings writes all its INT64 columns so
    value = np.full(n, "null", dtype=object)
    has_value = ~np.isnan(f["x_value"])
    value[has_value] = [repr(v) for v in f["x_value"][has_value].tolist()]
    order = f[f"i{P_BATCH_ORDER}"]
    no_order = f[f"k{P_BATCH_ORDER}"] < 0
    bundle = _int64_json(order, no_order, quoted)
    page_id = _int64_json(f[f"i{P_BATCH_PAGE}"], f[f"k{P_BATCH_PAGE}"] < 0, quoted)
    offset = _int64_json(f["x_offset"], f["x_offset"] < 0, quoted)
    first_touch = en.first_touch[dev]
    no_touch = first_touch < 0
    touch = _int64_json(first_touch, no_touch, quoted)
    ltv = np.where(no_touch, "null", USER_LTV_JSON).tolist()
    traffic = [""] * n if intraday else en.traffic_json[dev].tolist()
    tail = [TAIL % t for t in zip(
        value.tolist(), bundle, offset, uid.tolist(), lk.upid_json[dev].tolist(), PRIVACY_JSON[f["consent"]].tolist(),
        en.user_props_json[intraday][f["x_uprops"]].tolist(), touch, ltv,
        en.device_json[en.dev_profile[dev]].tolist(), en.geo_json[en.dev_geo[dev]].tolist(), traffic, ecom.tolist(),
        coll.tolist(), np.where(f["x_active"], "true", "false").tolist(), batch.tolist(), page_id,
        bundle,
        en.last_click_json[f["x_last_click"]].tolist())]
    # encoded row by row: one non-ASCII row (a city, a title) would make one joined str of the chunk wide
    return b"".join(["".join(row).encode("utf-8") for row in zip(head, *pieces, tail)])


def _arrow_table(f: dict, lk: Lookups, en: Enrichment, day_str: np.ndarray):
    """The rows of one daily shard as an arrow table with the GA4 export's columns and types (INT64, nested
    structs), as export_arrow_schema() lists them."""
    import pyarrow as pa

    schema = export_arrow_schema()
    n = len(f["ts"])
    K = len(PARAM_KEYS)
    kinds = np.stack([f[f"k{k}"] for k in range(K)], axis=1)
    present = kinds >= 0
    flat = np.flatnonzero(present.ravel())
    kflat = kinds.ravel()[flat]
    keys = np.array(PARAM_KEYS, dtype=object)[flat % K]
    svals = np.stack([f[f"v{k}"] for k in range(K)], axis=1).ravel()[flat]
    ivals = np.stack([f[f"i{k}"] for k in range(K)], axis=1).ravel()[flat]
    is_int = kflat < STR
    is_dbl = kflat == DBL
    dvals = np.zeros(len(flat))
    dvals[is_dbl] = svals[is_dbl].astype(np.float64)
    svals = np.where(kflat == STR, svals, None)
    m = len(flat)
    value_type = schema.field("event_params").type.value_type.field("value").type
    value = pa.StructArray.from_arrays(
        [pa.array(svals, pa.string()), pa.array(ivals, pa.int64(), mask=~is_int), pa.nulls(m, pa.float64()),
         pa.array(dvals, pa.float64(), mask=~is_dbl)], fields=list(value_type))
    item = pa.StructArray.from_arrays([pa.array(keys, pa.string()), value], names=["key", "value"])
    offsets = np.r_[0, np.cumsum(present.sum(axis=1))].astype(np.int32)
    params = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), item,
                                      type=schema.field("event_params").type)
    dev = f["dev"]
    consent = CONSENT_VALUE[f["consent"]]
    no_privacy = f["consent"] == 0
    arrow = en.arrow()

    def struct(name, arrays, mask=None):
        t = schema.field(name).type
        return pa.StructArray.from_arrays([pa.array(a, fld.type) for a, fld in zip(arrays, t)], fields=list(t),
                                          mask=None if mask is None else pa.array(mask, pa.bool_()))

    def int64(values, null):
        return pa.array(values, pa.int64(), mask=null)

    def nulls(name):
        return pa.nulls(n, schema.field(name).type)

    coll_mask = ~f["has_coll"]
    first_touch = en.first_touch[dev]
    no_order = f[f"k{P_BATCH_ORDER}"] < 0
    uprops = f["x_uprops"]
    uprops = np.where(uprops < 0, len(en.user_props) - 1, uprops)  # the last entry is the empty list
    last_click = f["x_last_click"]
    items = schema.field("items").type
    columns = {
        "event_date": pa.array(day_str[f["day"]], pa.string()),
        "event_timestamp": pa.array(f["ts"], pa.int64()),
        "event_name": pa.array(np.array(EVENT_NAMES, dtype=object)[f["name"]], pa.string()),
        "event_params": params,
        "event_previous_timestamp": nulls("event_previous_timestamp"),
        "event_value_in_usd": pa.array(f["x_value"], pa.float64(), mask=np.isnan(f["x_value"])),
        "event_bundle_sequence_id": int64(f[f"i{P_BATCH_ORDER}"], no_order),
        "event_server_timestamp_offset": int64(f["x_offset"], f["x_offset"] < 0),
        "user_id": pa.array(f["uid"], pa.string()),
        "user_pseudo_id": pa.array(lk.upid[dev], pa.string()),
        "privacy_info": struct("privacy_info", [consent, consent, np.full(n, "No", dtype=object)], no_privacy),
        "user_properties": arrow["user_properties"].take(pa.array(uprops, pa.int64())),
        "user_first_touch_timestamp": int64(first_touch, first_touch < 0),
        "user_ltv": struct("user_ltv", [np.zeros(n), np.full(n, "USD", dtype=object)], first_touch < 0),
        "device": arrow["device"].take(pa.array(en.dev_profile[dev], pa.int64())),
        "geo": arrow["geo"].take(pa.array(en.dev_geo[dev], pa.int64())),
        "app_info": nulls("app_info"),
        "traffic_source": struct("traffic_source", [lk.ts_name[dev], lk.ts_medium[dev], lk.ts_source[dev]]),
        "stream_id": pa.array(np.full(n, STREAM_ID, dtype=object), pa.string()),
        "platform": pa.array(np.full(n, "WEB", dtype=object), pa.string()),
        "event_dimensions": nulls("event_dimensions"),
        "ecommerce": nulls("ecommerce"),
        "items": pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32), pa.int32()),
                                          pa.array([], items.value_type), type=items),
        "collected_traffic_source": struct(
            "collected_traffic_source",
            [np.where(coll_mask, None, f["cc"]), np.where(coll_mask, None, f["cs"]),
             np.where(coll_mask, None, f["cm"]), np.where(coll_mask, None, f["cg"])], coll_mask),
        "is_active_user": pa.array(f["x_active"], pa.bool_()),
        "batch_event_index": int64(f["batch"], f["batch"] < 0),
        "batch_page_id": int64(f[f"i{P_BATCH_PAGE}"], f[f"k{P_BATCH_PAGE}"] < 0),
        "batch_ordering_id": int64(f[f"i{P_BATCH_ORDER}"], no_order),
        "session_traffic_source_last_click": arrow["last_click"].take(
            pa.array(np.where(last_click < 0, len(LAST_CLICKS), last_click), pa.int64())),
        "publisher": nulls("publisher"),
    }
    return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)


class _Sink:
    """One shard file, written in chunks. Its methods run on the writer thread (zlib and arrow release the GIL)."""

    def __init__(self, path: Path, kind: str):
        self.path, self.kind = path, kind
        self.raw = self.gz = self.pq = None

    def open(self) -> None:
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            self.pq = pq.ParquetWriter(self.path, export_arrow_schema(), compression="snappy")
            return
        self.raw = open(self.path, "wb")
        if self.kind == "jsonl.gz":
            self.gz = gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, mtime=0, compresslevel=GZIP_LEVEL)

    def write(self, payload) -> None:
        if self.pq is not None:
            self.pq.write_table(payload)
        else:
            (self.gz or self.raw).write(payload)

    def close(self) -> int:
        for h in (self.pq, self.gz, self.raw):
            if h is not None:
                h.close()
        return self.path.stat().st_size


def write_ga4(w: World, rng: Generator, out: Path, fmt: str, seed: int) -> dict:
    """Day by day: expand the day's sessions into events, carry late ones forward, write the day's shard(s)."""
    folder = out / "ga4"
    folder.mkdir(parents=True, exist_ok=True)
    lk = Lookups(w, rng)
    en = Enrichment(w, lk, seed)
    day_str = np.array([(w.start + timedelta(days=d)).strftime("%Y%m%d") for d in range(w.days + 3)], dtype=object)
    json_ext = "jsonl" if fmt == "jsonl" else "jsonl.gz"
    pool = ThreadPoolExecutor(max_workers=1)  # one worker: its tasks run in submission order
    pending: deque = deque()
    counts = {"events": 0, "daily_rows": 0, "intraday_rows": 0, "files": 0, "bytes": 0}

    def submit(fn, *args) -> None:
        while len(pending) > 2:  # at most a few small tasks (formatted chunks) wait for the writer
            done = pending.popleft().result()
            counts["bytes"] += done if isinstance(done, int) else 0
        pending.append(pool.submit(fn, *args))

    def write_shard(path: Path, rows: dict, kind: str, intraday: bool) -> None:
        sink = _Sink(path, kind)
        submit(sink.open)
        n = len(rows["ts"])
        for lo in range(0, max(n, 1), CHUNK_ROWS):
            chunk = _take(rows, np.arange(lo, min(lo + CHUNK_ROWS, n)))
            payload = (_arrow_table(chunk, lk, en, day_str) if kind == "parquet"
                       else _json_bytes(chunk, lk, en, day_str, intraday))
            submit(sink.write, payload)
        submit(sink.close)
        counts["files"] += 1

    carry = None
    eid0 = 0
    try:
        for d in range(w.days):
            f = day_frame(w, lk, rng, d, eid0, en)
            eid0 += len(f["ts"])
            if carry is not None:
                f = _concat(carry, f)
            carry = _take(f, np.flatnonzero(f["shard"] > d))
            cur = _take(f, np.flatnonzero(f["shard"] == d))
            del f
            order = np.lexsort((cur["eid"], cur["ts"]))
            cur = _take(cur, np.repeat(order, 1 + cur["dup"][order]))
            ymd = day_str[d]
            n = len(cur["ts"])
            if d < w.days - 1:  # the last day has no daily shard yet
                write_shard(folder / f"events_{ymd}.{fmt}", cur, fmt, False)
                counts["daily_rows"] += n
                counts["events"] += n
            if d >= w.days - 2:  # intraday: the last day's, and the one before (superseded by its daily shard)
                part = cur if d == w.days - 1 else _take(cur, np.flatnonzero(cur["intra"]))
                write_shard(folder / f"events_intraday_{ymd}.{json_ext}", part, json_ext, True)
                counts["intraday_rows"] += len(part["ts"])
                counts["events"] += len(part["ts"])
        while pending:
            done = pending.popleft().result()
            counts["bytes"] += done if isinstance(done, int) else 0
    finally:
        pool.shutdown(wait=True)
    return counts

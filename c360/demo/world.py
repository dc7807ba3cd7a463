"""The simulated world, decided up front from the main random stream: people and companies, devices, sessions, form
submissions, CRM contacts, product users, deals with their currencies and weekly fx rates (World); the per-device
values a GA4 row shows (Lookups); ISO-8601 text of timestamps as the CSV files write them (iso_text)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
from numpy.random import Generator

from .currency import ZERO_DECIMAL, parse_currencies
from .distributions import (
    AMBIGUOUS_DOMAINS, CATEGORIES, COMPANY_A, COMPANY_B, COMPANY_SUFFIX, COUNTRIES, COUNTRY_CURRENCY, DAY,
    DEAL_AMOUNT_MEDIAN, DEAL_AMOUNT_SIGMA, DEAL_CYCLE_DAYS, DEAL_CYCLE_SHAPE, DEAL_LOOKBACK_DAYS, DEAL_PRODUCTS,
    EMAIL_KINDS, FIRST, FORMS, FX_USD, FX_WEEKLY_SIGMA, JUNK_EMAILS, KINDS, KIND_INDEX, LAST, LOCAL_HOUR_MEAN,
    LOCAL_HOUR_SD, OPEN_STAGES, OS, PERSONAL_DOMAINS, PLANS, P_CATEGORY_FIRST, P_CATEGORY_OTHER, P_CLIENT_ID,
    P_CONSENT, P_CONSENT_FLIP, P_CONTACT, P_CSV_OFFSET, P_DEAL, P_DELETED_CONTACT, P_DELETED_DEAL, P_DEVICES,
    P_DUP_CONTACT, P_EXTERNAL_ID, P_FORM, P_JUNK_LOGIN, P_KIND, P_LATER_TAG, P_LATE_SESSION, P_LIST_PRICE,
    P_LOCAL_CURRENCY, P_LOGIN, P_NEW_DEVICE, P_OFFLINE_FORM, P_OTHER_CURRENCY, P_PAGES, P_PLUS_TAG, P_SERVER_LEAD,
    P_SHARED_DEVICE, P_SHARED_SESSION, P_STAGE, P_TAG_ON_PAGE_VIEW_ONLY, P_TAG_STYLE, P_TYPED, RATE_MEDIAN,
    RATE_SIGMA, SYLLABLES, TITLES, WEEKEND_WEIGHT, bern, probs,
)


def iso_text(secs, rng: Generator | None = None, offset_share: float = 0.0) -> np.ndarray:
    """Unix seconds -> ISO-8601 strings, 'Z'; with rng, a share written as the same instant in +01:00/-05:00."""
    secs = np.asarray(secs, dtype=np.int64)
    out = (np.datetime_as_string(secs.astype("datetime64[s]"), unit="s").astype(object) + "Z")
    if rng is not None and len(secs):
        which = rng.random(len(secs)) < offset_share
        plus = rng.random(len(secs)) < 0.5
        for m, shift, suffix in ((which & plus, 3600, "+01:00"), (which & ~plus, -5 * 3600, "-05:00")):
            if m.any():
                local = np.datetime_as_string((secs[m] + shift).astype("datetime64[s]"), unit="s").astype(object)
                out[m] = local + suffix
    return out


def _typed(emails: list[str], codes: np.ndarray) -> list[str]:
    """Emails as a person types them: 0 as is, 1 Capitalized, 2 UPPER, 3 leading space, 4 trailing, 5 both."""
    out = []
    for e, c in zip(emails, codes.tolist()):
        if c == 1 or c == 5:
            local, _, domain = e.partition("@")
            e = local.capitalize() + "@" + domain.capitalize()
        elif c == 2:
            e = e.upper()
        if c == 3 or c == 5:
            e = " " + e
        if c == 4:
            e = e + " "
        out.append(e)
    return out


# ---------------------------------------------------------------------------------------------------------
# The world: people, companies, devices, sessions, forms, CRM, product users, deals, fx rates.
# ---------------------------------------------------------------------------------------------------------


class World:
    """Everything decided up front (arrays of people, devices, sessions); events are derived day by day."""

    def __init__(self, rng: Generator, persons: int, days: int, start: date, currencies=("USD",)):
        self.rng, self.N, self.days, self.start = rng, persons, days, start
        self.currencies = parse_currencies(currencies)
        self.t0 = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp())
        self.t_end = self.t0 + days * DAY  # the export's end: nothing happens after it
        self._people()
        self._devices()
        self._sessions()
        self._forms()
        self._contacts()
        self._product_users()
        self._deals()

    # -- people and companies
    def _people(self) -> None:
        rng, N = self.rng, self.N
        self.p_kind = rng.choice(3, N, p=P_KIND).astype(np.int8)
        n_comp = max(1, N // 4)
        # company stems: a known root or two/three made-up syllables, plus an ending, a legal word and a TLD
        root = rng.integers(0, len(COMPANY_A), n_comp)
        made_up = rng.random(n_comp) < 0.8
        syl = rng.integers(0, len(SYLLABLES), (n_comp, 3))
        three = rng.random(n_comp) < 0.4
        ending = rng.integers(0, len(COMPANY_B), n_comp)
        suffix = rng.choice(len(COMPANY_SUFFIX), n_comp, p=probs([s[2] for s in COMPANY_SUFFIX]))
        self.comp_country = rng.choice(len(COUNTRIES), n_comp, p=probs([c[2] for c in COUNTRIES]))
        names, domains, seen = [], [], {}
        for i in range(n_comp):
            if made_up[i]:
                a = "".join(SYLLABLES[x] for x in syl[i, : 3 if three[i] else 2])
            else:
                a = COMPANY_A[root[i]]
            b = COMPANY_B[ending[i]]
            word, tld = COMPANY_SUFFIX[suffix[i]][0], COMPANY_SUFFIX[suffix[i]][1]
            stem = a + b + word.lower()
            n = seen.get(stem + tld, 0)
            seen[stem + tld] = n + 1
            domains.append(f"{stem}{n if n else ''}{tld}")
            names.append(f"{(a + b).capitalize()}{' ' + str(n + 1) if n else ''}{' ' + word if word else ''}")
        self.comp_name, self.comp_domain = names, domains
        weights = probs(1.0 / np.arange(1, n_comp + 1) ** 0.9)  # a few big accounts, a long tail
        self.p_comp = rng.choice(n_comp, N, p=weights)
        own_country = rng.choice(len(COUNTRIES), N, p=probs([c[2] for c in COUNTRIES]))
        self.p_country = np.where(rng.random(N) < 0.85, self.comp_country[self.p_comp], own_country)
        first = rng.integers(0, len(FIRST), N)
        last = rng.integers(0, len(LAST), N)
        mail_kind = rng.choice(3, N, p=(0.72, 0.24, 0.04))  # corporate, personal, ambiguous domain
        pattern = rng.choice(3, N, p=(0.6, 0.25, 0.15))
        pdomain = rng.choice(len(PERSONAL_DOMAINS), N, p=probs([d[1] for d in PERSONAL_DOMAINS]))
        nn = rng.integers(1, 100, N)
        emails, taken = [], set()
        for i in range(N):
            f, l_ = FIRST[first[i]], LAST[last[i]]
            if mail_kind[i] == 0:
                local = (f"{f}.{l_}", f"{f[0]}{l_}", f)[pattern[i]]
                domain = self.comp_domain[self.p_comp[i]]
            else:
                local = (f"{f}.{l_}{nn[i]}", f"{f}{l_}", f"{f[0]}{l_}{nn[i]}")[pattern[i]]
                domain = PERSONAL_DOMAINS[pdomain[i]][0] if mail_kind[i] == 1 else AMBIGUOUS_DOMAINS[0]
            email, k = f"{local}@{domain}", 1
            while email in taken:
                k += 1
                email = f"{local}{k}@{domain}"
            taken.add(email)
            emails.append(email)
        self.p_email = emails
        self.p_first = [FIRST[i].capitalize() for i in first]
        self.p_last = [LAST[i].capitalize() for i in last]
        self.p_title = rng.integers(0, len(TITLES), N)
        self.p_rate = rng.lognormal(np.log(RATE_MEDIAN), RATE_SIGMA, N)
        self.p_ndev = rng.choice(3, N, p=P_DEVICES) + 1
        self.p_contact = rng.random(N) < np.array(P_CONTACT)[self.p_kind]
        self.p_uid = np.array([None] * N, dtype=object)
        users = np.flatnonzero(self.p_kind == 2)
        self.p_uid[users] = [f"U{v:07d}" for v in (rng.permutation(max(N, 1)) + 1)[: len(users)].tolist()]

    # -- devices (= user_pseudo_id)
    def _devices(self) -> None:
        rng, N = self.rng, self.N
        nd = int(self.p_ndev.sum())
        self.d_owner = np.repeat(np.arange(N), self.p_ndev)
        self.p_dev0 = np.cumsum(self.p_ndev) - self.p_ndev
        ordinal = np.arange(nd) - self.p_dev0[self.d_owner]
        u = rng.random(nd)
        self.d_cat = np.where(ordinal == 0, np.searchsorted(np.cumsum(P_CATEGORY_FIRST)[:-1], u, side="right"),
                              np.searchsorted(np.cumsum(P_CATEGORY_OTHER)[:-1], u, side="right"))
        self.d_os = np.empty(nd, dtype=object)
        for cat, choices in OS.items():
            m = self.d_cat == cat
            pick = rng.choice(len(choices), int(m.sum()), p=probs([c[1] for c in choices]))
            self.d_os[m] = np.array([c[0] for c in choices], dtype=object)[pick]
        self.d_country = self.p_country[self.d_owner]
        self.d_new = rng.random(nd) < P_NEW_DEVICE
        self.d_prior = np.where(self.d_new, 0, rng.geometric(0.3, nd))
        self.d_seen = self.t0 - rng.integers(DAY, 540 * DAY, nd)
        self.d_consent = rng.choice(np.array([1, 2, 0], dtype=np.int8), nd, p=P_CONSENT)
        if nd and not (self.d_consent == 2).any():
            self.d_consent[rng.integers(0, nd)] = 2
        self.d_flip = bern(rng, nd, P_CONSENT_FLIP)
        self.d_flip_rank = rng.integers(1, 4, nd)
        self.d_acq = rng.choice(len(KINDS), nd, p=probs([k.acquire for k in KINDS]))
        client = rng.integers(100_000_000, 2**31 - 1, nd)
        while len(np.unique(client)) < nd:  # a client number names one browser
            _, first_index = np.unique(client, return_index=True)
            again = np.setdiff1d(np.arange(nd), first_index)
            client[again] = rng.integers(100_000_000, 2**31 - 1, len(again))
        self.d_client = client
        # shared devices: a coworker (same company when there is one) also uses it
        self.d_second = np.full(nd, -1)
        if N >= 2:
            shared = np.flatnonzero(bern(rng, nd, P_SHARED_DEVICE, at_least=1) & (self.d_cat == 0))
            if not len(shared):
                shared = np.array([int(np.argmin(self.d_cat))])
            by_comp = np.argsort(self.p_comp, kind="stable")
            comp_sorted = self.p_comp[by_comp]
            owner = self.d_owner[shared]
            c = self.p_comp[owner]
            lo = np.searchsorted(comp_sorted, c, side="left")
            size = np.searchsorted(comp_sorted, c, side="right") - lo
            mate = by_comp[lo + (rng.random(len(shared)) * size).astype(np.int64)]
            other = (owner + 1 + rng.integers(0, N - 1, len(shared))) % N
            mate = np.where((size > 1) & (mate != owner), mate, other)
            self.d_second[shared] = mate

    # -- sessions
    def _sessions(self) -> None:
        rng, N, days = self.rng, self.N, self.days
        n_s = 1 + rng.poisson(days * self.p_rate)
        S = int(n_s.sum())
        owner = np.repeat(np.arange(N), n_s)
        u = rng.random(S)
        k = self.p_ndev[owner]
        ordinal = np.where(k == 1, 0, np.where(k == 2, (u > 0.65).astype(int), (u > 0.55).astype(int) + (u > 0.85)))
        dev = self.p_dev0[owner] + ordinal
        second = self.d_second[dev]
        person = np.where((second >= 0) & (rng.random(S) < P_SHARED_SESSION), second, owner)
        weekday = np.array([(self.start + timedelta(days=d)).weekday() for d in range(days)])
        day = rng.choice(days, S, p=probs(np.where(weekday >= 5, WEEKEND_WEIGHT, 1.0)))
        tz = np.array([c[1] for c in COUNTRIES])[self.d_country[dev]]
        local = rng.normal(LOCAL_HOUR_MEAN, LOCAL_HOUR_SD, S) * 3600 + rng.integers(0, 60, S)
        sec = np.mod(local.astype(np.int64) - tz * 3600, DAY)
        start = self.t0 + day.astype(np.int64) * DAY + sec
        # per device in time order; a device's sessions start at least 30 minutes apart
        order = np.lexsort((start, dev))
        dev, person, start = dev[order], person[order], start[order]
        group_start = np.r_[0, np.flatnonzero(np.diff(dev)) + 1]
        group_len = np.diff(np.r_[group_start, S])
        rank = np.arange(S) - np.repeat(group_start, group_len)
        gid = np.repeat(np.arange(len(group_start)), group_len)
        gap = 1800
        big = np.int64(10) ** 12
        y = np.maximum.accumulate(start - gap * rank + gid * big) - gid * big
        start = y + gap * rank
        keep = start < self.t_end
        dev, person, start, rank = dev[keep], person[keep], start[keep], rank[keep]
        S = len(dev)
        first = self.d_new[dev] & (rank == 0)
        self.d_seen[dev[first]] = start[first]
        kind = np.where(first, rng.choice(len(KINDS), S, p=probs([k.acquire for k in KINDS])),
                        rng.choice(len(KINDS), S, p=probs([k.revisit for k in KINDS])))
        kind = np.where(EMAIL_KINDS[kind] & ~self.p_contact[person], KIND_INDEX["direct"], kind)
        self.d_kind = self.d_acq.copy()
        self.d_kind[dev[first]] = kind[first]
        consent = self.d_consent[dev].copy()
        flip = self.d_flip[dev] & (rank >= self.d_flip_rank[dev])
        consent[flip] = np.array([2, 2, 1], dtype=np.int8)[consent[flip]]
        style = rng.choice(3, S, p=P_TAG_STYLE)
        gclid_only = kind == KIND_INDEX["google_gclid_only"]
        style[gclid_only] = np.where(rng.random(int(gclid_only.sum())) < 0.8, 0, 2)
        tagged = kind != KIND_INDEX["direct"]
        pv_only = tagged & (rng.random(S) < P_TAG_ON_PAGE_VIEW_ONLY)
        later = np.where(rng.random(S) < P_LATER_TAG, rng.integers(1, len(KINDS), S), -1)
        later[later == kind] = -1
        pages = np.minimum(rng.geometric(P_PAGES, S), 15)
        pkind = self.p_kind[person]
        u = rng.random(S)
        login = np.zeros(S, dtype=np.int8)  # 0 none, 1 login event, 2 already logged in, 3 junk 'undefined'
        login[(pkind == 2) & (u < P_LOGIN[0])] = 1
        login[(pkind == 2) & (u >= P_LOGIN[0]) & (u < P_LOGIN[0] + P_LOGIN[1])] = 2
        login[(pkind == 0) & (u < P_JUNK_LOGIN)] = 3
        form = rng.random(S) < np.array(P_FORM)[pkind]
        # every lead submits at least one form and every product user logs in at least once
        key = rng.random(S)
        for kind_code, mask_fn in ((1, lambda: form), (2, lambda: login == 1)):
            cand = np.flatnonzero(pkind == kind_code)
            if not len(cand):
                continue
            pick = cand[np.lexsort((key[cand], person[cand]))]
            firsts = pick[np.r_[True, person[pick][1:] != person[pick][:-1]]]
            done = np.zeros(N, dtype=bool)
            done[person[mask_fn()]] = True
            need = firsts[~done[person[firsts]]]
            if kind_code == 1:
                form[need] = True
            else:
                login[need] = 1
        self.s = dict(
            dev=dev, person=person, start=start, rank=rank, num=self.d_prior[dev] + rank + 1, first=first,
            kind=kind, style=style, pv_only=pv_only, later=later, pages=pages, login=login,
            login_off=rng.integers(5, 60, S), form=form, form_off=rng.integers(40, 400, S),
            lead=form & (rng.random(S) < P_SERVER_LEAD), consent=consent,
            late=bern(rng, S, P_LATE_SESSION), landing=rng.integers(0, 1 << 30, S),
            jitter=rng.integers(0, 1_000_000, S),
        )
        by_time = np.lexsort((self.s["dev"], self.s["start"]))
        self.s = {k: v[by_time] for k, v in self.s.items()}
        self.day_lo = np.searchsorted(self.s["start"], self.t0 + np.arange(days + 1) * DAY)
        self.S = S

    # -- form submissions
    def _forms(self) -> None:
        rng, s = self.rng, self.s
        idx = np.flatnonzero(s["form"])
        person = s["person"][idx]
        at = s["start"][idx] + s["form_off"][idx]
        n = len(idx)
        style = rng.choice(3, n, p=P_CLIENT_ID)
        typed = _typed([self.p_email[p] for p in person.tolist()], rng.choice(len(P_TYPED), n, p=P_TYPED))
        junk = rng.integers(0, len(JUNK_EMAILS), n)
        emails = [JUNK_EMAILS[j].format(domain=self.comp_domain[self.p_comp[p]]) if self.p_kind[p] == 0 else e
                  for e, p, j in zip(typed, person.tolist(), junk.tolist())]
        plus = rng.random(n) < P_PLUS_TAG  # gmail users sometimes type a +tag (canonicalization links them)
        emails = [e.replace("@gmail.com", "+news@gmail.com") if t else e for e, t in zip(emails, plus.tolist())]
        dev = s["dev"][idx]
        upid = [f"{c}.{t}" for c, t in zip(self.d_client[dev].tolist(), self.d_seen[dev].tolist())]
        client = [("", "GA1.1.", "GA1.2.")[st] + u for st, u in zip(style.tolist(), upid)]
        names = rng.choice(len(FORMS), n, p=probs([f[1] for f in FORMS]))
        # offline forms: no client id at all
        who = np.flatnonzero(self.p_contact & (self.p_kind > 0) & (rng.random(self.N) < P_OFFLINE_FORM))
        off_at = self.t0 + rng.integers(0, self.days * DAY - 60, len(who))
        off_email = _typed([self.p_email[p] for p in who.tolist()], rng.choice(len(P_TYPED), len(who), p=P_TYPED))
        off_names = rng.choice(len(FORMS), len(who), p=probs([f[1] for f in FORMS]))
        all_at = np.r_[at, off_at].astype(np.int64)
        self.f_person = np.r_[person, who]
        self.f_at = all_at
        self.f_email = emails + off_email
        self.f_client = client + [""] * len(who)
        self.f_name = [FORMS[i][0] for i in np.r_[names, off_names].tolist()]
        self.f_order = np.lexsort((np.arange(len(all_at)), all_at))
        self.f_when = iso_text(all_at, rng, P_CSV_OFFSET)
        # first real form per person: a lead's contact is created by it
        real = np.flatnonzero(self.p_kind[self.f_person] > 0)
        self.p_first_form = np.full(self.N, np.iinfo(np.int64).max)
        np.minimum.at(self.p_first_form, self.f_person[real], all_at[real])

    # -- CRM contacts
    def _contacts(self) -> None:
        rng, N = self.rng, self.N
        who = np.flatnonzero(self.p_contact)
        n = len(who)
        before = self.t0 - rng.integers(DAY, 700 * DAY, n)
        ff = self.p_first_form[who]
        created = np.where(ff < self.t_end, ff + rng.integers(5, 300, n), before)
        created = np.minimum(created, self.t_end - 60)
        dup = bern(rng, n, P_DUP_CONTACT, at_least=1 if n >= 5 else 0)
        dup_created = np.clip(created + rng.integers(-60 * DAY, 60 * DAY, n), self.t0 - 800 * DAY, self.t_end - 60)
        ext = (self.p_kind[who] == 2) & (rng.random(n) < P_EXTERNAL_ID)
        email_codes = np.where(rng.random(n) < 0.05, rng.integers(1, 3, n), 0)
        dup_codes = rng.integers(1, len(P_TYPED), n)
        rows_person = np.r_[who, who[dup]]
        rows_created = np.r_[created, dup_created[dup]].astype(np.int64)
        emails = _typed([self.p_email[p] for p in who.tolist()], email_codes)
        dup_emails = _typed([self.p_email[p] for p in who[dup].tolist()], dup_codes[dup])
        rows_ext = np.r_[ext, ext[dup] & (rng.random(int(dup.sum())) < 0.5)]
        rows_email = emails + dup_emails
        m = len(rows_person)
        order = np.lexsort((np.arange(m), rows_created))  # ids grow with creation time
        self.c_person = rows_person[order]
        self.c_created = rows_created[order]
        self.c_email = [rows_email[i] for i in order.tolist()]
        self.c_ext = rows_ext[order]
        self.c_id = np.arange(100001, 100001 + m)
        self.c_deleted = bern(rng, m, P_DELETED_CONTACT, at_least=1 if m >= 5 else 0)
        self.c_updated = self.c_created + (rng.random(m) * (self.t_end - 60 - self.c_created)).astype(np.int64)
        # the person's primary contact row: the first created
        self.p_contact_row = np.full(N, -1)
        people, first_row = np.unique(self.c_person, return_index=True)
        self.p_contact_row[people] = first_row

    # -- product users
    def _product_users(self) -> None:
        rng, s = self.rng, self.s
        users = np.flatnonzero(self.p_kind == 2)
        n = len(users)
        logged = s["login"] > 0
        logged &= self.p_kind[s["person"]] == 2
        at = (s["start"] + s["login_off"])[logged]
        who = s["person"][logged]
        first = np.full(self.N, np.iinfo(np.int64).max)
        last = np.full(self.N, -1)
        np.minimum.at(first, who, s["start"][logged])
        np.maximum.at(last, who, at)
        f = first[users]
        in_window = (f < self.t_end) & (rng.random(n) < 0.3)
        signed = np.where(in_window, f - rng.integers(3600, 10 * DAY, n), self.t0 - rng.integers(DAY, 600 * DAY, n))
        signed = np.minimum(signed, np.where(f < self.t_end, f - 60, signed))
        ll = last[users]
        self.u_person = users
        self.u_signed = signed
        self.u_last = np.where(ll > 0, ll, signed + rng.integers(60, 30 * DAY, n))
        self.u_last = np.minimum(self.u_last, self.t_end - 60)
        self.u_email = _typed([self.p_email[p] for p in users.tolist()],
                              np.where(rng.random(n) < 0.1, 1, 0))
        inc = rng.random(n) < 0.3
        self.u_company = [self.comp_name[self.p_comp[p]] + (" Inc." if i else "")
                          for p, i in zip(users.tolist(), inc.tolist())]
        self.u_plan = [PLANS[i][0] for i in rng.choice(len(PLANS), n, p=probs([p[1] for p in PLANS])).tolist()]

    # -- deals
    def _deals(self) -> None:
        rng = self.rng
        who = np.flatnonzero(self.p_contact)
        has = rng.random(len(who)) < np.array(P_DEAL)[self.p_kind[who]]
        two = rng.random(len(who)) < 0.15
        person = np.r_[who[has], who[has & two]]
        n = len(person)
        # the deal sits on one of the person's contact rows (a duplicate's, now and then)
        rows = self.p_contact_row[person]
        dup_rows = {}
        for r, p in enumerate(self.c_person.tolist()):
            dup_rows.setdefault(p, []).append(r)
        alt = rng.random(n) < 0.3
        rows = np.array([dup_rows[p][-1] if a else r for p, r, a in zip(person.tolist(), rows.tolist(), alt.tolist())],
                        dtype=np.int64)
        contact_created = self.c_created[rows]
        lo = np.maximum(contact_created, self.t0 - DEAL_LOOKBACK_DAYS * DAY)
        hi = self.t_end - 3600
        created = lo + (rng.random(n) * np.maximum(hi - lo, 60)).astype(np.int64)
        created = np.maximum(np.minimum(created, hi), contact_created)  # a deal never predates its contact
        stage = rng.choice(3, n, p=P_STAGE)
        closed = created + (rng.gamma(DEAL_CYCLE_SHAPE, DEAL_CYCLE_DAYS * DAY, n)).astype(np.int64) + 3600
        stage = np.where((stage < 2) & (closed >= self.t_end - 3600), 2, stage)
        open_stage = rng.integers(0, len(OPEN_STAGES), n)
        value = rng.lognormal(np.log(DEAL_AMOUNT_MEDIAN), DEAL_AMOUNT_SIGMA, n)  # in the reporting currency
        product = rng.integers(0, len(DEAL_PRODUCTS), n)
        order = np.lexsort((np.arange(n), created))
        # the money stream: a jump of the main Generator (its state is not advanced), so the list prices and the
        # currencies never shift what is drawn after the deals
        money = Generator(rng.bit_generator.jumped())
        list_price = money.random(n) < P_LIST_PRICE
        cur = np.zeros(n, dtype=np.int64)  # index into self.currencies; 0 = reporting
        if len(self.currencies) > 1:
            local = np.array([self.currencies.index(c) if c in self.currencies else 0 for c in COUNTRY_CURRENCY])
            country = self.comp_country[self.p_comp[person]]
            cur = np.where(money.random(n) < P_LOCAL_CURRENCY, local[country], 0)
            other = money.random(n) < P_OTHER_CURRENCY
            cur = np.where(other, money.integers(0, len(self.currencies), n), cur)
        self._fx_rates(money, int(created.min()) if n else self.t0)
        # the amount in the deal's currency, at the rate of the week it was created
        week = np.searchsorted(self.fx_secs, created, side="right") - 1
        rate = np.ones(n)
        for i in range(1, len(self.currencies)):
            m = cur == i
            rate[m] = self.fx_micros[i][week[m]] / 1e6
        local_value = value / rate
        cents = np.where(list_price, np.round(local_value / 50) * 5000, np.round(local_value * 100)).astype(np.int64)
        whole = np.array([c in ZERO_DECIMAL for c in self.currencies])[cur]
        cents = np.where(whole, np.round(cents / 100).astype(np.int64) * 100, cents)
        amount = np.maximum(cents, 50_000)
        self.k_contact_row = rows[order]
        self.k_person = person[order]
        self.k_created = created[order]
        self.k_closed = closed[order]
        self.k_stage = [("closedwon", "closedlost")[s] if s < 2 else OPEN_STAGES[o]
                        for s, o in zip(stage[order].tolist(), open_stage[order].tolist())]
        self.k_status = stage[order]
        self.k_amount = amount[order]  # integer cents, in k_currency
        self.k_currency = cur[order]
        self.k_product = product[order]
        self.k_id = np.arange(500001, 500001 + n)
        self.k_deleted = bern(rng, n, P_DELETED_DEAL, at_least=1 if n >= 5 else 0)

    def _fx_rates(self, money: Generator, first: int) -> None:
        """Weekly rates (Mondays) of each non-reporting currency, from the Monday at least a week before `first`
        (the first deal's creation) through the export's end: every deal, created or closed, has a rate on or
        before its dates. fx_micros[i]: one unit of currency i in reporting units, in millionths."""
        day0 = date(1970, 1, 1)
        d = day0 + timedelta(days=first // DAY - 7)
        d -= timedelta(days=d.weekday())
        end = day0 + timedelta(days=(self.t_end - 1) // DAY)
        weeks = (end - d).days // 7 + 1
        self.fx_dates = [d + timedelta(weeks=w) for w in range(weeks)]
        self.fx_secs = np.array([(x - day0).days * DAY for x in self.fx_dates], dtype=np.int64)
        base = {c: FX_USD.get(c) for c in self.currencies}
        for c in self.currencies:
            if base[c] is None:
                base[c] = float(money.lognormal(0, 1))
        report = base[self.currencies[0]]
        self.fx_micros = [np.full(weeks, 1_000_000, dtype=np.int64)]
        for c in self.currencies[1:]:
            walk = np.cumsum(money.normal(0, FX_WEEKLY_SIGMA, weeks))
            self.fx_micros.append(np.maximum(np.round(base[c] / report * np.exp(walk) * 1e6), 1).astype(np.int64))


# ---------------------------------------------------------------------------------------------------------
# The devices as GA4 rows show them, plus a few cookieless pseudo-devices.
# ---------------------------------------------------------------------------------------------------------
COOKIELESS_PROFILES = 8  # pseudo-devices for cookieless pings: no user_pseudo_id


class Lookups:
    """Per device (plus the cookieless profiles): the JSON pieces and Parquet values of device-scoped fields."""

    def __init__(self, w: World, rng: Generator):
        nd = len(w.d_owner)
        cat = np.r_[w.d_cat, rng.choice(3, COOKIELESS_PROFILES, p=(0.3, 0.65, 0.05))]
        self.cat = np.array(CATEGORIES, dtype=object)[cat]
        self.os = np.r_[w.d_os, np.where(cat[nd:] == 0, "Windows", "Android").astype(object)]
        country = np.r_[w.d_country, rng.choice(len(COUNTRIES), COOKIELESS_PROFILES,
                                                p=probs([c[2] for c in COUNTRIES]))]
        self.country = np.array([c[0] for c in COUNTRIES], dtype=object)[country]
        users = [KINDS[k].user for k in w.d_kind.tolist()] + [KINDS[0].user] * COOKIELESS_PROFILES
        self.ts_name = np.array([u[0] for u in users], dtype=object)
        self.ts_medium = np.array([u[1] for u in users], dtype=object)
        self.ts_source = np.array([u[2] for u in users], dtype=object)
        self.upid = np.array([f"{c}.{t}" for c, t in zip(w.d_client.tolist(), w.d_seen.tolist())]
                             + [None] * COOKIELESS_PROFILES, dtype=object)
        self.upid_json = np.array([f'"{u}"' if u else "null" for u in self.upid.tolist()], dtype=object)
        self.cookieless0 = nd

"""Synthetic source roots: a seeded, realistic, scalable stand-in for a GA4 export plus a CRM.

    python -m c360 synth OUT --persons N --days D --seed S [--format jsonl.gz|jsonl|parquet] [--start YYYY-MM-DD]
                             [--currencies USD,EUR,GBP]

Writes OUT laid out as the data contract (docs/data-contract.md) says, with every quirk the hand-made fixtures show, in
realistic proportions (see DISTRIBUTIONS below). Everything is decided by one numpy Generator(PCG64(seed)), so
the same arguments give byte-identical files (gzip mtime 0, fixed row order).

Each GA4 row carries the export's whole schema, as a real web stream fills it (about 130 gzipped bytes per event,
like a real export): besides the fields the pipeline reads, device and geo details fixed per device, user
properties, first touch and lifetime value, the session's last-click attribution, batch ids, and the other
event_params of a web stream (page_title, entrances, form and login details, ...). That enrichment is drawn from
random streams of its own (Enrichment: seeded from (seed, ENRICH_TAG, day)), never from the main Generator, so the
events, sessions, people, CRM files and every field the pipeline reads are the same with or without it.

Money is written as a CRM writes it: deal amounts and ad spend in cents, as text built from integer cents (never
through float formatting). With several currencies (the first is the reporting currency), each deal is in one of
them (mostly its company's local one) and marketing/fx_rates.csv gives a weekly rate per other currency; ad spend
stays in the reporting currency. Which amounts are list prices and which currency a deal is in come from a money
stream of their own (a jump of the main Generator, never drawn from it), so the rest of the world is the same
whatever the currencies.

How it scales: people, devices and sessions are numpy arrays decided up front (a few per person); events are
never all in memory. Each day, the sessions starting that day are expanded into events column-wise (numpy),
events whose shard is a later day (late arrivals, sessions across midnight) are carried to that day, and the
day's shard is formatted (JSON lines from pre-built string pieces; Parquet as arrow arrays with the export's
types) and handed to a writer thread that compresses and writes it while the next day is generated.
"""
from __future__ import annotations

import gzip
import json
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from numpy.random import PCG64, Generator


FORMATS = ("jsonl.gz", "jsonl", "parquet")
SITE = "https://www.c360demo.com"
STREAM_ID = "4178902345"
GZIP_LEVEL = 6
CHUNK_ROWS = 50_000  # rows formatted and handed to the writer thread at a time
DAY = 86_400

# ---------------------------------------------------------------------------------------------------------
# Distributions. Each line is one knob; DISTRIBUTIONS (below) is the table the CLI prints and the docs show.
# ---------------------------------------------------------------------------------------------------------
P_KIND = (0.33, 0.37, 0.30)  # person: anonymous (never identifies), lead (identifies by forms), product user (logs in)
P_DEVICES = (0.55, 0.33, 0.12)  # 1, 2, 3 devices per person
RATE_MEDIAN, RATE_SIGMA = 0.1, 1.0  # sessions per person per day ~ LogNormal; sessions = 1 + Poisson(days * rate)
WEEKEND_WEIGHT = 0.45  # a Saturday/Sunday gets this share of a weekday's sessions
LOCAL_HOUR_MEAN, LOCAL_HOUR_SD = 13.5, 3.5  # session start, local time of the person's country
P_NEW_DEVICE = 0.45  # first seen inside the window (first_visit, session number 1); else first seen 1-540 days ago
P_SHARED_DEVICE = 0.015  # a device also used by a coworker, who has 35 % of its sessions
P_SHARED_SESSION = 0.35
P_CONSENT = (0.78, 0.07, 0.15)  # device privacy_info.analytics_storage: Yes, No, null (no consent mode)
P_CONSENT_FLIP = 0.02  # the device changes its consent state from its 2nd-4th session on
P_PAGES = 0.45  # page views per session ~ Geometric(0.45), at most 15 (45 % single-page sessions)
DWELL_MEAN_MS = 45_000  # time on a page ~ 3 s + Exponential(45 s)
BOUNCE_DWELL_MEAN_MS = 8_000  # time on the only page of a single-page session ~ 1 s + Exponential(8 s)
P_LOGIN = (0.35, 0.35)  # a product user's session: login event (user_id from the login on), already logged in
P_JUNK_LOGIN = 0.01  # an anonymous session sends user_id 'undefined' from a login event
P_FORM = (0.004, 0.16, 0.03)  # a session has a form submission, by person kind (anonymous ones type junk emails)
P_SERVER_LEAD = 0.5  # a form also sends a server-side generate_lead event without ga_session_id
P_CLIENT_ID = (0.60, 0.37, 0.03)  # form ga_client_id: bare, GA1.1.<id> cookie, GA1.2.<id> cookie
P_PLUS_TAG = 0.1  # a gmail address typed with a +tag in a form
P_OFFLINE_FORM = 0.06  # a contact also has a form with no client id (imported, events, sales)
P_TYPED = (0.84, 0.08, 0.03, 0.02, 0.02, 0.01)  # email as typed: as is, Capitalized, UPPER, ' lead', 'trail ', both
P_CONTACT = (0.04, 1.0, 0.80)  # person has a CRM contact, by kind (anonymous: offline-only contacts)
P_EXTERNAL_ID = 0.85  # a product user's contact carries external_id = user_id
P_DUP_CONTACT = 0.03  # a second contact row for the same person, email differs in case/padding
P_DELETED_CONTACT, P_DELETED_DEAL = 0.02, 0.02  # _fivetran_deleted rows
P_DEAL = (0.5, 0.22, 0.35)  # a contact has deals, by kind; 15 % of those have two
P_STAGE = (0.30, 0.22, 0.48)  # closedwon, closedlost, open (if the close would fall after the export, it is open)
DEAL_AMOUNT_MEDIAN, DEAL_AMOUNT_SIGMA = 6000.0, 0.9  # reporting currency ~ LogNormal, in cents, at least 500
P_LIST_PRICE = 0.25  # a deal at a list price (a multiple of 50); the others carry seats, discounts, proration: cents
P_LOCAL_CURRENCY = 0.85  # with several currencies: a deal is in its company's currency when listed (else reporting)
P_OTHER_CURRENCY = 0.05  # ... and, whatever the country, in a random listed currency
FX_WEEKLY_SIGMA = 0.01  # weekly log change of a rate (random walk)
# one unit of the currency in USD, about 2024; a currency not listed here starts at LogNormal(0, 1) USD
FX_USD = {"USD": 1.0, "EUR": 1.0845, "GBP": 1.2650, "CAD": 0.7380, "INR": 0.01205, "AUD": 0.6560, "BRL": 0.2010,
          "JPY": 0.006720, "SEK": 0.09570, "SGD": 0.7440, "MXN": 0.05870, "CHF": 1.1310}
DEAL_CYCLE_SHAPE, DEAL_CYCLE_DAYS = 2.0, 8.0  # created -> closed ~ Gamma(2, 8 d) + 1 h
DEAL_LOOKBACK_DAYS = 30  # deals are created from this many days before the window (or the contact) on
P_LATE_EVENT = (0.004, 0.001)  # an event lands in the shard of event_date + 1 / + 2 days
P_LATE_SESSION = 0.003  # a whole session (an offline phone) lands in the next day's shard
P_DUP_LINE = 0.003  # an exact duplicate JSON line, written back to back
P_COOKIELESS = 0.03  # cookieless pings (no user_pseudo_id, no ga_session_id) per session of the day
P_NOT_IN_INTRADAY = 0.03  # events of the superseded intraday day that only the daily shard has
P_TS_STRING = 1 / 3  # INT64 event_timestamp as a JSON string
P_SID_REPR = (0.6, 0.2, 0.2)  # ga_session_id as int_value number, int_value string, string_value
P_ENGAGED_STRING = 0.5  # session_engaged as string_value '1' (else int_value 1)
P_TAG_STYLE = (0.55, 0.30, 0.15)  # UTM tags in collected_traffic_source only, in both places, in event_params only
P_TAG_ON_PAGE_VIEW_ONLY = 0.08  # the tag is on the landing page_view, not on session_start
P_LATER_TAG = 0.02  # a different tag is collected mid-session (the session keeps its first source)
P_CSV_OFFSET = 0.02  # a CSV timestamp written with a +01:00 / -05:00 offset instead of Z

ZERO_DECIMAL = {"JPY", "KRW", "CLP", "ISK", "VND", "PYG", "UGX"}  # no minor unit: amounts in whole units
COUNTRY_CURRENCY = ("USD", "GBP", "EUR", "CAD", "EUR", "INR", "AUD", "EUR", "EUR", "BRL", "JPY", "SEK", "SGD", "MXN")
COUNTRIES = (  # name, UTC offset (h), share of companies
    ("United States", -5, 0.42), ("United Kingdom", 0, 0.10), ("Germany", 1, 0.09), ("Canada", -5, 0.05),
    ("France", 1, 0.05), ("India", 5, 0.06), ("Australia", 10, 0.04), ("Netherlands", 1, 0.03),
    ("Spain", 1, 0.03), ("Brazil", -3, 0.04), ("Japan", 9, 0.03), ("Sweden", 1, 0.02),
    ("Singapore", 8, 0.02), ("Mexico", -6, 0.02),
)
CATEGORIES = ("desktop", "mobile", "tablet")
P_CATEGORY_FIRST, P_CATEGORY_OTHER = (0.70, 0.27, 0.03), (0.25, 0.65, 0.10)
OS = {0: (("Windows", 0.55), ("Macintosh", 0.35), ("Linux", 0.06), ("Chrome OS", 0.04)),
      1: (("iOS", 0.5), ("Android", 0.5)), 2: (("iOS", 0.7), ("Android", 0.3))}


@dataclass(frozen=True)
class Kind:
    """A session's traffic: UTM/auto-tagging (collected_traffic_source.manual_*, gclid) or older event_params
    tagging (source/medium/campaign), its referrer and landing pages, and how often it acquires / brings back."""

    name: str
    utm: tuple | None  # (source, medium, campaign): UTM tagged; '{month}' is the session's month
    params: tuple | None  # (source, medium, campaign) in event_params only (organic, referral)
    gclid: bool
    referrer: str | None
    landings: tuple
    acquire: float  # share of a new device's first session
    revisit: float  # share of later sessions

    @property
    def user(self) -> tuple:  # traffic_source (name, medium, source) when this is the device's first session
        if self.utm and self.utm[0]:
            return (self.utm[2], self.utm[1], self.utm[0])
        if self.gclid:
            return ("(not set)", "cpc", "google")
        if self.params:
            return (self.params[2], self.params[1], self.params[0])
        return ("(direct)", "(none)", "(direct)")


BLOG = ("/blog/customer-360-guide", "/blog/ga4-bigquery-export", "/blog/multi-touch-attribution")
KINDS = (
    Kind("direct", None, None, False, None, ("/", "/pricing", "/login"), 0.20, 0.35),
    Kind("google_organic", None, ("google", "organic", "(organic)"), False, "https://www.google.com/",
         BLOG + ("/", "/pricing", "/features/identity-resolution"), 0.24, 0.15),
    Kind("bing_organic", None, ("bing", "organic", "(organic)"), False, "https://www.bing.com/", BLOG + ("/",),
         0.03, 0.02),
    Kind("duckduckgo_organic", None, ("duckduckgo", "organic", "(organic)"), False, "https://duckduckgo.com/",
         BLOG, 0.01, 0.01),
    Kind("g2_referral", None, ("g2.com", "referral", "(referral)"), False,
         "https://www.g2.com/products/c360demo/reviews", ("/", "/pricing"), 0.04, 0.02),
    Kind("capterra_referral", None, ("capterra.com", "referral", "(referral)"), False,
         "https://www.capterra.com/p/c360demo/", ("/",), 0.02, 0.01),
    Kind("hn_referral", None, ("news.ycombinator.com", "referral", "(referral)"), False,
         "https://news.ycombinator.com/", BLOG, 0.02, 0.01),
    Kind("linkedin_organic", None, ("linkedin.com", "referral", "(referral)"), False, "https://www.linkedin.com/",
         BLOG, 0.03, 0.02),
    Kind("twitter_organic", None, ("t.co", "referral", "(referral)"), False, "https://t.co/", BLOG, 0.01, 0.01),
    Kind("newsletter", ("newsletter", "email", "{month}_newsletter"), None, False, None, ("/webinar",) + BLOG,
         0.05, 0.10),
    Kind("product_email", ("hubspot", "email", "product_update"), None, False, None, ("/changelog", "/app"),
         0.01, 0.04),
    Kind("google_cpc_brand", ("google", "cpc", "brand_search"), None, True, None, ("/", "/pricing"), 0.05, 0.04),
    Kind("google_cpc_generic", ("google", "cpc", "generic_search"), None, True, None, ("/lp/customer-360",),
         0.05, 0.02),
    Kind("google_gclid_only", (None, None, None), None, True, None, ("/pricing", "/lp/customer-360"), 0.04, 0.02),
    Kind("bing_cpc", ("bing", "cpc", "brand_search_bing"), None, False, None, ("/", "/pricing"), 0.01, 0.01),
    Kind("facebook_paid", ("facebook", "paid_social", "spring_sale"), None, False, None, ("/lp/spring-sale",),
         0.06, 0.04),
    Kind("facebook_retargeting", ("facebook", "paid_social", "retargeting"), None, False, None, ("/pricing",),
         0.01, 0.03),
    Kind("linkedin_paid", ("linkedin", "paid_social", "abm_q1"), None, False, None, ("/lp/abm", "/demo"),
         0.06, 0.03),
)
KIND_INDEX = {k.name: i for i, k in enumerate(KINDS)}
EMAIL_KINDS = np.array([k.utm is not None and k.utm[1] == "email" for k in KINDS])
# ad spend per paid campaign: (kind, cost per click USD)
PAID = (("google_cpc_brand", 2.1), ("google_cpc_generic", 5.4), ("bing_cpc", 1.6), ("facebook_paid", 1.3),
        ("facebook_retargeting", 0.9), ("linkedin_paid", 7.5))

PAGES = (  # later pages of a session: path, weight
    ("/pricing", 14), ("/features", 8), ("/features/identity-resolution", 5), ("/features/attribution", 5),
    ("/customers", 6), ("/docs", 10), ("/docs/getting-started", 6), ("/blog", 6), (BLOG[0], 5), (BLOG[1], 5),
    (BLOG[2], 3), ("/about", 3), ("/careers", 2), ("/demo", 6), ("/integrations", 5), ("/security", 3),
    ("/contact", 3), ("/webinar", 2), ("/changelog", 3),
)
APP_PAGES = ("/app", "/app/reports", "/app/identity", "/app/settings", "/app/attribution")
FORMS = (("demo_request", 0.35), ("contact_us", 0.20), ("newsletter_signup", 0.25), ("webinar_registration", 0.12),
         ("ebook_download", 0.08))
JUNK_EMAILS = ("test@example.com", "test@test.com", "asdf@asdf.com", "noreply@{domain}", "a@b.c")
PERSONAL_DOMAINS = (("gmail.com", 0.55), ("yahoo.com", 0.1), ("outlook.com", 0.12), ("hotmail.com", 0.08),
                    ("icloud.com", 0.08), ("gmx.de", 0.04), ("proton.me", 0.03))
AMBIGUOUS_DOMAINS = ("freelancer.com",)
FIRST = ("alice bob carol dave erin frank grace heidi ivan judy ken leo mallory niaj olivia peggy quinn rita sam "
         "tara uma victor wendy xavier yara zoe aaron bianca carlos diana elena felix gina hugo ines jonas karin "
         "lars maria nils oscar paula rafael sofia tomas ursula valentin wei yuki zara amir chen priya raj fatima "
         "noah liam emma ava mia lucas").split()
LAST = ("anders brown chen diaz evans fischer green hall ito jones kim lopez moore nguyen ortiz patel quinn reyes "
        "smith taylor ueda vogel walker xu young zimmer adams baker clark davis edwards fox garcia harris ibrahim "
        "johnson klein lee martin novak olsen park rossi schmidt tanaka varga weber yilmaz zhang mueller dubois "
        "silva kowalski jansen".split())
COMPANY_A = ("acme globex initech hooli umbrella stark wayne soylent tyrell cyber wonka vandelay dunder pied "
             "aperture mesa oscorp nakatomi gringotts monarch sterling prestige vortex zenith nimbus quanta "
             "helix orbit lumen pixel vector cobalt ember aurora atlas beacon summit harbor cascade").split()
SYLLABLES = tuple(c + v for c in "bdfgklmnprstvz" for v in "aeiou")
COMPANY_B = ("", "soft", "ly", "ify", "hub", "base", "works", "forge", "stack", "wave", "loop", "grid", "scale",
             "mind", "path", "cloud")
COMPANY_SUFFIX = (("", ".com", 0.4), ("Labs", ".io", 0.15), ("Systems", ".com", 0.1), ("Group", ".co.uk", 0.08),
                  ("Analytics", ".com", 0.1), ("GmbH", ".de", 0.07), ("Software", ".io", 0.1))
TITLES = ("VP Marketing", "Head of Growth", "Marketing Manager", "Data Analyst", "Analytics Engineer", "CTO",
          "CFO", "Engineering Lead", "Product Manager", "Head of Operations", "IT Manager", "Founder",
          "Procurement Lead", "Demand Gen Manager", "Consultant")
NON_CUSTOMER_STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead")
OPEN_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
               "contractsent")
DEAL_PRODUCTS = ("platform", "annual", "pilot", "expansion", "renewal", "seats", "starter", "enterprise")
PLANS = (("free", 0.45), ("team", 0.30), ("pro", 0.18), ("enterprise", 0.07))

KIND_GROUP = {"direct": "direct", "newsletter": "email", "product_email": "email", "bing_cpc": "paid search",
              "facebook_paid": "paid social", "facebook_retargeting": "paid social", "linkedin_paid": "paid social"}


def _mix(attr: str) -> str:
    """Channel shares of KINDS for one of 'acquire' / 'revisit', as text."""
    groups: dict[str, float] = {}
    for k in KINDS:
        g = KIND_GROUP.get(k.name) or ("organic" if k.name.endswith("_organic") and k.params[1] == "organic"
                                      else "paid search" if k.gclid else "referral/social")
        groups[g] = groups.get(g, 0.0) + getattr(k, attr)
    total = sum(groups.values())
    return ", ".join(f"{g} {100 * v / total:.0f}" for g, v in groups.items()) + " (%)"


DISTRIBUTIONS = (  # (what, distribution): the table `python -m c360 synth --help` and the docs show
    ("person kind", "33 % anonymous (never identify), 37 % leads (forms), 30 % product users (log in)"),
    ("devices per person", "1: 55 %, 2: 33 %, 3: 12 %; first desktop 70 %, others mobile 65 %"),
    ("sessions per person", "1 + Poisson(days x rate), rate ~ LogNormal(median 0.1/day, sigma 1); "
                            "weekends 0.45x; start ~ N(13:30, 3.5 h) local"),
    ("pages per session", "Geometric(0.45) capped at 15; dwell 3 s + Exp(45 s), single page 1 s + Exp(8 s); "
                          "engaged if >= 2 pages, >= 10 s or a form"),
    ("first-session channel", _mix("acquire")),
    ("return-session channel", _mix("revisit") + "; email only for CRM contacts"),
    ("UTM placement", "collected_traffic_source only 55 %, both 30 %, event_params only 15 %; gclid-only 4 % of new"),
    ("consent", "device Yes 78 %, No 7 %, null 15 %; 2 % flip mid-window"),
    ("shared devices", "1.5 % of devices, a coworker has 35 % of their sessions"),
    ("logins", "product users: login event 35 %, already logged in 35 % of sessions; 1 % junk 'undefined'"),
    ("forms", "leads 16 % of sessions (each lead >= 1), users 3 %, anonymous 0.4 % (junk emails); "
              "client id bare 60 %, GA1.1. 37 %, GA1.2. 3 %; 6 % offline; typed with case/padding 16 %, "
              "gmail +tag 10 %"),
    ("CRM contacts", "leads 100 %, users 80 % (85 % with external_id), anonymous 4 %; 3 % duplicates, 2 % deleted"),
    ("deals", "22-50 % of contacts, 15 % two; drawn won 30 %, lost 22 %, open 48 %, but a close after the export "
              "stays open (as written ~14/11/75 %); amount LogNormal(6000, 0.9) in cents (25 % list prices, "
              "multiples of 50), at least 500; created from 30 d before the window or the contact on; "
              "cycle 1 h + Gamma(2, 8 d)"),
    ("currencies", "--currencies A,B,..: the first is the reporting one; a deal is in its company's currency "
                   "(85 % when listed), 5 % in a random listed one, else the reporting one; amount converted at "
                   "the week's rate; fx_rates.csv: weekly, random walk 1 %/week, 6 decimals"),
    ("export quirks", "late events 0.5 % (+0.3 % sessions), duplicate lines 0.3 %, cookieless pings 3 %/session, "
                      "INT64 as string 1/3, ga_session_id int/str/string_value 60/20/20"),
    ("intraday", "last day intraday only; the day before has both (its intraday lacks 3 % of events)"),
    ("rest of the schema", "own random streams; device: handset, OS and browser versions, language by country, "
                           "fixed per device; geo: the person's city (10 % of extra devices another city); "
                           "last click: the session's campaign (direct: the device's first); 0.3 % debug devices"),
)

# ---------------------------------------------------------------------------------------------------------
# GA4 event_params: keys in the order written, and which are integers.
# ---------------------------------------------------------------------------------------------------------
# The first eleven are the ones the pipeline reads or tests (drawn from the main stream); the rest are the other
# parameters a web stream sends (drawn by Enrichment from its own streams, never read by the pipeline).
PARAM_KEYS = ("ga_session_id", "ga_session_number", "page_location", "page_referrer", "source", "medium",
              "campaign", "gclid", "engagement_time_msec", "percent_scrolled", "session_engaged",
              "page_title", "entrances", "engaged_session_event", "ignore_referrer", "debug_mode", "batch_page_id",
              "batch_ordering_id", "form_id", "form_name", "form_destination", "form_submit_text", "method",
              "currency", "value")
(P_SID, P_SNUM, P_LOC, P_REF, P_SRC, P_MED, P_CAMP, P_GCLID, P_ENG, P_SCROLL, P_ENGAGED,
 P_TITLE, P_ENTRANCES, P_ENGAGED_EVENT, P_IGNORE_REF, P_DEBUG, P_BATCH_PAGE, P_BATCH_ORDER, P_FORM_ID, P_FORM_NAME,
 P_FORM_DEST, P_FORM_TEXT, P_METHOD, P_CURRENCY, P_VALUE) = range(len(PARAM_KEYS))
# how a value is written: int_value number, int_value JSON string, string_value, double_value number
INT, INT_STR, STR, DBL = 0, 1, 2, 3
EVENT_NAMES = ("first_visit", "session_start", "page_view", "scroll", "login", "form_submit", "generate_lead",
               "user_engagement")
E_FIRST, E_START, E_PV, E_SCROLL, E_LOGIN, E_FORM, E_LEAD, E_ENGAGE = range(len(EVENT_NAMES))


def _param_pieces(intraday: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per key: (prefix, suffix) object arrays indexed by INT/INT_STR/STR, around the value's text.

    Daily shards write only the typed field that holds the value; intraday rows write all four, the others null.
    """
    fields = ("string_value", "int_value", "float_value", "double_value")
    out = []
    for key in PARAM_KEYS:
        pre, post = [], []
        for kind in (INT, INT_STR, STR, DBL):
            q = '"' if kind in (INT_STR, STR) else ""
            field = {STR: "string_value", DBL: "double_value"}.get(kind, "int_value")
            at = fields.index(field)
            before = "".join(f'"{f}":null,' for f in fields[:at]) if intraday else ""
            after = "".join(f',"{f}":null' for f in fields[at + 1:]) if intraday else ""
            pre.append(f',{{"key":"{key}","value":{{{before}"{field}":{q}')
            post.append(f"{q}{after}}}}}")
        out.append((np.array(pre, dtype=object), np.array(post, dtype=object)))
    return out


PIECES = {False: _param_pieces(False), True: _param_pieces(True)}
PRIVACY_JSON = np.array(["null", '{"analytics_storage":"Yes","ads_storage":"Yes","uses_transient_token":"No"}',
                         '{"analytics_storage":"No","ads_storage":"No","uses_transient_token":"No"}'], dtype=object)
CONSENT_VALUE = np.array([None, "Yes", "No"], dtype=object)
HEAD = '{"event_date":"%s","event_timestamp":%d,"event_name":"%s","event_params":['
HEAD_QUOTED = '{"event_date":"%s","event_timestamp":"%d","event_name":"%s","event_params":['
# the rest of a row, in the export's column order (event_params closed first)
TAIL = ('],"event_previous_timestamp":null,"event_value_in_usd":%s,"event_bundle_sequence_id":%s,'
        '"event_server_timestamp_offset":%s,"user_id":%s,"user_pseudo_id":%s,"privacy_info":%s,"user_properties":%s,'
        '"user_first_touch_timestamp":%s,"user_ltv":%s,%s,%s,"app_info":null%s,"stream_id":"' + STREAM_ID + '",'
        '"platform":"WEB","event_dimensions":null%s,"items":[],"collected_traffic_source":%s,"is_active_user":%s%s,'
        '"batch_page_id":%s,"batch_ordering_id":%s,"session_traffic_source_last_click":%s,"publisher":null}\n')
USER_LTV_JSON = '{"revenue":0.0,"currency":"USD"}'  # no purchases on this site: lifetime revenue 0
EVENT_NAME_ARRAY = np.array(EVENT_NAMES, dtype=object)


def _probs(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def _bern(rng: Generator, n: int, p: float, at_least: int = 0) -> np.ndarray:
    """n Bernoulli(p) draws; when fewer than `at_least` came up, that many (chosen at random) are set."""
    m = rng.random(n) < p
    if n and m.sum() < at_least:
        m[rng.choice(n, min(at_least, n), replace=False)] = True
    return m


def _iso(secs, rng: Generator | None = None, offset_share: float = 0.0) -> np.ndarray:
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


def csv_field(v) -> str:
    """One CSV field as the data contract's files write it: empty for None, quoted only when it must be
    (a comma, quote or line break, or surrounding spaces, which must survive the reader)."""
    if v is None:
        return ""
    s = str(v)
    if any(c in s for c in ',"\n\r') or s != s.strip():
        return '"' + s.replace('"', '""') + '"'
    return s


def cents_text(cents) -> list[str]:
    """Integer cents -> '1234.56' (exact: built from the integer, never from a float)."""
    return [f"{c // 100}.{c % 100:02d}" if c >= 0 else f"-{-c // 100}.{-c % 100:02d}"
            for c in np.asarray(cents, dtype=np.int64).tolist()]


def micro_text(micros) -> list[str]:
    """Integer millionths -> '1.084512' (exact, six decimals)."""
    return [f"{m // 1_000_000}.{m % 1_000_000:06d}" for m in np.asarray(micros, dtype=np.int64).tolist()]


def parse_currencies(text) -> tuple[str, ...]:
    """'USD,EUR,GBP' (or a sequence) -> ('USD', 'EUR', 'GBP'): ISO-4217-like codes, unique, the first the reporting
    currency. Raises ValueError otherwise."""
    codes = tuple(c.strip().upper() for c in (text.split(",") if isinstance(text, str) else text))
    if not codes or any(len(c) != 3 or not c.isalpha() or not c.isascii() for c in codes):
        raise ValueError(f"currencies must be three-letter codes separated by commas, got {text!r}")
    if len(set(codes)) != len(codes):
        raise ValueError(f"currencies must not repeat, got {text!r}")
    return codes


def _write_csv(path: Path, header: tuple, columns: list) -> int:
    """Columns (equal-length sequences) -> CSV, header first, fields quoted only when needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = [list(c) for c in columns]
    lines = [",".join(header)]
    lines += [",".join(csv_field(v) for v in row) for row in zip(*cols)]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.write_bytes(data)
    return len(data)


# ---------------------------------------------------------------------------------------------------------
# The world: people, companies, devices, sessions, forms, CRM, product users, deals, ad spend.
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
        suffix = rng.choice(len(COMPANY_SUFFIX), n_comp, p=_probs([s[2] for s in COMPANY_SUFFIX]))
        self.comp_country = rng.choice(len(COUNTRIES), n_comp, p=_probs([c[2] for c in COUNTRIES]))
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
        weights = _probs(1.0 / np.arange(1, n_comp + 1) ** 0.9)  # a few big accounts, a long tail
        self.p_comp = rng.choice(n_comp, N, p=weights)
        own_country = rng.choice(len(COUNTRIES), N, p=_probs([c[2] for c in COUNTRIES]))
        self.p_country = np.where(rng.random(N) < 0.85, self.comp_country[self.p_comp], own_country)
        first = rng.integers(0, len(FIRST), N)
        last = rng.integers(0, len(LAST), N)
        mail_kind = rng.choice(3, N, p=(0.72, 0.24, 0.04))  # corporate, personal, ambiguous domain
        pattern = rng.choice(3, N, p=(0.6, 0.25, 0.15))
        pdomain = rng.choice(len(PERSONAL_DOMAINS), N, p=_probs([d[1] for d in PERSONAL_DOMAINS]))
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
            pick = rng.choice(len(choices), int(m.sum()), p=_probs([c[1] for c in choices]))
            self.d_os[m] = np.array([c[0] for c in choices], dtype=object)[pick]
        self.d_country = self.p_country[self.d_owner]
        self.d_new = rng.random(nd) < P_NEW_DEVICE
        self.d_prior = np.where(self.d_new, 0, rng.geometric(0.3, nd))
        self.d_seen = self.t0 - rng.integers(DAY, 540 * DAY, nd)
        self.d_consent = rng.choice(np.array([1, 2, 0], dtype=np.int8), nd, p=P_CONSENT)
        if nd and not (self.d_consent == 2).any():
            self.d_consent[rng.integers(0, nd)] = 2
        self.d_flip = _bern(rng, nd, P_CONSENT_FLIP)
        self.d_flip_rank = rng.integers(1, 4, nd)
        self.d_acq = rng.choice(len(KINDS), nd, p=_probs([k.acquire for k in KINDS]))
        client = rng.integers(100_000_000, 2**31 - 1, nd)
        while len(np.unique(client)) < nd:  # a client number names one browser
            _, first_index = np.unique(client, return_index=True)
            again = np.setdiff1d(np.arange(nd), first_index)
            client[again] = rng.integers(100_000_000, 2**31 - 1, len(again))
        self.d_client = client
        # shared devices: a coworker (same company when there is one) also uses it
        self.d_second = np.full(nd, -1)
        if N >= 2:
            shared = np.flatnonzero(_bern(rng, nd, P_SHARED_DEVICE, at_least=1) & (self.d_cat == 0))
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
        day = rng.choice(days, S, p=_probs(np.where(weekday >= 5, WEEKEND_WEIGHT, 1.0)))
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
        kind = np.where(first, rng.choice(len(KINDS), S, p=_probs([k.acquire for k in KINDS])),
                        rng.choice(len(KINDS), S, p=_probs([k.revisit for k in KINDS])))
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
            late=_bern(rng, S, P_LATE_SESSION), landing=rng.integers(0, 1 << 30, S),
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
        names = rng.choice(len(FORMS), n, p=_probs([f[1] for f in FORMS]))
        # offline forms: no client id at all
        who = np.flatnonzero(self.p_contact & (self.p_kind > 0) & (rng.random(self.N) < P_OFFLINE_FORM))
        off_at = self.t0 + rng.integers(0, self.days * DAY - 60, len(who))
        off_email = _typed([self.p_email[p] for p in who.tolist()], rng.choice(len(P_TYPED), len(who), p=P_TYPED))
        off_names = rng.choice(len(FORMS), len(who), p=_probs([f[1] for f in FORMS]))
        all_at = np.r_[at, off_at].astype(np.int64)
        self.f_person = np.r_[person, who]
        self.f_at = all_at
        self.f_email = emails + off_email
        self.f_client = client + [""] * len(who)
        self.f_name = [FORMS[i][0] for i in np.r_[names, off_names].tolist()]
        self.f_order = np.lexsort((np.arange(len(all_at)), all_at))
        self.f_when = _iso(all_at, rng, P_CSV_OFFSET)
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
        dup = _bern(rng, n, P_DUP_CONTACT, at_least=1 if n >= 5 else 0)
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
        self.c_deleted = _bern(rng, m, P_DELETED_CONTACT, at_least=1 if m >= 5 else 0)
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
        self.u_plan = [PLANS[i][0] for i in rng.choice(len(PLANS), n, p=_probs([p[1] for p in PLANS])).tolist()]

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
        self.k_deleted = _bern(rng, n, P_DELETED_DEAL, at_least=1 if n >= 5 else 0)

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

    # -- files other than GA4
    def write_tables(self, out: Path) -> int:
        rng = self.rng
        size = 0
        synced = _iso([self.t_end - 3600])[0]
        # lifecycle stage from the contact's live deals
        best = np.full(len(self.c_id), 3)  # 0 won, 1 open, 2 lost, 3 none
        live = ~self.k_deleted
        rank = np.array([0, 2, 1])[self.k_status]
        np.minimum.at(best, self.k_contact_row[live], rank[live])
        pre = rng.integers(0, len(NON_CUSTOMER_STAGES), len(self.c_id))
        stage = [("customer", "opportunity")[b] if b < 2 else NON_CUSTOMER_STAGES[p]
                 for b, p in zip(best.tolist(), pre.tolist())]
        cp = self.c_person
        size += _write_csv(
            out / "crm/contacts.csv",
            ("contact_id", "email", "first_name", "last_name", "company_name", "job_title", "lifecycle_stage",
             "external_id", "created_at", "updated_at", "_fivetran_deleted", "_fivetran_synced"),
            [self.c_id.tolist(), self.c_email, [self.p_first[p] for p in cp.tolist()],
             [self.p_last[p] for p in cp.tolist()], [self.comp_name[self.p_comp[p]] for p in cp.tolist()],
             [TITLES[self.p_title[p]] for p in cp.tolist()], stage,
             [self.p_uid[p] if e else "" for p, e in zip(cp.tolist(), self.c_ext.tolist())],
             _iso(self.c_created, rng, P_CSV_OFFSET), _iso(self.c_updated),
             np.where(self.c_deleted, "true", "false").tolist(), [synced] * len(self.c_id)])
        closed = [c if s < 2 else "" for c, s in zip(_iso(self.k_closed, rng, P_CSV_OFFSET).tolist(),
                                                     self.k_status.tolist())]
        size += _write_csv(
            out / "crm/deals.csv",
            ("deal_id", "contact_id", "deal_name", "amount", "currency", "stage", "created_at", "closed_at",
             "_fivetran_deleted"),
            [self.k_id.tolist(), self.c_id[self.k_contact_row].tolist(),
             [f"{self.comp_name[self.p_comp[p]]} {DEAL_PRODUCTS[k]}" for p, k in
              zip(self.k_person.tolist(), self.k_product.tolist())],
             cents_text(self.k_amount), [self.currencies[c] for c in self.k_currency.tolist()], self.k_stage,
             _iso(self.k_created), closed, np.where(self.k_deleted, "true", "false").tolist()])
        o = self.f_order.tolist()
        size += _write_csv(
            out / "crm/form_submissions.csv", ("submission_id", "form_name", "email", "ga_client_id", "submitted_at"),
            [[f"FS-{i:07d}" for i in range(1, len(o) + 1)], [self.f_name[i] for i in o], [self.f_email[i] for i in o],
             [self.f_client[i] for i in o], self.f_when[self.f_order].tolist()])
        order = np.argsort(self.p_uid[self.u_person].astype(str), kind="stable")
        size += _write_csv(
            out / "product/users.csv", ("user_id", "email", "company_name", "plan", "signed_up_at", "last_login_at"),
            [self.p_uid[self.u_person][order].tolist(), [self.u_email[i] for i in order.tolist()],
             [self.u_company[i] for i in order.tolist()], [self.u_plan[i] for i in order.tolist()],
             _iso(self.u_signed[order]), _iso(self.u_last[order])])
        size += self._write_ad_spend(out)
        fx = out / "marketing/fx_rates.csv"
        if len(self.currencies) > 1:
            rows = [(d.isoformat(), c, r) for i, c in enumerate(self.currencies) if i
                    for d, r in zip(self.fx_dates, micro_text(self.fx_micros[i]))]
            rows.sort()
            size += _write_csv(fx, ("date", "currency", "rate"), list(zip(*rows)))
        elif fx.exists():  # a single currency: no rates (and none left from an earlier run into the same folder)
            fx.unlink()
        domains = ([(d, "personal") for d, _ in PERSONAL_DOMAINS] + [(d, "ambiguous") for d in AMBIGUOUS_DOMAINS]
                   + [(d, "corporate") for d in sorted(set(self.comp_domain))])
        domains.sort()
        size += _write_csv(out / "seeds/email_domains.csv", ("domain", "classification"),
                           [[d for d, _ in domains], [c for _, c in domains]])
        return size

    def _write_ad_spend(self, out: Path) -> int:
        rng, s, days = self.rng, self.s, self.days
        day = (s["start"] - self.t0) // DAY
        counts = np.bincount(day * len(KINDS) + s["kind"], minlength=days * len(KINDS)).reshape(days, len(KINDS))
        gclid = counts[:, KIND_INDEX["google_gclid_only"]]
        # costs per click are USD; in the reporting currency at its first weekly rate against USD
        report = 1.0 if self.currencies[0] == "USD" else (
            1e6 / self.fx_micros[self.currencies.index("USD")][0] if "USD" in self.currencies
            else FX_USD.get(self.currencies[0], 1.0))
        rows = []
        for d in range(days):
            for name, cpc in PAID:
                k = KINDS[KIND_INDEX[name]]
                clicks = counts[d, KIND_INDEX[name]] / 0.75 + rng.poisson(2)
                if name.startswith("google_cpc"):
                    clicks += gclid[d] / 2 / 0.75
                spend = clicks * cpc * rng.lognormal(0, 0.15) / report  # in the reporting currency
                source = k.utm[0].capitalize() if rng.random() < 0.05 else k.utm[0]
                rows.append(((self.start + timedelta(days=d)).isoformat(), source, k.utm[1], k.utm[2],
                             cents_text([int(round(spend * 100))])[0]))
        return _write_csv(out / "marketing/ad_spend.csv", ("date", "source", "medium", "campaign", "spend"),
                          list(zip(*rows)) if rows else [[], [], [], [], []])


# ---------------------------------------------------------------------------------------------------------
# GA4 events, one day at a time.
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
                                                p=_probs([c[2] for c in COUNTRIES]))]
        self.country = np.array([c[0] for c in COUNTRIES], dtype=object)[country]
        users = [KINDS[k].user for k in w.d_kind.tolist()] + [KINDS[0].user] * COOKIELESS_PROFILES
        self.ts_name = np.array([u[0] for u in users], dtype=object)
        self.ts_medium = np.array([u[1] for u in users], dtype=object)
        self.ts_source = np.array([u[2] for u in users], dtype=object)
        self.upid = np.array([f"{c}.{t}" for c, t in zip(w.d_client.tolist(), w.d_seen.tolist())]
                             + [None] * COOKIELESS_PROFILES, dtype=object)
        self.upid_json = np.array([f'"{u}"' if u else "null" for u in self.upid.tolist()], dtype=object)
        self.cookieless0 = nd


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


PAGE_PATHS = np.array([p for p, _ in PAGES] + list(APP_PAGES), dtype=object)
PAGE_URLS = np.array([SITE + p for p in PAGE_PATHS.tolist()], dtype=object)
PAGE_P = _probs([w for _, w in PAGES])
LANDING_PATHS = sorted({p for k in KINDS for p in k.landings} | set(PAGE_PATHS.tolist()))
LANDING_INDEX = {p: i for i, p in enumerate(LANDING_PATHS)}
LANDING_URLS = np.array([SITE + p for p in LANDING_PATHS], dtype=object)
KIND_LANDINGS = [np.array([LANDING_INDEX[p] for p in k.landings]) for k in KINDS]
KIND_REFERRER = np.array([k.referrer for k in KINDS], dtype=object)
PAGE_TO_LANDING = np.array([LANDING_INDEX[p] for p in PAGE_PATHS.tolist()])


# ---------------------------------------------------------------------------------------------------------
# The rest of the export's schema: what a real GA4 web row carries besides the fields the pipeline reads
# (device and geo details, user properties and first touch, the session's last-click attribution, batch ids,
# the other event_params of a web stream). All of it is drawn from random streams of its own, seeded from
# (seed, ENRICH_TAG, ...), never from the main Generator: the events, sessions, people, CRM files and every field
# the pipeline reads are exactly what they would be without it. One exception, as the pipeline reads its result: the
# login method (a single sign-on puts ignore_referrer on the pages after it) comes from (seed, LOGIN_TAG, day).
# ---------------------------------------------------------------------------------------------------------
ENRICH_TAG = 0x656E72696368  # b"enrich"
LOGIN_TAG = 0x6C6F67696E  # b"login": the login method (its ignore_referrer is read by the pipeline)
HOSTNAME = SITE.split("://", 1)[1]
P_AWAY_CITY = 0.10  # a person's second or third device is seen in another city of their country
P_DEBUG_DEVICE = 0.003  # a device of the site's own team: debug_mode on every event
SERVER_OFFSET_MEDIAN_US, SERVER_OFFSET_SIGMA = 350_000, 0.9  # event_server_timestamp_offset ~ LogNormal (us)

GEO = {  # country: (continent, sub_continent, ((city, region, metro, weight), ...)); metro (DMA) is US-only
    "United States": ("Americas", "Northern America", (
        ("New York", "New York", "New York, NY", 16), ("San Francisco", "California",
                                                       "San Francisco-Oakland-San Jose CA", 12),
        ("Los Angeles", "California", "Los Angeles CA", 8), ("Chicago", "Illinois", "Chicago IL", 7),
        ("Austin", "Texas", "Austin TX", 6), ("Seattle", "Washington", "Seattle-Tacoma WA", 6),
        ("Boston", "Massachusetts", "Boston MA-Manchester NH", 6), ("Dallas", "Texas", "Dallas-Ft. Worth TX", 5),
        ("San Jose", "California", "San Francisco-Oakland-San Jose CA", 4), ("Denver", "Colorado", "Denver CO", 4),
        ("Atlanta", "Georgia", "Atlanta GA", 4), ("Ashburn", "Virginia", "Washington DC (Hagerstown MD)", 4),
        ("Miami", "Florida", "Miami-Ft. Lauderdale FL", 3), ("(not set)", "(not set)", "(not set)", 15))),
    "United Kingdom": ("Europe", "Northern Europe", (
        ("London", "England", "(not set)", 45), ("Manchester", "England", "(not set)", 10),
        ("Birmingham", "England", "(not set)", 7), ("Edinburgh", "Scotland", "(not set)", 6),
        ("Bristol", "England", "(not set)", 6), ("Leeds", "England", "(not set)", 5),
        ("Cambridge", "England", "(not set)", 4), ("(not set)", "(not set)", "(not set)", 17))),
    "Germany": ("Europe", "Western Europe", (
        ("Berlin", "Berlin", "(not set)", 25), ("Munich", "Bavaria", "(not set)", 18),
        ("Hamburg", "Hamburg", "(not set)", 12), ("Frankfurt", "Hesse", "(not set)", 10),
        ("Cologne", "North Rhine-Westphalia", "(not set)", 8), ("Stuttgart", "Baden-Württemberg", "(not set)", 6),
        ("Düsseldorf", "North Rhine-Westphalia", "(not set)", 5), ("(not set)", "(not set)", "(not set)", 16))),
    "Canada": ("Americas", "Northern America", (
        ("Toronto", "Ontario", "(not set)", 35), ("Vancouver", "British Columbia", "(not set)", 18),
        ("Montreal", "Quebec", "(not set)", 16), ("Calgary", "Alberta", "(not set)", 8),
        ("Ottawa", "Ontario", "(not set)", 7), ("(not set)", "(not set)", "(not set)", 16))),
    "France": ("Europe", "Western Europe", (
        ("Paris", "Île-de-France", "(not set)", 50), ("Lyon", "Auvergne-Rhône-Alpes", "(not set)", 12),
        ("Toulouse", "Occitanie", "(not set)", 7), ("Marseille", "Provence-Alpes-Côte d'Azur", "(not set)", 6),
        ("Nantes", "Pays de la Loire", "(not set)", 5), ("(not set)", "(not set)", "(not set)", 20))),
    "India": ("Asia", "Southern Asia", (
        ("Bengaluru", "Karnataka", "(not set)", 30), ("Mumbai", "Maharashtra", "(not set)", 18),
        ("Hyderabad", "Telangana", "(not set)", 14), ("Pune", "Maharashtra", "(not set)", 10),
        ("Chennai", "Tamil Nadu", "(not set)", 8), ("New Delhi", "Delhi", "(not set)", 8),
        ("(not set)", "(not set)", "(not set)", 12))),
    "Australia": ("Oceania", "Australasia", (
        ("Sydney", "New South Wales", "(not set)", 42), ("Melbourne", "Victoria", "(not set)", 32),
        ("Brisbane", "Queensland", "(not set)", 10), ("Perth", "Western Australia", "(not set)", 6),
        ("(not set)", "(not set)", "(not set)", 10))),
    "Netherlands": ("Europe", "Western Europe", (
        ("Amsterdam", "North Holland", "(not set)", 45), ("Rotterdam", "South Holland", "(not set)", 15),
        ("Utrecht", "Utrecht", "(not set)", 12), ("Eindhoven", "North Brabant", "(not set)", 8),
        ("(not set)", "(not set)", "(not set)", 20))),
    "Spain": ("Europe", "Southern Europe", (
        ("Madrid", "Community of Madrid", "(not set)", 45), ("Barcelona", "Catalonia", "(not set)", 35),
        ("Valencia", "Valencian Community", "(not set)", 8), ("(not set)", "(not set)", "(not set)", 12))),
    "Brazil": ("Americas", "South America", (
        ("São Paulo", "State of São Paulo", "(not set)", 50), ("Rio de Janeiro", "State of Rio de Janeiro",
                                                               "(not set)", 20),
        ("Belo Horizonte", "State of Minas Gerais", "(not set)", 10), ("Curitiba", "State of Paraná", "(not set)", 7),
        ("(not set)", "(not set)", "(not set)", 13))),
    "Japan": ("Asia", "Eastern Asia", (
        ("Tokyo", "Tokyo", "(not set)", 60), ("Osaka", "Osaka", "(not set)", 15),
        ("Yokohama", "Kanagawa", "(not set)", 10), ("(not set)", "(not set)", "(not set)", 15))),
    "Sweden": ("Europe", "Northern Europe", (
        ("Stockholm", "Stockholm County", "(not set)", 60), ("Gothenburg", "Västra Götaland County", "(not set)", 20),
        ("Malmo", "Skåne County", "(not set)", 10), ("(not set)", "(not set)", "(not set)", 10))),
    "Singapore": ("Asia", "Southeast Asia", (
        ("Singapore", "Singapore", "(not set)", 90), ("(not set)", "(not set)", "(not set)", 10))),
    "Mexico": ("Americas", "Central America", (
        ("Mexico City", "Mexico City", "(not set)", 55), ("Guadalajara", "Jalisco", "(not set)", 20),
        ("Monterrey", "Nuevo Leon", "(not set)", 15), ("(not set)", "(not set)", "(not set)", 10))),
}
LANGUAGES = {  # country: ((browser language, weight), ...)
    "United States": (("en-us", 95), ("es-us", 5)), "United Kingdom": (("en-gb", 90), ("en-us", 10)),
    "Germany": (("de-de", 70), ("en-us", 20), ("de", 10)), "Canada": (("en-ca", 55), ("en-us", 30), ("fr-ca", 15)),
    "France": (("fr-fr", 80), ("fr", 10), ("en-us", 10)), "India": (("en-in", 50), ("en-us", 45), ("hi-in", 5)),
    "Australia": (("en-au", 75), ("en-us", 20), ("en-gb", 5)),
    "Netherlands": (("nl-nl", 60), ("en-us", 30), ("en-gb", 10)),
    "Spain": (("es-es", 80), ("en-us", 15), ("ca-es", 5)), "Brazil": (("pt-br", 90), ("en-us", 10)),
    "Japan": (("ja-jp", 75), ("ja", 15), ("en-us", 10)), "Sweden": (("sv-se", 60), ("en-us", 30), ("en-gb", 10)),
    "Singapore": (("en-sg", 50), ("en-us", 40), ("zh-cn", 10)),
    "Mexico": (("es-mx", 70), ("es-419", 20), ("en-us", 10)),
}
BROWSERS = {  # (category is desktop, operating system): ((web_info.browser, weight), ...)
    (True, "Windows"): (("Chrome", 66), ("Edge", 24), ("Firefox", 10)),
    (True, "Macintosh"): (("Chrome", 52), ("Safari", 42), ("Firefox", 6)),
    (True, "Linux"): (("Chrome", 70), ("Firefox", 30)), (True, "Chrome OS"): (("Chrome", 100),),
    (False, "iOS"): (("Safari", 78), ("Chrome", 16), ("Safari (in-app)", 6)),
    (False, "Android"): (("Chrome", 84), ("Samsung Internet", 12), ("Android Webview", 4)),
}
OS_VERSIONS = {
    "Windows": (("Windows 10", 58), ("Windows 11", 42)),
    "Macintosh": (("Macintosh Intel 10.15", 60), ("Macintosh Intel 14.3", 22), ("Macintosh Intel 13.6", 18)),
    "Linux": (("Linux x86_64", 100),), "Chrome OS": (("Chrome OS 15662.76.0", 55), ("Chrome OS 15633.69.0", 45)),
    "iOS": (("iOS 17.3.1", 35), ("iOS 17.3", 15), ("iOS 17.2.1", 15), ("iOS 17.4", 12), ("iOS 16.7.5", 12),
            ("iOS 16.6.1", 11)),
    "Android": (("Android 14", 45), ("Android 13", 30), ("Android 12", 15), ("Android 11", 10)),
}
BROWSER_VERSIONS = {  # (browser, desktop / iOS / Android): ((version, weight), ...); Safari on iOS follows iOS
    ("Chrome", "desktop"): (("122.0.6261.112", 35), ("122.0.6261.95", 20), ("122.0.6261.129", 15),
                            ("121.0.6167.185", 15), ("120.0.6099.225", 10), ("123.0.6312.58", 5)),
    ("Edge", "desktop"): (("122.0.2365.80", 40), ("122.0.2365.66", 35), ("121.0.2277.128", 25)),
    ("Firefox", "desktop"): (("123.0", 55), ("123.0.1", 15), ("122.0", 20), ("115.8.0", 10)),
    ("Safari", "desktop"): (("17.3.1", 45), ("17.3", 20), ("17.2.1", 15), ("16.6", 10), ("17.4", 10)),
    ("Chrome", "iOS"): (("122.0.6261.89", 60), ("121.0.6167.171", 40)),
    ("Chrome", "Android"): (("122.0.6261.119", 40), ("122.0.6261.105", 25), ("121.0.6167.178", 20),
                            ("120.0.6099.230", 15)),
    ("Samsung Internet", "Android"): (("24.0", 60), ("23.0", 40)),
    ("Android Webview", "Android"): (("122.0.6261.119", 60), ("121.0.6167.178", 40)),
}
DESKTOP_MAKERS = {"Chrome": ("Google", "Chrome"), "Edge": ("Microsoft", "Edge"), "Firefox": ("Mozilla", "Firefox"),
                  "Safari": ("Apple", "Safari")}  # desktop rows: mobile_brand_name / mobile_model_name of the browser
HANDSETS = {  # (category, operating system): ((brand, model, marketing name, weight), ...)
    (1, "iOS"): (("Apple", "iPhone", "iPhone", 100),), (2, "iOS"): (("Apple", "iPad", "iPad", 100),),
    (1, "Android"): (("Samsung", "SM-S918B", "Galaxy S23 Ultra", 12), ("Samsung", "SM-S911B", "Galaxy S23", 10),
                     ("Samsung", "SM-A546B", "Galaxy A54 5G", 9), ("Samsung", "SM-S921B", "Galaxy S24", 6),
                     ("Samsung", "SM-G991B", "Galaxy S21 5G", 6), ("Google", "Pixel 8", "Pixel 8", 8),
                     ("Google", "Pixel 7a", "Pixel 7a", 7), ("Google", "Pixel 7 Pro", "Pixel 7 Pro", 5),
                     ("Xiaomi", "2201116SG", "Redmi Note 11 Pro 5G", 6), ("Xiaomi", "23021RAAEG", "Redmi Note 12", 6),
                     ("OnePlus", "CPH2449", "OnePlus 11 5G", 5), ("Motorola", "moto g54 5G", "moto g54 5G", 5),
                     ("Huawei", "VOG-L29", "P30 Pro", 3), ("(not set)", "(not set)", "(not set)", 12)),
    (2, "Android"): (("Samsung", "SM-X710", "Galaxy Tab S9", 40), ("Samsung", "SM-X200", "Galaxy Tab A8", 35),
                     ("Lenovo", "TB-X606F", "Tab M10 FHD Plus", 25)),
}
PAGE_TITLES = {  # page_title by path (every landing and later page)
    "/": "C360 Demo | Customer 360 for GA4 and your CRM", "/pricing": "Pricing | C360 Demo",
    "/login": "Log in | C360 Demo", "/features": "Features | C360 Demo",
    "/features/identity-resolution": "Identity Resolution: Stitch Devices to Customers | C360 Demo",
    "/features/attribution": "Multi-Touch Attribution | C360 Demo", "/customers": "Customer Stories | C360 Demo",
    "/docs": "Documentation | C360 Demo Docs", "/docs/getting-started": "Getting Started | C360 Demo Docs",
    "/blog": "Blog | C360 Demo",
    "/blog/customer-360-guide": "The Complete Guide to Building a Customer 360 | C360 Demo Blog",
    "/blog/ga4-bigquery-export": "How to Query the GA4 BigQuery Export (with Examples) | C360 Demo Blog",
    "/blog/multi-touch-attribution": "Multi-Touch Attribution Models Explained | C360 Demo Blog",
    "/about": "About Us | C360 Demo", "/careers": "Careers | C360 Demo", "/demo": "Book a Demo | C360 Demo",
    "/integrations": "Integrations | C360 Demo", "/security": "Security & Compliance | C360 Demo",
    "/contact": "Contact Sales | C360 Demo", "/webinar": "Webinar: From GA4 Events to Revenue | C360 Demo",
    "/changelog": "Changelog | C360 Demo", "/app": "Dashboard – C360 Demo", "/app/reports": "Reports – C360 Demo",
    "/app/identity": "Identity Graph – C360 Demo", "/app/settings": "Settings – C360 Demo",
    "/app/attribution": "Attribution – C360 Demo",
    "/lp/customer-360": "Customer 360 Platform for B2B Teams | C360 Demo",
    "/lp/spring-sale": "Spring Offer: 3 Months Free | C360 Demo",
    "/lp/abm": "Account-Based Marketing Analytics | C360 Demo",
}
LANDING_TITLES = np.array([PAGE_TITLES[p] for p in LANDING_PATHS], dtype=object)
FORM_HTML = {  # form_name (CRM): (form_id, form_destination, form_submit_text, generate_lead value USD)
    "demo_request": ("hsForm_5f0c2a9e-8d1b-4c3e-9a7f-2b6d1e4c8a01",
                     "https://forms.hsforms.com/submissions/v3/public/submit/formsnext/multipart/4521876/"
                     "5f0c2a9e-8d1b-4c3e-9a7f-2b6d1e4c8a01", "Request a demo", 150.0),
    "contact_us": ("hsForm_9b3e41d7-2c6a-4f08-b1e5-7d0a9c3f6e12",
                   "https://forms.hsforms.com/submissions/v3/public/submit/formsnext/multipart/4521876/"
                   "9b3e41d7-2c6a-4f08-b1e5-7d0a9c3f6e12", "Contact sales", 80.0),
    "newsletter_signup": ("newsletter-form", "https://www.c360demo.com/api/newsletter", "Subscribe", 5.0),
    "webinar_registration": ("hsForm_3a7d92c4-6e1f-4b58-8c0d-e4f2a6b9d735",
                             "https://forms.hsforms.com/submissions/v3/public/submit/formsnext/multipart/4521876/"
                             "3a7d92c4-6e1f-4b58-8c0d-e4f2a6b9d735", "Save my seat", 40.0),
    "ebook_download": ("ebook-gate", "https://www.c360demo.com/api/ebook", "Download the guide", 25.0),
}
FORM_NAMES = tuple(name for name, _ in FORMS)
LOGIN_METHODS = (("email", 70), ("google", 25), ("microsoft", 5))  # a non-email login redirects back: ignore_referrer
WORKSPACE_ROLES = (("admin", 20), ("member", 65), ("viewer", 15))
GOOGLE_ADS_CUSTOMER = ("4521876390", "C360 Demo - Search")
ADS_GROUPS = (  # (campaign_id, campaign_name, ad_group_id, ad_group_name); variants 0-1 brand, 2-3 generic
    ("20514839201", "brand_search", "153820448611", "Brand - Exact"),
    ("20514839201", "brand_search", "153820448651", "Brand - Phrase"),
    ("20514839377", "generic_search", "156091735202", "Customer 360 Software"),
    ("20514839377", "generic_search", "156091735242", "GA4 CRM Integration"),
)
CHANNEL_GROUP = {"direct": "Direct", "linkedin_organic": "Organic Social", "twitter_organic": "Organic Social",
                 "newsletter": "Email", "product_email": "Email", "facebook_paid": "Paid Social",
                 "facebook_retargeting": "Paid Social", "linkedin_paid": "Paid Social"}
MONTHS = 12
LAST_CLICK_VARIANTS = len(ADS_GROUPS)


def _channel_group(k: Kind) -> str:
    if k.name in CHANNEL_GROUP:
        return CHANNEL_GROUP[k.name]
    if k.gclid or (k.utm and k.utm[1] == "cpc"):
        return "Paid Search"
    return "Organic Search" if k.params and k.params[1] == "organic" else "Referral"


def _last_click(kind: int, month: int, variant: int) -> dict:
    """session_traffic_source_last_click of a session of `kind` starting in `month` (0 = January); `variant` picks
    the Google Ads campaign and ad group of an auto-tagged session."""
    k = KINDS[kind]
    name, medium, source = k.user
    if "{month}" in name:
        name = name.replace("{month}", datetime(2000, month + 1, 1).strftime("%B").lower())
    manual_platform = "Manual" if k.utm and k.utm[0] else "(not set)"
    ads = None
    if k.gclid:
        campaign_id, campaign, group_id, group = ADS_GROUPS[variant]
        ads = {"customer_id": GOOGLE_ADS_CUSTOMER[0], "account_name": GOOGLE_ADS_CUSTOMER[1],
               "campaign_id": campaign_id, "campaign_name": campaign, "ad_group_id": group_id, "ad_group_name": group}
    group = _channel_group(k)
    return {
        "manual_campaign": {"campaign_id": None, "campaign_name": name, "source": source, "medium": medium,
                            "term": None, "content": None, "source_platform": manual_platform,
                            "creative_format": "(not set)", "marketing_tactic": "(not set)"},
        "google_ads_campaign": ads,
        "cross_channel_campaign": {"campaign_id": ads["campaign_id"] if ads else None,
                                   "campaign_name": ads["campaign_name"] if ads else name, "source": source,
                                   "medium": medium, "source_platform": "Google Ads" if ads else manual_platform,
                                   "default_channel_group": group, "primary_channel_group": group},
        "sa360_campaign": None, "cm360_campaign": None, "dv360_campaign": None,
    }


# every (kind, month, variant) as a dict; code = (kind * MONTHS + month) * LAST_CLICK_VARIANTS + variant
LAST_CLICKS = [_last_click(k, m, v) for k in range(len(KINDS)) for m in range(MONTHS)
               for v in range(LAST_CLICK_VARIANTS)]


def _jdump(v) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def _pick(rng: Generator, options, n: int) -> np.ndarray:
    """n draws from ((value, weight), ...) as an object array of values."""
    values = np.empty(len(options), dtype=object)
    values[:] = [o[0] for o in options]
    return values[rng.choice(len(options), n, p=_probs([o[-1] for o in options]))]


class Enrichment:
    """Per device, user and (kind, month) the constant parts of a row, as JSON pieces and arrow arrays; per day,
    the event-level fields (frame). Random only through its own streams (rng)."""

    def __init__(self, w: World, lk: Lookups, seed: int):
        self.seed = seed
        r = self.rng(0)
        nd, C = len(w.d_owner), COOKIELESS_PROFILES
        total = nd + C
        cat = np.array([CATEGORIES.index(c) for c in lk.cat.tolist()])
        os_ = lk.os
        country_index = {c[0]: i for i, c in enumerate(COUNTRIES)}
        country = np.array([country_index[c] for c in lk.country.tolist()])
        # a person's language and home city (cookieless profiles are pseudo-people of their own)
        owner = np.r_[w.d_owner, w.N + np.arange(C)]
        p_country = np.r_[w.p_country, country[nd:]]
        p_lang = np.empty(len(p_country), dtype=object)
        p_city = np.zeros(len(p_country), dtype=np.int64)
        for ci, (cname, _, _) in enumerate(COUNTRIES):
            m = np.flatnonzero(p_country == ci)
            cities = GEO[cname][2]
            p_lang[m] = _pick(r, LANGUAGES[cname], len(m))
            p_city[m] = r.choice(len(cities), len(m), p=_probs([c[3] for c in cities]))
        city = p_city[owner]
        ordinal = np.r_[np.arange(nd) - w.p_dev0[w.d_owner], np.zeros(C, dtype=np.int64)]
        away = (ordinal > 0) & (r.random(total) < P_AWAY_CITY)
        for ci, (cname, _, _) in enumerate(COUNTRIES):
            m = np.flatnonzero(away & (country == ci))
            cities = GEO[cname][2]
            city[m] = r.choice(len(cities), len(m), p=_probs([c[3] for c in cities]))
        # browser, versions and handset: fixed per device
        browser = np.empty(total, dtype=object)
        for (desktop, os_name), options in BROWSERS.items():
            m = np.flatnonzero(((cat == 0) == desktop) & (os_ == os_name))
            browser[m] = _pick(r, options, len(m))
        os_version = np.empty(total, dtype=object)
        for os_name, options in OS_VERSIONS.items():
            m = np.flatnonzero(os_ == os_name)
            os_version[m] = _pick(r, options, len(m))
        platform = np.where(cat == 0, "desktop", os_).astype(object)
        browser_version = np.empty(total, dtype=object)
        for (b, plat), options in BROWSER_VERSIONS.items():
            m = np.flatnonzero((browser == b) & (platform == plat))
            browser_version[m] = _pick(r, options, len(m))
        ios_safari = np.flatnonzero((platform == "iOS") & np.isin(browser, ["Safari", "Safari (in-app)"]))
        browser_version[ios_safari] = [".".join(v.split()[1].split(".")[:2]) for v in os_version[ios_safari]]
        handset = np.empty(total, dtype=object)
        for (c, os_name), options in HANDSETS.items():
            m = np.flatnonzero((cat == c) & (os_ == os_name))
            handset[m] = _pick(r, [((b, mo, mk), wt) for b, mo, mk, wt in options], len(m))
        for i in np.flatnonzero(cat == 0).tolist():
            handset[i] = DESKTOP_MAKERS[browser[i]] + ("(not set)",)
        lang = p_lang[owner]
        # unique device structs and geo structs: each device points at one of each
        profiles: dict = {}
        self.dev_profile = np.array([profiles.setdefault(p, len(profiles)) for p in zip(
            lk.cat.tolist(), handset.tolist(), os_.tolist(), os_version.tolist(), lang.tolist(), browser.tolist(),
            browser_version.tolist())], dtype=np.int64)
        self.device_dicts = [
            {"category": c, "mobile_brand_name": h[0], "mobile_model_name": h[1], "mobile_marketing_name": h[2],
             "mobile_os_hardware_model": None, "operating_system": o, "operating_system_version": ov,
             "vendor_id": None, "advertising_id": None, "language": lg, "is_limited_ad_tracking": "No",
             "time_zone_offset_seconds": None, "browser": None, "browser_version": None,
             "web_info": {"browser": b, "browser_version": bv, "hostname": HOSTNAME}}
            for c, h, o, ov, lg, b, bv in profiles]
        self.device_json = np.array(['"device":' + _jdump(d) for d in self.device_dicts], dtype=object)
        places: dict = {}
        self.dev_geo = np.array([places.setdefault(p, len(places)) for p in zip(country.tolist(), city.tolist())],
                                dtype=np.int64)
        self.geo_dicts = []
        for ci, k in places:
            cname = COUNTRIES[ci][0]
            continent, sub, cities = GEO[cname]
            name, region, metro, _ = cities[k]
            self.geo_dicts.append({"city": name, "country": cname, "continent": continent, "region": region,
                                   "sub_continent": sub, "metro": metro})
        self.geo_json = np.array(['"geo":' + _jdump(g) for g in self.geo_dicts], dtype=object)
        self.traffic_json = np.array([f',"traffic_source":{{"name":"{n}","medium":"{m}","source":"{s}"}}' for n, m, s in
                                      zip(lk.ts_name.tolist(), lk.ts_medium.tolist(), lk.ts_source.tolist())],
                                     dtype=object)
        # first touch: a new device's first_visit; an older one's cookie time (its user_pseudo_id's suffix)
        ft = np.full(total, -1, dtype=np.int64)
        ft[:nd] = w.d_seen * 1_000_000 + r.integers(0, 1_000_000, nd)
        first = w.s["first"]
        ft[w.s["dev"][first]] = w.s["start"][first] * 1_000_000 + w.s["jitter"][first]
        self.first_touch = ft
        self.debug = np.r_[r.random(nd) < P_DEBUG_DEVICE, np.zeros(C, dtype=bool)]
        self.d_kind = w.d_kind
        # user properties of a logged-in product user (row -1: none)
        users = w.u_person
        self.user_row = np.full(w.N, -1, dtype=np.int64)
        self.user_row[users] = np.arange(len(users))
        role = _pick(r, WORKSPACE_ROLES, len(users)).tolist()
        set_at = (w.u_signed * 1_000_000 + r.integers(0, 1_000_000, len(users))).tolist()
        self.user_props = [[{"key": "plan", "value": {"string_value": p, "set_timestamp_micros": t}},
                            {"key": "workspace_role", "value": {"string_value": ro, "set_timestamp_micros": t}}]
                           for p, ro, t in zip(w.u_plan, role, set_at)] + [[]]
        typed = {"string_value": None, "int_value": None, "float_value": None, "double_value": None}
        self.user_props_json = {
            False: np.array([_jdump(u) for u in self.user_props], dtype=object),
            True: np.array([_jdump([{"key": p["key"], "value": {**typed, **p["value"]}} for p in u])
                            for u in self.user_props], dtype=object)}
        # forms: the CRM form name of each session's submission
        self.session_form = np.full(w.S, -1, dtype=np.int64)
        with_form = np.flatnonzero(w.s["form"])
        self.session_form[with_form] = [FORM_NAMES.index(n) for n in w.f_name[:len(with_form)]]
        self.last_click_json = np.array([_jdump(x) for x in LAST_CLICKS] + ["null"], dtype=object)
        self._arrow = None

    def rng(self, *key: int) -> Generator:
        return Generator(PCG64(np.random.SeedSequence([self.seed, ENRICH_TAG, *key])))

    def frame(self, f: dict, d: int, x: dict) -> None:
        """Add the enrichment columns to the day's frame `f` (its first x['n0'] rows are session events, then the
        cookieless pings): the extra event_params and the event-level top-level fields."""
        er = self.rng(1, d)
        s, lo = x["s"], x["lo"]
        S = len(s["start"])
        n, n0 = len(f["ts"]), x["n0"]
        sess, page, off = x["sess"], x["page"], x["off"]
        name = f["name"]
        # per session: login method, Google Ads ad group, last-click attribution. The login method decides which
        # page views carry ignore_referrer (back from a single sign-on), a parameter the pipeline reads: it is drawn
        # from a stream keyed apart from ENRICH_TAG, so no enrichment stream changes what the pipeline reads
        method = Generator(PCG64(np.random.SeedSequence([self.seed, LOGIN_TAG, d]))).choice(
            len(LOGIN_METHODS), S, p=_probs([m[1] for m in LOGIN_METHODS]))
        group = er.integers(0, 2, S)
        campaign = er.integers(0, 2, S)
        kind = s["kind"]
        kind = np.where(kind == KIND_INDEX["direct"], self.d_kind[s["dev"]], kind)  # last non-direct click
        variant = np.where(kind == KIND_INDEX["google_cpc_generic"], 2 + group,
                           np.where(kind == KIND_INDEX["google_gclid_only"], 2 * campaign + group, group))
        variant = np.where(np.array([KINDS[k].gclid for k in range(len(KINDS))])[kind], variant, 0)
        month = s["start"].astype("datetime64[s]").astype("datetime64[M]").astype(np.int64) % MONTHS
        last_click = (kind * MONTHS + month) * LAST_CLICK_VARIANTS + variant
        # per event
        client = np.ones(n, dtype=bool)
        client[:n0] = x["has_session"]
        client_sess = client[:n0]
        landing = np.r_[x["pv_li"][page], x["ping_li"]]
        page_ms = np.r_[x["pv_ms"][page], f["ts"][n0:] // 1000]
        has_loc = f[f"k{P_LOC}"] >= 0

        def put(key: int, where: np.ndarray, kind_: int, value) -> None:
            f[f"k{key}"][where] = kind_
            if kind_ in (INT, INT_STR):
                f[f"i{key}"][where] = value
            else:
                f[f"v{key}"][where] = value

        put(P_TITLE, has_loc, STR, LANDING_TITLES[landing[has_loc]])
        first_pv = np.zeros(n, dtype=bool)
        first_pv[:n0] = (name[:n0] == E_PV) & (x["pv_own"] >= 0) & (x["pv_no"][page] == 0)
        first_pv[n0:] = name[n0:] == E_PV
        put(P_ENTRANCES, first_pv, INT, 1)
        put(P_ENGAGED_EVENT, f[f"k{P_ENGAGED}"] >= 0, INT, 1)
        sso = np.zeros(n, dtype=bool)
        sso[:n0] = ((s["login"][sess] == 1) & (method[sess] > 0) & (name[:n0] == E_PV)
                    & (off > s["login_off"][sess] * 1000))
        put(P_IGNORE_REF, sso, STR, "true")
        put(P_DEBUG, self.debug[f["dev"]] & client, INT, 1)
        put(P_BATCH_PAGE, client, INT, page_ms[client])
        # batch_ordering_id: the page's first request carries the page view (and session_start / first_visit);
        # each later event on the page is a request of its own
        order = np.ones(n, dtype=np.int64)
        later = np.flatnonzero(client_sess & ~np.isin(name[:n0], (E_FIRST, E_START, E_PV)))
        if len(later):
            by = later[np.lexsort((off[later], page[later]))]
            pg = page[by]
            new_group = np.r_[True, pg[1:] != pg[:-1]]
            group_start = np.flatnonzero(new_group)
            rank = np.arange(len(by)) - np.repeat(group_start, np.diff(np.r_[group_start, len(by)]))
            order[by] = rank + 2
        put(P_BATCH_ORDER, client, INT, order[client])
        form_event = np.flatnonzero(name[:n0] == E_FORM)
        lead_event = np.flatnonzero(name[:n0] == E_LEAD)
        form_of = self.session_form[lo + sess]
        for rows, is_form in ((form_event, True), (lead_event, False)):
            names = [FORM_NAMES[i] for i in form_of[rows].tolist()]
            put(P_FORM_NAME, rows, STR, np.array(names, dtype=object))
            if is_form:
                put(P_FORM_ID, rows, STR, np.array([FORM_HTML[nm][0] for nm in names], dtype=object))
                put(P_FORM_DEST, rows, STR, np.array([FORM_HTML[nm][1] for nm in names], dtype=object))
                put(P_FORM_TEXT, rows, STR, np.array([FORM_HTML[nm][2] for nm in names], dtype=object))
        lead_value = np.array([FORM_HTML[FORM_NAMES[i]][3] for i in form_of[lead_event].tolist()], dtype=np.float64)
        put(P_CURRENCY, lead_event, STR, "USD")
        put(P_VALUE, lead_event, DBL, np.array([repr(v) for v in lead_value.tolist()], dtype=object))
        login_event = np.flatnonzero(name[:n0] == E_LOGIN)
        put(P_METHOD, login_event, STR, np.array([LOGIN_METHODS[m][0] for m in method[sess[login_event]].tolist()],
                                                 dtype=object))
        # top-level fields
        value = np.full(n, np.nan)
        value[lead_event] = lead_value
        f["x_value"] = value
        f["x_offset"] = np.where(client, (er.lognormal(np.log(SERVER_OFFSET_MEDIAN_US), SERVER_OFFSET_SIGMA, n)
                                          ).astype(np.int64), -1)
        uprops = np.full(n, -1, dtype=np.int64)
        uid = f["uid"][:n0]
        real = (uid != None) & (uid != "undefined")  # noqa: E711  (object array: elementwise)
        uprops[:n0][real] = self.user_row[s["person"][sess[real]]]
        f["x_uprops"] = uprops
        f["x_active"] = np.r_[x["engaged"][sess], np.zeros(n - n0, dtype=bool)]
        f["x_last_click"] = np.r_[np.where(client_sess, last_click[sess], -1), np.full(n - n0, -1, dtype=np.int64)]

    # -- parquet: the same constants as arrow arrays (built on first use)
    def arrow(self) -> dict:
        if self._arrow is None:
            import pyarrow as pa

            schema = export_arrow_schema()
            self._arrow = {
                "device": pa.array(self.device_dicts, schema.field("device").type),
                "geo": pa.array(self.geo_dicts, schema.field("geo").type),
                "user_properties": pa.array(self.user_props, schema.field("user_properties").type),
                "last_click": pa.array(LAST_CLICKS + [None], schema.field("session_traffic_source_last_click").type),
            }
        return self._arrow


def export_arrow_schema():
    """The GA4 BigQuery export's columns as a pyarrow schema, in the export's order: what a synthetic Parquet
    shard holds (the columns of the fixtures' shard, data/fixtures/build_fixtures.py, with the same types, plus
    the rest of the export)."""
    import pyarrow as pa

    s, i, f = pa.string(), pa.int64(), pa.float64()

    def struct(*names, t=s):
        return pa.struct([(n, t) for n in names])

    value = pa.struct([("string_value", s), ("int_value", i), ("float_value", f), ("double_value", f)])
    user_value = pa.struct(list(value) + [pa.field("set_timestamp_micros", i)])
    manual = struct("campaign_id", "campaign_name", "source", "medium", "term", "content", "source_platform",
                    "creative_format", "marketing_tactic")
    item = pa.struct([(n, s) for n in ("item_id", "item_name", "item_brand", "item_variant", "item_category",
                                       "item_category2", "item_category3", "item_category4", "item_category5")]
                     + [("price_in_usd", f), ("price", f), ("quantity", i), ("item_revenue_in_usd", f),
                        ("item_revenue", f), ("item_refund_in_usd", f), ("item_refund", f)]
                     + [(n, s) for n in ("coupon", "affiliation", "location_id", "item_list_id", "item_list_name",
                                         "item_list_index", "promotion_id", "promotion_name", "creative_name",
                                         "creative_slot")]
                     + [("item_params", pa.list_(pa.struct([("key", s), ("value", value)])))])
    return pa.schema([
        ("event_date", s), ("event_timestamp", i), ("event_name", s),
        ("event_params", pa.list_(pa.struct([("key", s), ("value", value)]))),
        ("event_previous_timestamp", i), ("event_value_in_usd", f), ("event_bundle_sequence_id", i),
        ("event_server_timestamp_offset", i), ("user_id", s), ("user_pseudo_id", s),
        ("privacy_info", struct("analytics_storage", "ads_storage", "uses_transient_token")),
        ("user_properties", pa.list_(pa.struct([("key", s), ("value", user_value)]))),
        ("user_first_touch_timestamp", i), ("user_ltv", pa.struct([("revenue", f), ("currency", s)])),
        ("device", pa.struct([(n, s) for n in ("category", "mobile_brand_name", "mobile_model_name",
                                               "mobile_marketing_name", "mobile_os_hardware_model",
                                               "operating_system", "operating_system_version", "vendor_id",
                                               "advertising_id", "language", "is_limited_ad_tracking")]
                             + [("time_zone_offset_seconds", i), ("browser", s), ("browser_version", s),
                                ("web_info", struct("browser", "browser_version", "hostname"))])),
        ("geo", struct("city", "country", "continent", "region", "sub_continent", "metro")),
        ("app_info", struct("id", "version", "install_store", "firebase_app_id", "install_source")),
        ("traffic_source", struct("name", "medium", "source")),
        ("stream_id", s), ("platform", s),
        ("event_dimensions", struct("hostname")),
        ("ecommerce", pa.struct([("total_item_quantity", i), ("purchase_revenue_in_usd", f),
                                 ("purchase_revenue", f), ("refund_value_in_usd", f), ("refund_value", f),
                                 ("shipping_value_in_usd", f), ("shipping_value", f), ("tax_value_in_usd", f),
                                 ("tax_value", f), ("unique_items", i), ("transaction_id", s)])),
        ("items", pa.list_(item)),
        ("collected_traffic_source", struct("manual_campaign_name", "manual_source", "manual_medium", "gclid")),
        ("is_active_user", pa.bool_()), ("batch_event_index", i), ("batch_page_id", i), ("batch_ordering_id", i),
        ("session_traffic_source_last_click", pa.struct([
            ("manual_campaign", manual),
            ("google_ads_campaign", struct("customer_id", "account_name", "campaign_id", "campaign_name",
                                           "ad_group_id", "ad_group_name")),
            ("cross_channel_campaign", struct("campaign_id", "campaign_name", "source", "medium", "source_platform",
                                              "default_channel_group", "primary_channel_group")),
            ("sa360_campaign", struct("campaign_id", "campaign_name", "source", "medium", "ad_group_id",
                                      "ad_group_name", "creative_format", "engine_account_name",
                                      "engine_account_type", "manager_account_name")),
            ("cm360_campaign", struct("campaign_id", "campaign_name", "source", "medium", "account_id",
                                      "account_name", "advertiser_id", "advertiser_name", "creative_id",
                                      "creative_format", "creative_name", "creative_type", "creative_type_id",
                                      "creative_version", "placement_id", "placement_cost_structure",
                                      "placement_name", "rendering_id", "site_id", "site_name")),
            ("dv360_campaign", struct("campaign_id", "campaign_name", "source", "medium", "advertiser_id",
                                      "advertiser_name", "creative_id", "creative_format", "creative_name",
                                      "exchange_id", "exchange_name", "insertion_order_id", "insertion_order_name",
                                      "line_item_id", "line_item_name", "partner_id", "partner_name")),
        ])),
        ("publisher", pa.struct([("ad_revenue_in_usd", f), ("ad_format", s), ("ad_source_name", s),
                                 ("ad_unit_id", s)])),
    ])


def _day_frame(w: World, lk: Lookups, rng: Generator, d: int, eid0: int, en: Enrichment | None = None) -> dict:
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
    f["dup"] = _bern(rng, n, P_DUP_LINE, at_least=1 if n else 0)
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


def _write_ga4(w: World, rng: Generator, out: Path, fmt: str, seed: int) -> dict:
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
            f = _day_frame(w, lk, rng, d, eid0, en)
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


# ---------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------

def generate(out: Path, persons: int, days: int, seed: int, fmt: str = "jsonl.gz",
             start: date = date(2024, 3, 1), currencies="USD") -> dict:
    """Write a synthetic source root that follows the data contract.

    Args:
        out: the folder to write (created; its ga4/events_* files and the CSVs are replaced).
        persons: people in the population (each visits at least once).
        days: days of GA4 export, from `start`; the last day is an intraday shard.
        seed: the same seed gives byte-identical files.
        fmt: daily shard format, 'jsonl.gz', 'jsonl' or 'parquet' (intraday shards are always JSON lines).
        start: the first day (UTC).
        currencies: 'USD,EUR,GBP' or a sequence of codes; the first is the reporting currency (ad spend, rates).
            More than one: deals in several currencies and marketing/fx_rates.csv (date, currency, rate: one unit
            of currency = rate units of the reporting currency, weekly).
    Returns:
        Counts: events (rows written to GA4 files, duplicates and intraday included), daily_rows, intraday_rows,
        sessions, devices, persons, contacts, deals, forms, product_users, files, bytes, seconds.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {fmt!r}")
    if persons < 1 or days < 1:
        raise ValueError("persons and days must be at least 1")
    currencies = parse_currencies(currencies)
    began = time.perf_counter()
    out = Path(out)
    (out / "ga4").mkdir(parents=True, exist_ok=True)
    for old in (out / "ga4").glob("events_*"):
        old.unlink()
    rng = Generator(PCG64(seed))
    world = World(rng, persons, days, start, currencies)
    table_bytes = world.write_tables(out)
    ga4 = _write_ga4(world, rng, out, fmt, seed)
    return {
        "events": ga4["events"], "daily_rows": ga4["daily_rows"], "intraday_rows": ga4["intraday_rows"],
        "sessions": int(world.S), "devices": int(len(np.unique(world.s["dev"]))), "persons": persons,
        "contacts": len(world.c_id), "deals": len(world.k_id), "forms": len(world.f_at),
        "product_users": len(world.u_person), "files": ga4["files"] + 6 + (len(currencies) > 1),
        "bytes": ga4["bytes"] + table_bytes, "seconds": round(time.perf_counter() - began, 2),
    }

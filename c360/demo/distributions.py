"""The simulated world's knobs and vocabularies: one line per distribution (P_* shares, rates, sizes), the
countries, the traffic kinds (Kind, KINDS) and paid campaigns (PAID), pages, forms, names and companies, the
DISTRIBUTIONS table the docs show, the site's URL tables the events index into, and the two sampling helpers every
module draws with (probs, bern)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.random import Generator


SITE = "https://www.c360demo.com"
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
# Sampling helpers.
# ---------------------------------------------------------------------------------------------------------


def probs(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def bern(rng: Generator, n: int, p: float, at_least: int = 0) -> np.ndarray:
    """n Bernoulli(p) draws; when fewer than `at_least` came up, that many (chosen at random) are set."""
    m = rng.random(n) < p
    if n and m.sum() < at_least:
        m[rng.choice(n, min(at_least, n), replace=False)] = True
    return m


# ---------------------------------------------------------------------------------------------------------
# The site's URLs as arrays the events index into: later pages, then every landing page.
# ---------------------------------------------------------------------------------------------------------
PAGE_PATHS = np.array([p for p, _ in PAGES] + list(APP_PAGES), dtype=object)
PAGE_URLS = np.array([SITE + p for p in PAGE_PATHS.tolist()], dtype=object)
PAGE_P = probs([w for _, w in PAGES])
LANDING_PATHS = sorted({p for k in KINDS for p in k.landings} | set(PAGE_PATHS.tolist()))
LANDING_INDEX = {p: i for i, p in enumerate(LANDING_PATHS)}
LANDING_URLS = np.array([SITE + p for p in LANDING_PATHS], dtype=object)
KIND_LANDINGS = [np.array([LANDING_INDEX[p] for p in k.landings]) for k in KINDS]
KIND_REFERRER = np.array([k.referrer for k in KINDS], dtype=object)
PAGE_TO_LANDING = np.array([LANDING_INDEX[p] for p in PAGE_PATHS.tolist()])

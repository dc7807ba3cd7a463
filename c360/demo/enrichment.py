"""The rest of a GA4 web row, drawn from random streams of its own, never from the main Generator: device and geo
details, user properties, first touch, the session's last-click attribution, batch ids and the other event_params
of a web stream (Enrichment, seeded from (seed, ENRICH_TAG, ...)), with the tables it draws from."""
from __future__ import annotations

import json
from datetime import datetime

import numpy as np
from numpy.random import PCG64, Generator

from .distributions import CATEGORIES, COUNTRIES, FORMS, KINDS, KIND_INDEX, Kind, LANDING_PATHS, SITE, probs
from .schema import (
    DBL, E_FIRST, E_FORM, E_LEAD, E_LOGIN, E_PV, E_START, INT, INT_STR, P_BATCH_ORDER, P_BATCH_PAGE, P_CURRENCY,
    P_DEBUG, P_ENGAGED, P_ENGAGED_EVENT, P_ENTRANCES, P_FORM_DEST, P_FORM_ID, P_FORM_NAME, P_FORM_TEXT,
    P_IGNORE_REF, P_LOC, P_METHOD, P_TITLE, P_VALUE, STR, export_arrow_schema,
)
from .world import COOKIELESS_PROFILES, Lookups, World


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
    return values[rng.choice(len(options), n, p=probs([o[-1] for o in options]))]


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
            p_city[m] = r.choice(len(cities), len(m), p=probs([c[3] for c in cities]))
        city = p_city[owner]
        ordinal = np.r_[np.arange(nd) - w.p_dev0[w.d_owner], np.zeros(C, dtype=np.int64)]
        away = (ordinal > 0) & (r.random(total) < P_AWAY_CITY)
        for ci, (cname, _, _) in enumerate(COUNTRIES):
            m = np.flatnonzero(away & (country == ci))
            cities = GEO[cname][2]
            city[m] = r.choice(len(cities), len(m), p=probs([c[3] for c in cities]))
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
            len(LOGIN_METHODS), S, p=probs([m[1] for m in LOGIN_METHODS]))
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

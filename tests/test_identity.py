"""Identity resolution on tiny inline inputs: records in, customers (clusters of identifiers) out.

Every expected cluster below is worked out by hand from the rules in c360/sql/identity/*.sql.
"""
from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from c360.dag import datatests as checks
from c360.steps import identity
from c360 import models, params as P, sources
from c360 import warehouse as engines
from conftest import event, write_tree

T0 = 1709287200  # 2024-03-01 10:00:00 UTC


def md5_key(source_system: str, source_id: str) -> str:
    return hashlib.md5(f"{source_system}-{source_id}".encode()).hexdigest()


def login(pseudo: str | None, user_id: str, at: int = 0, consent: str | None = None) -> dict:
    fields = {"user_id": user_id}
    if consent is not None:
        fields["privacy_info"] = {"analytics_storage": consent}
    return event("20240301", T0 + at, name="login", pseudo=pseudo, **fields)


def visit(pseudo: str, at: int = 0, consent: str | None = None, name: str = "page_view") -> dict:
    fields = {} if consent is None else {"privacy_info": {"analytics_storage": consent}}
    return event("20240301", T0 + at, name=name, pseudo=pseudo, **fields)


def contact(cid: str, email: str | None = None, external_id: str | None = None,
            created: str = "2024-01-01T00:00:00Z") -> dict:
    return {"contact_id": cid, "email": email or "", "external_id": external_id or "", "created_at": created,
            "updated_at": created, "_fivetran_deleted": "false"}


def form(sid: str, email: str, client_id: str, at: str = "2024-03-01T10:00:00Z") -> dict:
    return {"submission_id": sid, "email": email, "ga_client_id": client_id, "submitted_at": at}


def user(uid: str, email: str | None = None) -> dict:
    return {"user_id": uid, "email": email or "", "signed_up_at": "2024-01-01T00:00:00Z",
            "last_login_at": "2024-02-01T00:00:00Z"}


def tree(tmp_path, events=(), contacts=(), forms=(), users=()):
    events = list(events) or [visit("999.9")]
    return write_tree(tmp_path / "src", {"events_20240301.jsonl": events}, contacts=list(contacts),
                      forms=list(forms), users=list(users))


@pytest.fixture
def build_identity(tmp_path):
    """build_identity(root, **overrides) -> engine: sources loaded, base and identity built, data tests run."""
    opened = []

    def _build(root, **overrides):
        params = P.load(overrides=[f"source_root={root}", f"warehouse={tmp_path / f'w{len(opened)}.duckdb'}",
                                   *(f"{k}={v}" for k, v in overrides.items())])
        eng = engines.connect(params)
        opened.append(eng)
        sources.load_sources(eng, root, params["on_bad_rows"])
        models.build(eng, "base", params)
        models.build(eng, "identity", params)
        checks.run(eng, "identity")  # raises on any error-level data test
        return eng

    yield _build
    for eng in opened:
        eng.con.close()


def clusters(eng) -> dict[str, set[str]]:
    """customer_id -> its identifiers (type:value)."""
    out: dict[str, set[str]] = {}
    for customer_id, node in eng.query("SELECT customer_id, node FROM int__identity_device_bridged").values.tolist():
        out.setdefault(customer_id, set()).add(node)
    return out


def resolved(eng) -> dict[str, str]:
    return dict(eng.query("SELECT user_pseudo_id, customer_id FROM int__identity_resolved").values.tolist())


def audit(eng, model: str) -> dict[str, int]:
    rows = eng.query("SELECT outcome, row_count FROM c360__row_audit WHERE model = @m", {"m": model})
    return {o: int(n) for o, n in rows.values.tolist()}


def hits(eng, guard: str) -> pd.DataFrame:
    return eng.query("SELECT * FROM int__identity_guard_hits WHERE guard = @g ORDER BY identifier_type, "
                     "identifier_value", {"g": guard})


def test_a_chain_device_email_user_device_is_one_customer(tmp_path, build_identity):
    # device 111.1 -form- pat@x.com -product user- P1 -login- device 222.2
    eng = build_identity(tree(tmp_path, events=[login("222.2", "P1", at=60)],
                              forms=[form("S1", "pat@x.com", "111.1")], users=[user("P1", "pat@x.com")]))
    pid = md5_key("product_user", "P1")
    assert clusters(eng) == {pid: {"user_pseudo_id:111.1", "email:pat@x.com", "user_id:P1", "user_pseudo_id:222.2"}}
    got = eng.query("SELECT user_pseudo_id, customer_id, crm_contact_id, identity_source FROM int__identity_resolved "
                    "ORDER BY 1").values.tolist()
    assert got == [["111.1", pid, None, "form_submission"], ["222.2", pid, None, "login"]]


def test_a_crm_contact_joins_its_email_its_user_id_and_their_devices(tmp_path, build_identity):
    eng = build_identity(tree(tmp_path, events=[login("222.2", "U1", at=60)], contacts=[contact("C1", "ann@acme.com", "U1")],
                              forms=[form("S1", "ann@acme.com", "GA1.1.111.1")]))
    assert clusters(eng) == {"C1": {"crm_contact_id:C1", "email:ann@acme.com", "user_id:U1",
                                    "user_pseudo_id:111.1", "user_pseudo_id:222.2"}}
    assert eng.query("SELECT DISTINCT crm_contact_id FROM int__identity_resolved")["crm_contact_id"].tolist() == ["C1"]


def test_mixed_case_and_padded_emails_match(tmp_path, build_identity):
    eng = build_identity(tree(tmp_path, contacts=[contact("C1", "  Ann.Lee@ACME.com ")],
                              forms=[form("S1", "ann.lee@acme.COM", "111.1")],
                              users=[user("U1", "ANN.LEE@acme.com  ")]))
    assert clusters(eng) == {"C1": {"crm_contact_id:C1", "email:ann.lee@acme.com", "user_id:U1", "user_pseudo_id:111.1"}}


def test_two_disjoint_groups_stay_two(tmp_path, build_identity):
    eng = build_identity(tree(tmp_path, events=[login("111.1", "U1")],
                              contacts=[contact("C1", "ann@a.com", "U1"), contact("C2", "bob@b.com")],
                              forms=[form("S1", "bob@b.com", "222.2")]))
    assert clusters(eng) == {"C1": {"crm_contact_id:C1", "email:ann@a.com", "user_id:U1", "user_pseudo_id:111.1"},
                             "C2": {"crm_contact_id:C2", "email:bob@b.com", "user_pseudo_id:222.2"}}
    assert resolved(eng) == {"111.1": "C1", "222.2": "C2"}


@pytest.mark.parametrize("first, last", [("U1", "U2"), ("U2", "U1")])
def test_a_shared_device_does_not_merge_two_contacts_and_goes_to_the_most_recent(tmp_path, build_identity, first, last):
    # 111.1 logs in as U1 (contact C1) and, an hour apart, as U2 (contact C2); 222.2 only ever as U1
    events = [login("111.1", first, at=0), login("111.1", last, at=3600), login("222.2", "U1", at=60)]
    eng = build_identity(tree(tmp_path, events=events, contacts=[contact("C1", "ann@acme.com", "U1"),
                                                                 contact("C2", "bob@acme.com", "U2")]))
    winner = {"U1": "C1", "U2": "C2"}[last]
    expected = {"C1": {"crm_contact_id:C1", "email:ann@acme.com", "user_id:U1", "user_pseudo_id:222.2"},
                "C2": {"crm_contact_id:C2", "email:bob@acme.com", "user_id:U2"}}
    expected[winner].add("user_pseudo_id:111.1")
    assert clusters(eng) == expected
    assert resolved(eng) == {"111.1": winner, "222.2": "C1"}
    shared = hits(eng, "shared_device")
    assert shared[["identifier_type", "identifier_value", "edges_dropped"]].values.tolist() == [["user_pseudo_id", "111.1", 1]]
    assert f"attached to crm_contact_id:{winner}" in shared["detail"].iloc[0]
    assert audit(eng, "int__identity_device_links") == {"kept": 2, "shared_device": 1}


def test_a_device_with_one_contact_and_other_unknown_identifiers_is_not_shared(tmp_path, build_identity):
    # one CRM anchor (C1) and one anchor without a contact (the form email): a normal merge
    eng = build_identity(tree(tmp_path, events=[login("111.1", "U1")], contacts=[contact("C1", "ann@acme.com", "U1")],
                              forms=[form("S1", "ann.private@mail.com", "111.1", at="2024-03-01T12:00:00Z")]))
    assert clusters(eng) == {"C1": {"crm_contact_id:C1", "email:ann@acme.com", "user_id:U1", "user_pseudo_id:111.1",
                                    "email:ann.private@mail.com"}}
    assert hits(eng, "shared_device").empty


@pytest.mark.parametrize("consents, links", [
    ([(0, "No")], False),
    ([(0, "No"), (60, "Yes")], True),
    ([(0, "Yes"), (60, "No")], False),
    ([(0, None)], True),            # no privacy_info: counts as granted
    ([(0, "Yes"), (60, None)], True),
    ([(0, "Yes"), (60, "Yes"), (60, "No")], False),  # a tie at the latest second: the denial wins
])
def test_consent_denied_on_the_latest_event_never_links_the_device(tmp_path, build_identity, consents, links):
    at0, consent0 = consents[0]
    events = [login("111.1", "U1", at=at0, consent=consent0)]
    events += [visit("111.1", at=at, consent=c, name=f"page_view_{i}") for i, (at, c) in enumerate(consents[1:])]
    eng = build_identity(tree(tmp_path, events=events, contacts=[contact("C1", "ann@acme.com", "U1")],
                              forms=[form("S1", "ann@acme.com", "111.1")]))
    if links:
        assert resolved(eng) == {"111.1": "C1"}
        assert hits(eng, "consent_denied").empty
        assert identity.consent_excluded(eng) == {"edges": 0, "devices": 0}
    else:
        assert resolved(eng) == {}
        assert clusters(eng) == {"C1": {"crm_contact_id:C1", "email:ann@acme.com", "user_id:U1"}}
        denied = hits(eng, "consent_denied")
        assert denied[["identifier_value", "edges_dropped"]].values.tolist() == [["111.1", 2]]
        assert audit(eng, "int__identity_evidence")["consent_denied"] == 2  # the login and the form
        assert identity.consent_excluded(eng) == {"edges": 2, "devices": 1}


def test_rows_without_a_device_never_link_and_are_counted(tmp_path, build_identity):
    eng = build_identity(tree(tmp_path, events=[login(None, "U1"), visit("111.1")],
                              contacts=[contact("C1", "ann@acme.com", "U1")],
                              forms=[form("S1", "ann@acme.com", "undefined")]))
    assert resolved(eng) == {}
    assert audit(eng, "int__identity_evidence")["no_device"] == 2


def test_a_junk_value_shared_by_many_records_links_none_of_them(tmp_path, build_identity):
    contacts = [contact(f"C{i}", "N/A ", "undefined") for i in (1, 2, 3)] + [contact("C4", "noreply@shop.com")]
    events = [login("111.1", "undefined"), login("222.2", "UNDEFINED", at=60)]
    forms = [form("S1", "noreply@shop.com", "333.3"), form("S2", "NoReply@Shop.com", "444.4")]
    users = [user("P1", "someone@example.com"), user("P2", "someone@example.com")]
    eng = build_identity(tree(tmp_path, events=events, contacts=contacts, forms=forms, users=users))
    assert clusters(eng) == {"C1": {"crm_contact_id:C1"}, "C2": {"crm_contact_id:C2"}, "C3": {"crm_contact_id:C3"},
                             "C4": {"crm_contact_id:C4"}, md5_key("product_user", "P1"): {"user_id:P1"},
                             md5_key("product_user", "P2"): {"user_id:P2"}}
    assert resolved(eng) == {}
    blocked = hits(eng, "blocked_value")
    assert blocked[["identifier_type", "identifier_value", "edges_dropped"]].values.tolist() == [
        ["email", "n/a", 3], ["email", "noreply@shop.com", 3], ["email", "someone@example.com", 2],
        ["user_id", "UNDEFINED", 1], ["user_id", "undefined", 4]]
    # 3 contacts x (email, external_id) + C4's email + 2 logins + 2 forms + 2 product emails
    assert audit(eng, "int__identity_evidence")["blocked_value"] == 13


def test_an_emptied_blocklist_lets_the_junk_value_link(tmp_path, build_identity):
    root = tree(tmp_path, events=[login("111.1", "undefined")], contacts=[contact("C1", None, "undefined")])
    assert resolved(build_identity(root)) == {}
    assert resolved(build_identity(root, identity_blocklist="[]")) == {"111.1": "C1"}


@pytest.mark.parametrize("patterns, want", [
    (None, {"noreply@example.com": "@example\\.(com|org|net)$", "noreply@shop.com": "^(noreply|no-reply|donotreply|do-not-reply|test)@",
            "bob@example.org": "@example\\.(com|org|net)$", "bob@shop.com": None}),
    ('["^bob", "shop[.]com$"]', {"noreply@example.com": None, "noreply@shop.com": "shop[.]com$",
                                 "bob@example.org": "^bob", "bob@shop.com": "^bob"}),
    ("[]", {"noreply@example.com": None, "noreply@shop.com": None, "bob@example.org": None, "bob@shop.com": None}),
])
def test_blocklist_patterns_name_the_first_pattern_that_matches_each_value(tmp_path, build_identity, patterns, want):
    # the patterns are tried together first, then one by one for the values that matched: the name reported
    # is the smallest matching pattern, each pattern keeps its own anchors, and no pattern blocks nothing
    forms = [form(f"S{i}", email, f"{i}.1") for i, email in enumerate(want)]
    overrides = {} if patterns is None else {"identity_blocklist_patterns": patterns}
    eng = build_identity(tree(tmp_path, forms=forms), **overrides)
    got = eng.query("SELECT node_b_value, node_b_blocked_by FROM int__identity_candidate_edges "
                    "WHERE edge_source = 'form_submission'")
    prefix = "identity_blocklist_patterns "
    assert {v: (b[len(prefix):] if isinstance(b, str) else None) for v, b in got.values.tolist()} == want


def test_a_crm_duplicate_pair_is_one_customer_with_the_earliest_created_contact_id(tmp_path, build_identity):
    contacts = [contact("C9", "Ann@Acme.com", created="2024-01-10T00:00:00Z"),
                contact("C5", " ann@acme.com", created="2024-01-05T00:00:00Z"),
                contact("C3", "ANN@acme.com", created="2024-01-05T00:00:00Z"),  # ties with C5: smaller id wins
                contact("C7", "bob@acme.com", created="2023-01-01T00:00:00Z")]
    eng = build_identity(tree(tmp_path, contacts=contacts, forms=[form("S1", "ann@acme.com", "111.1")]))
    assert clusters(eng) == {"C3": {"crm_contact_id:C3", "crm_contact_id:C5", "crm_contact_id:C9", "email:ann@acme.com",
                                    "user_pseudo_id:111.1"},
                             "C7": {"crm_contact_id:C7", "email:bob@acme.com"}}
    assert eng.query("SELECT crm_contact_id FROM int__identity_resolved")["crm_contact_id"].tolist() == ["C3"]


@pytest.mark.parametrize("canonicalize", [False, True])
def test_gmail_and_plus_tag_canonicalization_only_when_the_parameter_is_on(tmp_path, build_identity, canonicalize):
    contacts = [contact("C1", "john.doe@gmail.com"), contact("C2", "ann+crm@outlook.com"),
                contact("C3", "bo.b@icloud.com"), contact("C4", "eve+x@acme.com")]
    forms = [form("S1", "JohnDoe+news@googlemail.com", "111.1"), form("S2", "ann@outlook.com", "222.2"),
             form("S3", "bob@icloud.com", "333.3"), form("S4", "eve@acme.com", "444.4")]
    eng = build_identity(tree(tmp_path, contacts=contacts, forms=forms),
                         email_canonicalization=str(canonicalize).lower())
    if canonicalize:  # dots dropped for gmail only; +tags dropped for gmail and the listed providers only
        assert resolved(eng) == {"111.1": "C1", "222.2": "C2"}
        assert "email:johndoe@gmail.com" in clusters(eng)["C1"]
        assert "email:ann@outlook.com" in clusters(eng)["C2"]
    else:  # the forms' emails match no contact: their devices stay anonymous
        assert resolved(eng) == {}


def test_the_cap_reattaches_devices_by_their_best_link(tmp_path, build_identity):
    # 111.1 logs in as U1 (contact C1) at 10:00 and submits product user P1's email at 11:00: one component
    # of 6 identifiers. Over a cap of 5 the device keeps only its most recent link (the form).
    root = tree(tmp_path, events=[login("111.1", "U1")], contacts=[contact("C1", "ann@acme.com", "U1")],
                forms=[form("S1", "pat@p.com", "111.1", at="2024-03-01T11:00:00Z")], users=[user("P1", "pat@p.com")])
    assert resolved(build_identity(root)) == {"111.1": "C1"}
    eng = build_identity(root, max_identifiers_per_customer=5)
    pid = md5_key("product_user", "P1")
    assert clusters(eng) == {"C1": {"crm_contact_id:C1", "email:ann@acme.com", "user_id:U1"},
                             pid: {"user_id:P1", "email:pat@p.com", "user_pseudo_id:111.1"}}
    assert resolved(eng) == {"111.1": pid}
    hit = hits(eng, "component_over_cap")
    assert hit[["identifier_type", "identifier_value", "edges_dropped"]].values.tolist() == [["crm_contact_id", "C1", 1]]
    assert hit["detail"].iloc[0].startswith("6 identifiers > max_identifiers_per_customer 5")
    assert hit["detail"].iloc[0].endswith("now within the cap")
    assert audit(eng, "int__identity_graph_edges")["component_over_cap"] == 1


def test_pass2_equals_a_fresh_computation_whether_copied_from_pass1_or_recomputed(tmp_path, build_identity):
    # without a cap drop pass 2's graph is pass 1's: its components and rounds are pass 1's (copied); with
    # one (the cap of 5 above) they are computed again. Either way they equal components of the graph edges.
    root = tree(tmp_path, events=[login("111.1", "U1")], contacts=[contact("C1", "ann@acme.com", "U1")],
                forms=[form("S1", "pat@p.com", "111.1", at="2024-03-01T11:00:00Z")], users=[user("P1", "pat@p.com")])
    for cap, same in ((100, True), (5, False)):
        eng = build_identity(root, max_identifiers_per_customer=cap)
        pass1, pass2 = (dict(eng.query(f"SELECT node, component FROM {t}").values.tolist())
                        for t in ("int__identity_components_pass1", "int__identity_components_pass2"))
        assert (pass1 == pass2) is same
        rounds = identity.connected_components(eng, "SELECT node_a, node_b FROM int__identity_graph_edges", "fresh")
        assert dict(eng.query("SELECT node, component FROM fresh").values.tolist()) == pass2
        recorded = identity.iterations(eng).set_index("table_name")["iterations"]
        assert recorded["int__identity_components_pass2"] == rounds


def test_the_cap_splits_a_component_still_too_big_so_each_contact_stands_alone(tmp_path, build_identity):
    # C1 and C2 share an email; with U1 and its device that is 5 identifiers, over a cap of 3 even after
    # re-attachment (the device has one link): each contact stands alone, the rest is unresolved.
    contacts = [contact("C1", "ann@acme.com", "U1"), contact("C2", "ann@acme.com", created="2024-02-01T00:00:00Z"),
                contact("C3", "bob@b.com")]
    eng = build_identity(tree(tmp_path, events=[login("111.1", "U1")], contacts=contacts),
                         max_identifiers_per_customer=3)
    assert clusters(eng) == {"C1": {"crm_contact_id:C1"}, "C2": {"crm_contact_id:C2"},
                             "C3": {"crm_contact_id:C3", "email:bob@b.com"}}
    assert resolved(eng) == {}
    hit = hits(eng, "component_over_cap")
    assert hit[["identifier_type", "identifier_value"]].values.tolist() == [["crm_contact_id", "C1"]]
    assert hit["detail"].iloc[0].endswith("split, 2 CRM contact(s) stand alone, 3 identifier(s) unresolved")
    unresolved = eng.query("SELECT node FROM int__identity_components WHERE component IS NULL ORDER BY 1")
    assert unresolved["node"].tolist() == ["email:ann@acme.com", "user_id:U1", "user_pseudo_id:111.1"]


def test_product_only_user_gets_a_surrogate_md5_key_and_form_or_login_alone_makes_no_customer(tmp_path, build_identity):
    users = [user("P7", "pat@x.com"), user("P3", "pat@x.com")]
    events = [login("111.1", "P7"), login("333.3", "G1", at=60)]
    eng = build_identity(tree(tmp_path, events=events, users=users, forms=[form("S1", "zed@z.com", "222.2")]))
    got = eng.query("SELECT customer_id, customer_source, source_id FROM int__identity_customers ORDER BY 2")
    assert got.values.tolist() == [[md5_key("product_user", "P3"), "product_user", "P3"]]
    # a form email with no CRM contact or product user, and a GA4 user_id with no product record, stay anonymous
    assert resolved(eng) == {"111.1": md5_key("product_user", "P3")}


def test_every_bridged_identifier_is_traceable_to_its_evidence(tmp_path, build_identity):
    events = [login("111.1", "U1"), login("111.1", "U2", at=3600), login("222.2", "P1", at=60), visit("555.5")]
    contacts = [contact("C1", "ann@acme.com", "U1"), contact("C2", "bob@acme.com", "U2"), contact("C3", "ann@acme.com"),
                contact("C4")]
    forms = [form("S1", "Ann@Acme.com", "333.3"), form("S2", "pat@p.com", "444.4"), form("S3", "n/a", "444.4")]
    eng = build_identity(tree(tmp_path, events=events, contacts=contacts, forms=forms, users=[user("P1", "pat@p.com")]))
    bridged = eng.query("SELECT * FROM int__identity_device_bridged")
    evidence = eng.query("SELECT * FROM int__identity_evidence").set_index("edge_id")
    for row in bridged.itertuples():
        ev = evidence.loc[row.edge_id]
        assert row.node in (ev.node_a, ev.node_b)
        assert (row.linked_by, row.evidence_id, row.linked_at) == (ev.edge_source, ev.evidence_id, ev.evidence_at)
    in_customers = eng.query(
        "SELECT n.node FROM int__identity_components AS n JOIN int__identity_customers AS c ON c.component = n.component")
    assert sorted(bridged["node"]) == sorted(in_customers["node"])
    assert "crm_contact_id:C4" in set(bridged["node"])  # a contact with no identifier: its own record is the evidence
    assert "user_pseudo_id:555.5" not in set(bridged["node"])  # an anonymous device: no customer
    assert set(resolved(eng)) == {"111.1", "222.2", "333.3", "444.4"}


def test_identity_models_state_their_grain_and_python_steps_record_their_rounds(tmp_path, build_identity):
    eng = build_identity(tree(tmp_path, events=[login("111.1", "U1")], contacts=[contact("C1", "a@b.com", "U1")]))
    layer = models.plan("identity")
    assert {m.name for m in layer} >= {"int__identity_evidence", "int__identity_resolved",
                                       "int__identity_device_bridged", "int__identity_guard_hits"}
    assert all("grain:" in m.header for m in layer), [m.name for m in layer if "grain:" not in m.header]
    rounds = identity.iterations(eng)
    assert rounds["table_name"].tolist() == ["int__identity_anchor_components", "int__identity_components_pass1",
                                             "int__identity_components_pass2"]
    assert (rounds["iterations"] >= 1).all()

"""The alert-feed API on SQLite with a manual clock: each role's allowed and refused actions,
lifecycle errors, audit, publication to the CAP/Atom feed, escalation, metrics and health."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from riskwatch.alerts.disposal.clock import ManualClock
from riskwatch.alerts.feed.app import create_app
from riskwatch.alerts.feed.cap import CAP_NS, validate_cap
from riskwatch.alerts.feed.options import ApiOptions
from riskwatch.alerts.store.store import WarningStore
from riskwatch.alerts.store.tokens import Role
from riskwatch.config.settings import Settings
from riskwatch.contracts import Level, MsgType, WarningStatus
from tests.api_support import (
    DISTRICT,
    GAS,
    STREET,
    T0,
    RecordingPublisher,
    Tokens,
    api_warning,
    bearer,
    make_tokens,
    next_version,
    sqlite_store,
)
from tests.store_contract import save

QUIET = ApiOptions(poll_interval=3600, health_interval=3600)
ATOM = "{http://www.w3.org/2005/Atom}"
CAP = f"{{{CAP_NS}}}"


class Api:
    """A running app, its store, clock, tokens and feedback publisher."""

    def __init__(self, client: TestClient, store: WarningStore, clock: ManualClock, tokens: Tokens, publisher: RecordingPublisher) -> None:
        self.client, self.store, self.clock, self.tokens, self.publisher = client, store, clock, tokens, publisher

    def get(self, path: str, token: str | None = None, **params: object) -> object:
        return self.client.get(path, headers=bearer(token) if token else {}, params=params)

    def act(self, warning_id: str, action: str, token: str, reason: str = "到场处置") -> object:
        return self.client.post(f"/api/warnings/{warning_id}/actions/{action}", json={"reason": reason}, headers=bearer(token))


def _api(tmp_path: Path, publisher: RecordingPublisher) -> Iterator[Api]:
    clock = ManualClock(T0)
    store = sqlite_store(str(tmp_path / "rw.db"), clock)
    tokens = make_tokens(store)
    app = create_app(Settings(database_url=str(store.url)), store=store, feedback_publisher=publisher, options=QUIET)
    with TestClient(app) as client:
        yield Api(client, store, clock, tokens, publisher)
    store.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from _api(tmp_path, RecordingPublisher())


@pytest.fixture
def water(api: Api) -> str:
    """A level-III water warning (department water_group) in the store; returns its id."""
    warning = api_warning()
    save(api.store, warning)
    return warning.warning_id


@pytest.fixture
def gas(api: Api) -> str:
    warning = api_warning(warning_id="w-api-gas", category="gas_supply", category_name="燃气", department=GAS, title="燃气泄漏报警")
    save(api.store, warning)
    return warning.warning_id


# --------------------------------------------------------------------------- authentication


def test_requests_without_a_valid_token_are_401(api: Api, water: str) -> None:
    assert api.get("/api/warnings").status_code == 401
    response = api.get("/api/warnings", token="not-a-token")
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown or revoked token"


def test_token_in_query_is_accepted_for_eventsource(api: Api) -> None:
    response = api.client.get("/api/me", params={"token": api.tokens.operator})
    assert response.json() == {
        "token_id": response.json()["token_id"],
        "name": "供水值班员",
        "role": "operator",
        "department": "water_group",
    }


# --------------------------------------------------------------------------- reading


def test_commander_and_analyst_list_everything_operator_only_its_department(api: Api, water: str, gas: str) -> None:
    ids = lambda token: sorted(w["warning_id"] for w in api.get("/api/warnings", token).json())  # noqa: E731
    assert ids(api.tokens.commander) == sorted([water, gas])
    assert ids(api.tokens.analyst) == sorted([water, gas])
    assert ids(api.tokens.operator) == [water]
    assert ids(api.tokens.other_operator) == [gas]


def test_warning_view_has_colour_publication_disposal_and_centroid(api: Api, water: str) -> None:
    [view] = api.get("/api/warnings", api.tokens.commander).json()
    assert view["colour"] == "yellow"
    assert view["publication"] == {"state": "public", "public_version": 1}  # level III is auto-public
    assert view["disposal"]["tier"] == "grid"
    assert view["disposal"]["department"] == "water_group"
    assert (view["department"], view["department_name"]) == ("water_group", "市供水集团")
    assert view["centroid"] == [pytest.approx(113.683, abs=0.05), pytest.approx(34.79, abs=0.05)]


def test_list_filters(api: Api, water: str, gas: str) -> None:
    token = api.tokens.commander
    assert [w["warning_id"] for w in api.get("/api/warnings", token, category="gas_supply").json()] == [gas]
    assert api.get("/api/warnings", token, level="I").json() == []
    assert len(api.get("/api/warnings", token, status="new", region=STREET).json()) == 2
    assert len(api.get("/api/warnings", token, limit=1).json()) == 1
    assert api.get("/api/warnings", token, since="2026-11-23T01:30:00").status_code == 422


def test_analyst_sees_personal_data_redacted_and_evidence_at_street_level(api: Api, water: str) -> None:
    detail = api.get(f"/api/warnings/{water}", api.tokens.analyst).json()
    assert detail["region_code"] == STREET
    assert all(s["region_code"] == STREET for s in detail["signals"])
    assert "张三" not in " ".join(detail["explanation"])
    assert "联系人[姓名]" in detail["explanation"][1]
    assert detail["signals"][0]["reason"].startswith("[姓名]先生")
    assert api.store.audit_log.entries(action="read.warning") == []  # masked reads are not personal-data reads


def test_commander_detail_is_unmasked_and_its_read_is_audited(api: Api, water: str) -> None:
    detail = api.get(f"/api/warnings/{water}", api.tokens.commander).json()
    assert "联系人张三" in detail["explanation"][1]
    assert detail["versions"] == [
        {"version": 1, "msg_type": "Alert", "level": "III", "updated_at": "2026-11-23T01:30:00Z", "score": 0.7, "sources": ["hotline", "sensor"]}
    ]
    assert detail["transitions"] == [] and detail["escalations"] == []
    [entry] = api.store.audit_log.entries(action="read.warning")
    assert (entry.actor, entry.role, entry.target) == ("指挥长", "commander", water)


def test_operator_of_another_department_is_refused_and_the_refusal_audited(api: Api, water: str) -> None:
    response = api.get(f"/api/warnings/{water}", api.tokens.other_operator)
    assert response.status_code == 403
    assert "gas_company" in response.json()["detail"] and "water_group" in response.json()["detail"]
    [entry] = api.store.audit_log.entries(action="denied.read.warning")
    assert (entry.actor, entry.target) == ("燃气值班员", water)


def test_public_token_may_not_use_the_internal_api(api: Api, water: str) -> None:
    response = api.get("/api/warnings", api.tokens.public)
    assert response.status_code == 403
    assert "/cap" in response.json()["detail"]
    assert [e.role for e in api.store.audit_log.entries(action="denied.read")] == ["public"]


def test_unknown_warning_is_404(api: Api) -> None:
    assert api.get("/api/warnings/nope", api.tokens.commander).status_code == 404
    assert api.act("nope", "acknowledge", api.tokens.commander).status_code == 404


# --------------------------------------------------------------------------- lifecycle actions


def test_operator_transitions_own_warning_recorded_audited_and_sent_as_feedback(api: Api, water: str) -> None:
    api.clock.advance(timedelta(minutes=3))
    response = api.act(water, "acknowledge", api.tokens.operator, reason="已派人员到场")
    assert response.status_code == 201
    assert response.json() == {
        "warning_id": water,
        "from_status": "new",
        "to_status": "acknowledged",
        "actor": "供水值班员",
        "role": "operator",
        "reason": "已派人员到场",
        "at": "2026-11-23T01:33:00Z",
    }
    assert api.store.warnings.get(water).status is WarningStatus.acknowledged
    [entry] = api.store.audit_log.entries(action="transition.acknowledge")
    assert (entry.actor, entry.target, entry.detail) == ("供水值班员", water, "new → acknowledged: 已派人员到场")
    assert entry.at == api.store.transitions.of(water)[-1].at  # written with the transition
    [feedback] = api.publisher.sent
    assert (feedback.action, feedback.to_status, feedback.actor) == ("acknowledge", WarningStatus.acknowledged, "供水值班员")


@pytest.mark.parametrize("who", ["other_operator", "analyst"])
def test_roles_that_may_not_act_are_refused_and_audited(api: Api, water: str, who: str) -> None:
    response = api.act(water, "acknowledge", getattr(api.tokens, who))
    assert response.status_code == 403
    assert api.store.warnings.get(water).status is WarningStatus.new
    assert [e.action for e in api.store.audit_log.entries(target=water)] == ["denied.acknowledge"]
    assert api.publisher.sent == []


def test_commander_may_act_on_any_department(api: Api, gas: str) -> None:
    assert api.act(gas, "dispatch", api.tokens.commander).status_code == 201
    assert api.store.warnings.get(gas).status is WarningStatus.dispatched


def test_illegal_transition_is_409_with_the_lifecycle_message(api: Api, water: str) -> None:
    assert api.act(water, "acknowledge", api.tokens.operator).status_code == 201
    response = api.act(water, "dispatch", api.tokens.operator)
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"warning {water} is acknowledged: cannot go to dispatched (allowed: in_progress, resolved, false_alarm, cancelled)"
    )
    assert [e.action for e in api.store.audit_log.entries(target=water)][:1] == ["rejected.dispatch"]


def test_unknown_action_is_rejected_by_validation(api: Api, water: str) -> None:
    response = api.act(water, "explode", api.tokens.commander)
    assert response.status_code == 422
    assert "acknowledge" in response.text


def test_feedback_failure_is_counted_and_the_transition_kept(tmp_path: Path) -> None:
    for api in _api(tmp_path, RecordingPublisher(fail=True)):
        save(api.store, api_warning())
        assert api.act("w-api-1", "false_alarm", api.tokens.commander).status_code == 201
        assert api.store.warnings.get("w-api-1").status is WarningStatus.false_alarm
        assert [p.false_alarms for p in api.store.outcomes.detector_precision()] == [1]
        metrics = api.client.get("/metrics").text
        assert "riskwatch_feedback_publish_failures_total 1.0" in metrics
        assert "riskwatch_feedback_published_total 0.0" in metrics


def test_audit_log_is_queryable_by_commander_only(api: Api, water: str) -> None:
    api.act(water, "acknowledge", api.tokens.operator)
    api.act(water, "start", api.tokens.operator)
    entries = api.get("/api/audit", api.tokens.commander, actor="供水值班员").json()
    assert [e["action"] for e in entries] == ["transition.start", "transition.acknowledge"]
    assert api.get("/api/audit", api.tokens.commander, action="transition.start", limit=5).json()[0]["target"] == water
    assert api.get("/api/audit", api.tokens.analyst).status_code == 403


# --------------------------------------------------------------------------- publication, CAP and Atom


def _feed_links(api: Api) -> list[str]:
    response = api.client.get("/cap/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = etree.fromstring(response.content)
    return [link.get("href") for link in root.iter(f"{ATOM}link") if link.get("type") == "application/cap+xml"]


def test_level_ii_reaches_the_public_feed_only_after_a_commander_approves(api: Api) -> None:
    warning = api_warning(warning_id="w-api-2", level=Level.II)
    save(api.store, warning)
    assert _feed_links(api) == []
    assert api.client.get("/cap/w-api-2.xml").status_code == 404
    assert api.client.post("/api/warnings/w-api-2/approve", headers=bearer(api.tokens.operator)).status_code == 403
    response = api.client.post("/api/warnings/w-api-2/approve", headers=bearer(api.tokens.commander))
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["public_version"], response.json()["approved_by"]) == ("public", 1, "指挥长")
    assert _feed_links(api) == ["http://testserver/cap/w-api-2.xml"]
    assert [e.action for e in api.store.audit_log.entries(target="w-api-2")] == ["approve", "denied.approve"]


def test_public_cap_validates_and_shows_the_district_only(api: Api, water: str) -> None:
    response = api.client.get(f"/cap/{water}.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/cap+xml")
    validate_cap(response.content)
    root = etree.fromstring(response.content)
    assert root.findtext(f"{CAP}scope") == "Public"
    area = root.find(f"{CAP}info/{CAP}area")
    assert area.findtext(f"{CAP}areaDesc") == "金水区"
    assert [g.findtext(f"{CAP}value") for g in area.iter(f"{CAP}geocode")] == [DISTRICT]
    assert "张三" not in response.text


def test_update_references_the_alert(api: Api) -> None:
    alert = api_warning()
    save(api.store, alert)
    api.clock.advance(timedelta(minutes=10))
    save(api.store, next_version(alert, updated_at=T0 + timedelta(minutes=10), level=Level.IV))
    xml = api.client.get(f"/cap/{alert.warning_id}.xml").content
    validate_cap(xml)
    root = etree.fromstring(xml)
    assert root.findtext(f"{CAP}msgType") == MsgType.update.value
    sender = root.findtext(f"{CAP}sender")
    assert root.findtext(f"{CAP}references") == f"{sender},{sender}:{alert.warning_id}:1,2026-11-23T09:30:00+08:00"


def test_internal_roles_get_the_current_version_restricted_until_public(api: Api) -> None:
    save(api.store, api_warning(warning_id="w-api-2", level=Level.II))
    response = api.client.get("/cap/w-api-2.xml", headers=bearer(api.tokens.commander))
    assert response.status_code == 200
    validate_cap(response.content)
    assert etree.fromstring(response.content).findtext(f"{CAP}scope") == "Restricted"
    assert api.client.get("/cap/w-api-2.xml", headers=bearer(api.tokens.other_operator)).status_code == 404


# --------------------------------------------------------------------------- silences


def test_commander_creates_and_ends_a_silence_others_may_not(api: Api) -> None:
    body = {"region_prefix": STREET, "categories": ["water_supply"], "ends_at": "2026-11-23T06:00:00Z", "reason": "管网检修 WO-17"}
    assert api.client.post("/api/silences", json=body, headers=bearer(api.tokens.operator)).status_code == 403
    created = api.client.post("/api/silences", json=body, headers=bearer(api.tokens.commander))
    assert created.status_code == 201
    silence_id = created.json()["silence_id"]
    assert created.json()["created_by"] == "指挥长"
    assert [s["silence_id"] for s in api.get("/api/silences", api.tokens.analyst, active=True).json()] == [silence_id]
    ended = api.client.delete(f"/api/silences/{silence_id}", headers=bearer(api.tokens.commander))
    assert ended.status_code == 200 and ended.json()["expired_at"] == "2026-11-23T01:30:00Z"
    assert api.get("/api/silences", api.tokens.analyst, active=True).json() == []
    assert api.client.delete("/api/silences/nope", headers=bearer(api.tokens.commander)).status_code == 404
    assert [e.action for e in api.store.audit_log.entries(target=silence_id)] == ["silence.expire", "silence.create"]


def test_silence_request_errors_name_the_field(api: Api) -> None:
    body = {"region_prefix": STREET, "starts_at": "2026-11-23T06:00:00Z", "ends_at": "2026-11-23T05:00:00Z", "reason": "x"}
    response = api.client.post("/api/silences", json=body, headers=bearer(api.tokens.commander))
    assert response.status_code == 422
    assert "ends_at" in response.text


# --------------------------------------------------------------------------- deadlines


def test_an_escalation_the_worker_recorded_is_shown_and_counted(api: Api) -> None:
    save(api.store, api_warning(warning_id="w-api-1", level=Level.I))  # acknowledge within 5 minutes
    poller = api.client.app.state.poller
    api.client.portal.call(poller.poll_once)
    api.clock.advance(timedelta(minutes=6))
    [escalation] = api.store.disposals.check_deadlines()  # a worker's deadline round; the API escalates nothing
    assert (escalation.deadline, escalation.tier_from, escalation.tier_to) == ("acknowledge", "grid", "street")
    assert "riskwatch_escalations_total 0.0" in api.client.get("/metrics").text
    assert api.client.portal.call(poller.poll_once) >= 1
    detail = api.get("/api/warnings/w-api-1", api.tokens.commander).json()
    assert [e["tier_to"] for e in detail["escalations"]] == ["street"]
    assert detail["disposal"]["tier"] == "street"
    assert "riskwatch_escalations_total 1.0" in api.client.get("/metrics").text


# --------------------------------------------------------------------------- operations


def test_healthz(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok", "database": "ok"}


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    store = WarningStore(f"sqlite:///{tmp_path / 'rw.db'}")
    app = create_app(Settings(), store=store, feedback_publisher=RecordingPublisher(), options=QUIET)
    (tmp_path / "rw.db").mkdir()  # a directory where the database file should be
    response = TestClient(app).get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("unreachable")


def test_metrics_count_requests_and_warnings(api: Api, water: str, gas: str) -> None:
    api.get("/api/warnings", api.tokens.commander)
    api.get("/api/warnings", "bad")
    text = api.client.get("/metrics").text
    assert 'riskwatch_api_requests_total{method="GET",route="/api/warnings",status="200"} 1.0' in text
    assert 'riskwatch_api_requests_total{method="GET",route="/api/warnings",status="401"} 1.0' in text
    assert 'riskwatch_warnings{level="III",status="new"} 2.0' in text
    assert "riskwatch_api_sse_clients 0.0" in text
    assert "riskwatch_pipeline_stale 1.0" in text


def test_pipeline_status_from_health_snapshots(api: Api) -> None:
    assert api.get("/api/pipeline", api.tokens.analyst).json()["stale"] is True
    api.store.health.put("worker", {"lag": {"riskwatch.events": 12}, "warming_up": ["prophet_trend"], "dead_letters_per_min": 0.5})
    api.store.health.put("bench", {"lag": {"riskwatch.events": 3, "riskwatch.signals": 1}})
    body = api.get("/api/pipeline", api.tokens.analyst).json()
    assert body["lag"] == {"riskwatch.events": 15, "riskwatch.signals": 1}
    assert body["warming_up"] == ["prophet_trend"]
    assert body["dead_letters_per_min"] == 0.5
    assert body["stale"] is False
    assert set(body["components"]) == {"bench", "worker"}
    api.clock.advance(timedelta(minutes=10))
    assert api.get("/api/pipeline", api.tokens.analyst).json()["stale"] is True
    assert 'riskwatch_pipeline_lag{topic="riskwatch.events"} 15.0' in api.client.get("/metrics").text


def test_trends_count_warnings_per_category_and_day(api: Api, water: str, gas: str) -> None:
    save(api.store, api_warning(warning_id="w-old", first_seen=T0 - timedelta(days=2), updated_at=T0 - timedelta(days=2)))
    body = api.get("/api/trends", api.tokens.commander, days=7).json()
    assert body["bucket"] == "day"
    water_counts = {p["t"]: p["count"] for p in body["series"]["water_supply"]}
    assert water_counts["2026-11-23T00:00:00Z"] == 1 and water_counts["2026-11-21T00:00:00Z"] == 1
    assert sum(water_counts.values()) == 2 and len(water_counts) == 8
    hourly = api.get("/api/trends", api.tokens.commander, days=1).json()
    assert hourly["bucket"] == "hour"
    assert sum(p["count"] for p in hourly["series"]["gas_supply"]) == 1
    assert body["names"] == {"gas_supply": "供气", "water_supply": "供水"}


def test_detail_names_the_responsible_department(api: Api, gas: str) -> None:
    detail = api.get(f"/api/warnings/{gas}", api.tokens.analyst).json()
    assert (detail["department"], detail["department_name"]) == ("gas_company", "市燃气公司")


def test_trends_keep_the_code_of_a_category_the_taxonomy_does_not_know() -> None:
    from riskwatch.alerts.feed.routes.ops import trends_of

    trends = trends_of([("made_up", T0)], now=T0, days=1, names={"water_supply": "供水"})
    assert trends.names == {"made_up": "made_up"}


def test_detector_report_after_feedback(api: Api, water: str) -> None:
    for action in ("acknowledge", "resolve"):
        assert api.act(water, action, api.tokens.operator).status_code == 201
    [report] = api.get("/api/reports/detectors", api.tokens.analyst).json()
    assert (report["detector"], report["true_alarms"], report["false_alarms"], report["precision"]) == ("count_surge", 1, 0, 1.0)


def test_regions_geojson_needs_no_token(api: Api) -> None:
    body = api.client.get("/api/regions.geojson").json()
    assert body["type"] == "FeatureCollection"
    assert any(f["properties"]["code"] == STREET for f in body["features"])


# --------------------------------------------------------------------------- security review

PERSONAL = "联系人张三 13812345678 已到场"


def test_unmasked_list_reads_are_audited_masked_ones_are_not(api: Api, water: str, gas: str) -> None:
    api.get("/api/warnings", api.tokens.analyst)
    assert api.store.audit_log.entries(action="read.warnings") == []
    api.get("/api/warnings", api.tokens.operator)
    [entry] = api.store.audit_log.entries(action="read.warnings")  # the operator sees only its water warning
    assert (entry.actor, entry.role, entry.target) == ("供水值班员", "operator", water)
    assert entry.detail == "unmasked in /api/warnings, version 1"


def test_unmasked_list_read_leaves_one_entry_per_warning_found_by_target(api: Api, water: str, gas: str) -> None:
    listed = {w["warning_id"] for w in api.get("/api/warnings", api.tokens.commander).json()}
    entries = api.store.audit_log.entries(action="read.warnings")
    assert listed == {water, gas}
    assert sorted(e.target for e in entries) == sorted(listed)
    assert len({e.at for e in entries}) == 1  # one request, one transaction, one time
    by_target = api.get("/api/audit", api.tokens.commander, target=gas).json()
    assert [(e["action"], e["actor"]) for e in by_target] == [("read.warnings", "指挥长")]


def test_analyst_sees_transition_and_silence_reasons_redacted(api: Api, water: str) -> None:
    assert api.act(water, "acknowledge", api.tokens.operator, reason=PERSONAL).status_code == 201
    body = {"region_prefix": STREET, "ends_at": "2026-11-23T06:00:00Z", "reason": "检修，联系人李四 13900001111"}
    assert api.client.post("/api/silences", json=body, headers=bearer(api.tokens.commander)).status_code == 201
    [masked] = api.get(f"/api/warnings/{water}", api.tokens.analyst).json()["transitions"]
    assert masked["reason"] == "联系人[姓名] [电话] 已到场"
    [unmasked] = api.get(f"/api/warnings/{water}", api.tokens.commander).json()["transitions"]
    assert unmasked["reason"] == PERSONAL
    [silence] = api.get("/api/silences", api.tokens.analyst).json()
    assert silence["reason"] == "检修，联系人[姓名] [电话]"
    assert api.get("/api/silences", api.tokens.commander).json()[0]["reason"] == body["reason"]


def test_analyst_restricted_cap_is_masked_and_street_level(api: Api) -> None:
    save(api.store, api_warning(warning_id="w-api-2", level=Level.II))
    response = api.client.get("/cap/w-api-2.xml", headers=bearer(api.tokens.analyst))
    assert response.status_code == 200
    validate_cap(response.content)
    root = etree.fromstring(response.content)
    assert root.findtext(f"{CAP}scope") == "Restricted"
    assert [g.findtext(f"{CAP}value") for g in root.iter(f"{CAP}geocode")] == [DISTRICT, STREET]
    assert "张三" not in response.text and "王先生" not in response.text
    assert api.store.audit_log.entries(action="read.cap") == []  # a masked read


def test_roles_that_may_never_act_are_refused_before_the_lookup(api: Api) -> None:
    """403, not 404: an analyst or operator learns nothing about which ids exist."""
    assert api.act("nope", "acknowledge", api.tokens.analyst).status_code == 403
    assert api.client.post("/api/warnings/nope/approve", headers=bearer(api.tokens.operator)).status_code == 403
    assert api.client.post("/api/warnings/nope/approve", headers=bearer(api.tokens.commander)).status_code == 404
    assert [e.action for e in api.store.audit_log.entries(target="nope")] == ["denied.approve", "denied.acknowledge"]


def test_revoked_tokens_are_401_and_public_tokens_403_on_the_internal_api(api: Api) -> None:
    identity, token = api.store.tokens.create("临时", Role.commander)
    assert api.get("/api/me", token).status_code == 200
    api.store.tokens.revoke(identity.token_id)
    assert api.get("/api/warnings", token).status_code == 401
    assert api.client.get("/cap/w-api-1.xml", headers=bearer(token)).status_code == 401
    assert api.get("/api/me", api.tokens.public).json()["role"] == "public"
    for path in ("/api/warnings", "/api/audit", "/api/pipeline", "/api/trends", "/api/silences"):
        assert api.get(path, api.tokens.public).status_code == 403, path


def test_every_change_is_audited_and_the_log_filters(api: Api, water: str) -> None:
    save(api.store, api_warning(warning_id="w-api-2", level=Level.II))
    api.act(water, "acknowledge", api.tokens.operator)
    api.clock.advance(timedelta(minutes=5))
    api.client.post("/api/warnings/w-api-2/approve", headers=bearer(api.tokens.commander))
    body = {"region_prefix": STREET, "ends_at": "2026-11-23T06:00:00Z", "reason": "检修"}
    silence_id = api.client.post("/api/silences", json=body, headers=bearer(api.tokens.commander)).json()["silence_id"]
    api.client.delete(f"/api/silences/{silence_id}", headers=bearer(api.tokens.commander))
    log = lambda **params: [(e["action"], e["target"]) for e in api.get("/api/audit", api.tokens.commander, **params).json()]  # noqa: E731
    assert log(actor="指挥长") == [("silence.expire", silence_id), ("silence.create", silence_id), ("approve", "w-api-2")]
    assert log(target=water) == [("transition.acknowledge", water)]
    assert log(since="2026-11-23T01:33:00Z", action="approve") == [("approve", "w-api-2")]
    assert log(since="2026-11-23T01:33:00Z", actor="供水值班员") == []
    assert api.get("/api/audit", api.tokens.commander, since="2026-11-23T01:33:00").status_code == 422


def test_public_cap_and_atom_of_a_grid_warning_show_nothing_finer_than_the_district(api: Api, water: str) -> None:
    from riskwatch.config import geo

    xml = api.client.get(f"/cap/{water}.xml").content
    validate_cap(xml)
    area = etree.fromstring(xml).find(f"{CAP}info/{CAP}area")
    assert [g.findtext(f"{CAP}value") for g in area.iter(f"{CAP}geocode")] == [DISTRICT]
    [polygon] = [p.text for p in area.iter(f"{CAP}polygon")]
    points = [tuple(float(x) for x in pair.split(",")) for pair in polygon.split()]
    assert points == [pytest.approx((lat, lon)) for lon, lat in geo.polygon_of(DISTRICT)]
    assert etree.fromstring(xml).findtext(f"{CAP}info/{CAP}headline") == "金水区供水黄色预警[III级/较重]"
    for text in (xml.decode(), api.client.get("/cap/feed.atom").text):
        assert STREET not in text and "花园路" not in text and "张三" not in text and "王先生" not in text


def test_level_i_appears_in_the_feed_only_after_approval(api: Api) -> None:
    save(api.store, api_warning(warning_id="w-red", level=Level.I))
    assert _feed_links(api) == []
    assert api.client.get("/cap/w-red.xml").status_code == 404
    assert api.client.get("/cap/w-red.xml", headers=bearer(api.tokens.public)).status_code == 404
    assert api.client.post("/api/warnings/w-red/approve", headers=bearer(api.tokens.commander)).status_code == 200
    assert _feed_links(api) == ["http://testserver/cap/w-red.xml"]


def test_raising_a_public_warning_to_level_ii_keeps_the_public_at_the_approved_version(api: Api, water: str) -> None:
    api.clock.advance(timedelta(minutes=10))
    save(api.store, next_version(api_warning(), updated_at=T0 + timedelta(minutes=10), level=Level.II, title="升级为橙色"))
    public = etree.fromstring(api.client.get(f"/cap/{water}.xml").content)
    assert [p.findtext(f"{CAP}value") for p in public.iter(f"{CAP}parameter") if p.findtext(f"{CAP}valueName") == "version"] == ["1"]
    atom = api.client.get("/cap/feed.atom").text
    assert "橙色预警" not in atom and "金水区供水黄色预警" in atom
    api.client.post(f"/api/warnings/{water}/approve", headers=bearer(api.tokens.commander))
    assert "金水区供水橙色预警[II级/严重]" in api.client.get("/cap/feed.atom").text


def test_metrics_expose_counts_only(api: Api, water: str) -> None:
    api.get(f"/api/warnings/{water}", api.tokens.commander)
    api.client.get("/api/me", params={"token": api.tokens.commander})
    text = api.client.get("/metrics").text
    for secret in (water, "张三", "花园路", api.tokens.commander, "指挥长", "water_group", STREET):
        assert secret not in text, secret
    assert 'route="/api/warnings/{warning_id}"' in text


def test_unexpected_errors_are_json_500_without_internals(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(active_at: object = None) -> list[object]:
        raise RuntimeError("SELECT secret FROM /srv/riskwatch/db")

    monkeypatch.setattr(api.store.silences, "list", broken)
    client = TestClient(api.client.app, raise_server_exceptions=False)
    response = client.get("/api/silences", headers=bearer(api.tokens.commander))
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; the server log has the details"}
    assert "Traceback" not in response.text and "secret" not in response.text

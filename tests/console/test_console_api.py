"""The console API on a tracker store seeded by the real bot: sign-in, roles, CSRF, sessions, every filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from console.models import ConsoleSession
from console.settings import ConsoleSettings
from tests.console.conftest import Databases, Harness

pytestmark = pytest.mark.e2e

GET_ROUTES = [
    "/api/console/me",
    "/api/console/vocabulary",
    "/api/console/conversations",
    "/api/console/counts",
    "/api/console/conversations/web:x",
    "/api/console/corrections",
    "/api/console/corrections/export",
    "/api/console/metrics",
]
POST_ROUTES = [
    "/api/console/logout",
    "/api/console/conversations/web:x/tags",
    "/api/console/conversations/web:x/notes",
    "/api/console/conversations/web:x/corrections",
]


async def test_every_api_route_refuses_calls_without_a_session(console: Harness) -> None:
    for path in GET_ROUTES:
        resp = await console.client.get(path)
        assert resp.status == 401, path
        assert (await resp.json())["code"] == "not_signed_in"
    for path in POST_ROUTES:
        resp = await console.client.post(path, json={})
        assert resp.status == 401, path
    resp = await console.client.delete("/api/console/conversations/web:x/tags/reviewed")
    assert resp.status == 401
    forged = await console.client.get("/api/console/me", headers={"Cookie": "console_session=forged"})
    assert forged.status == 401


async def test_sign_in_sets_a_strict_httponly_cookie_and_wrong_passwords_get_one_answer(console: Harness) -> None:
    resp = await console.client.post(
        "/api/console/login", json={"email": "Lead@Example.com", "password": "lead-password-12"}
    )
    assert resp.status == 200
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    body = await resp.json()
    assert body["role"] == "lead" and body["csrf_token"]
    wrong = await console.client.post(
        "/api/console/login", json={"email": "lead@example.com", "password": "nope-nope-nope"}
    )
    unknown = await console.client.post(
        "/api/console/login", json={"email": "who@example.com", "password": "nope-nope-nope"}
    )
    assert wrong.status == unknown.status == 401
    assert (
        (await wrong.json()) == (await unknown.json()) == {"error": "wrong email or password", "code": "not_signed_in"}
    )


async def test_login_failures_slow_the_guesser_down_without_locking_the_account(console: Harness) -> None:
    for _ in range(3):  # CONSOLE_LOGIN_FREE_FAILURES
        resp = await console.client.post(
            "/api/console/login", json={"email": "agent@example.com", "password": "wrong-password"}
        )
        assert resp.status == 401
    blocked = await console.client.post(
        "/api/console/login", json={"email": "agent@example.com", "password": "agent-password-1"}
    )
    assert blocked.status == 429  # too soon after the third failure, even with the right password
    assert blocked.headers["Retry-After"] == "1"
    assert (await blocked.json())["code"] == "too_many_attempts"
    other = await console.client.post(
        "/api/console/login", json={"email": "lead@example.com", "password": "lead-password-12"}
    )
    assert other.status == 200  # another account from the same client is not slowed
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=2)
    console.state.auth.clock = lambda: later
    again = await console.client.post(
        "/api/console/login", json={"email": "agent@example.com", "password": "agent-password-1"}
    )
    assert again.status == 200


async def test_login_rejects_non_json_and_malformed_bodies_and_keeps_serving(console: Harness) -> None:
    form = await console.client.post("/api/console/login", data={"email": "lead@example.com", "password": "x"})
    assert form.status == 415  # a cross-site HTML form cannot sign anyone in
    broken = await console.client.post(
        "/api/console/login", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status == 400 and (await broken.json())["code"] == "bad_request"
    binary = await console.client.post(
        "/api/console/login", data=b"\xff\xfe\x00", headers={"Content-Type": "application/json"}
    )
    assert binary.status == 400
    huge = await console.client.post(
        "/api/console/login",
        data=b'{"email": "' + b"a" * 3_000_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert huge.status == 413
    lead = await console.login("lead")
    assert (await lead.get("/api/console/me"))[0] == 200


async def test_csrf_token_is_required_for_every_change(console: Harness, dbs: Databases) -> None:
    lead = await console.login("lead")
    sender = dbs.sender("verified_tracking")
    path = f"/api/console/conversations/{console.public(sender)}/tags"
    assert (await lead.post(path, {"tag": "reviewed"}, csrf=False)) == (
        403,
        {"error": "missing or wrong X-CSRF-Token header; reload the console", "code": "csrf_failed"},
    )
    other = await console.login("agent")  # a valid token of another session is still wrong
    resp = await console.client.post(
        path, json={"tag": "reviewed"}, headers={"Cookie": f"console_session={lead.token}", "X-CSRF-Token": other.csrf}
    )
    assert resp.status == 403
    status, _ = await lead.post(f"/api/console/conversations/{console.public(sender)}/notes", {"text": "x"}, csrf=False)
    assert status == 403
    assert (await lead.delete(f"{path}/reviewed", csrf=False))[0] == 403
    assert (await lead.post("/api/console/logout", csrf=False))[0] == 403
    assert (await lead.post(path, {"tag": "reviewed"}))[0] == 201
    assert (await lead.get(f"/api/console/conversations/{console.public(sender)}"))[1]["tags"] == ["reviewed"]


async def test_sessions_expire_when_idle_and_after_the_maximum_age(console: Harness) -> None:
    lead = await console.login("lead")
    start = datetime.now(UTC).replace(tzinfo=None)
    console.state.auth.clock = lambda: start + timedelta(minutes=29)
    assert (await lead.get("/api/console/me"))[0] == 200  # activity slides the idle deadline
    console.state.auth.clock = lambda: start + timedelta(minutes=58)
    assert (await lead.get("/api/console/me"))[0] == 200
    console.state.auth.clock = lambda: start + timedelta(minutes=58 + 31)
    status, body = await lead.get("/api/console/me")
    assert (status, body["code"]) == (401, "not_signed_in")
    assert (await lead.get("/api/console/me"))[0] == 401  # the expired session is gone, not revived

    t0 = datetime.now(UTC).replace(tzinfo=None)
    console.state.auth.clock = lambda: t0
    busy = await console.login("lead")
    await console.login("admin")  # signed in and never used again
    for minutes in range(20, 12 * 60, 20):  # active all day long
        console.state.auth.clock = lambda m=minutes: t0 + timedelta(minutes=m)
        assert (await busy.get("/api/console/me"))[0] == 200
    console.state.auth.clock = lambda: t0 + timedelta(hours=12, minutes=1)
    assert (await busy.get("/api/console/me"))[0] == 401

    # The abandoned admin session is purged at the next sign-in.
    await console.login("agent")
    with console.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ConsoleSession)) == 1


async def test_logout_ends_the_session(console: Harness) -> None:
    lead = await console.login("lead")
    assert (await lead.post("/api/console/logout"))[0] == 200
    assert (await lead.get("/api/console/me"))[0] == 401


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("agent", {"read", "annotate"}),
        ("lead", {"read", "annotate", "correct", "export", "metrics"}),
        ("admin", {"read", "annotate", "correct", "export", "metrics"}),
    ],
)
async def test_each_role_may_do_exactly_its_part(
    console: Harness, dbs: Databases, role: str, allowed: set[str]
) -> None:
    viewer = await console.login(role)
    sender = dbs.sender("low_confidence")
    event_id = dbs.sql("select min(id) from events where sender_id = ? and type_name = 'user'", sender)[0][0]
    calls = {
        "read": [
            await viewer.get("/api/console/conversations"),
            await viewer.get(f"/api/console/conversations/{console.public(sender)}"),
        ],
        "annotate": [
            await viewer.post(f"/api/console/conversations/{console.public(sender)}/tags", {"tag": "needs fix"}),
            await viewer.post(f"/api/console/conversations/{console.public(sender)}/notes", {"text": "check this"}),
        ],
        "correct": [
            await viewer.post(
                f"/api/console/conversations/{console.public(sender)}/corrections",
                {"event_id": event_id, "intent": "out_of_scope"},
            )
        ],
        "export": [await viewer.get("/api/console/corrections"), await viewer.get("/api/console/corrections/export")],
        "metrics": [await viewer.get("/api/console/metrics")],
    }
    for permission, results in calls.items():
        for status, body in results:
            if permission in allowed:
                assert status in (200, 201), (permission, body)
            else:
                assert (status, body["code"]) == (403, "forbidden"), permission


async def test_filters_match_the_tracker(console: Harness, dbs: Databases) -> None:
    lead = await console.login("lead")
    everyone = {c.sender_id for c in dbs.seeded.conversations.values()}
    assert await lead.ids() == everyone

    def senders(query: str, *params: object) -> set[str]:
        return {row[0] for row in dbs.sql(query, *params)}

    # Expected sets come from the raw events, not from the console's index.
    by_channel = {c.channel for c in dbs.seeded.conversations.values()}
    assert by_channel == {"web", "telegram", "slack", "tablet"}
    for channel in by_channel:
        expected = {c.sender_id for c in dbs.seeded.conversations.values() if c.channel == channel}
        assert await lead.ids(channel=channel) == expected, channel

    fallback = senders("select distinct sender_id from events where action_name in ('action_fallback')")
    assert dbs.sender("fallback_handoff") in fallback
    assert await lead.ids(fallback="yes") == fallback
    assert await lead.ids(fallback="no") == everyone - fallback

    handoff = senders("select distinct sender_id from events where action_name = 'action_handoff'")
    assert {dbs.sender("fallback_handoff"), dbs.sender("telegram_delayed_handoff")} <= handoff
    assert await lead.ids(handoff="yes") == handoff
    assert await lead.ids(handoff="no") == everyone - handoff

    verified = senders(
        "select distinct sender_id from events where type_name = 'slot' and action_name = 'proof' "
        "and json_extract(data, '$.value') = 'verified'"
    )
    assert {dbs.sender("verified_tracking"), dbs.sender("telegram_delayed_handoff")} <= verified
    assert dbs.sender("failed_verification") not in verified
    assert await lead.ids(verified="yes") == verified
    assert await lead.ids(verified="no") == everyone - verified

    for below in (50, 70, 90, 100):
        low = senders(
            "select distinct sender_id from events where type_name = 'user' "
            "and json_extract(data, '$.parse_data.intent.confidence') < ?",
            below / 100,
        )
        assert await lead.ids(below=below) == low, below

    for intent in ("shipping_cost", "track_order", "human_handoff", "nlu_fallback"):
        expected = senders("select distinct sender_id from events where type_name = 'user' and intent_name = ?", intent)
        assert expected, intent
        assert await lead.ids(intent=intent) == expected, intent

    assert await lead.ids(q="germany") == {dbs.sender("slack_staff_shipping")}
    assert await lead.ids(q="GERMANY", channel="web") == set()
    assert await lead.ids(q="100%") == set()  # LIKE wildcards are searched literally
    delayed = dbs.seeded.cases["delayed"]["order_number"]
    assert await lead.ids(order=delayed) == {dbs.sender("telegram_delayed_handoff")}

    shop_zone = ZoneInfo(ConsoleSettings().timezone)  # "from" and "to" are the shop's days
    today = datetime.now(shop_zone).date()
    seeded_days = {
        datetime.fromtimestamp(r[0], shop_zone).date()
        for r in dbs.sql("select max(timestamp) from events group by sender_id")
    }
    first, last = min(seeded_days), max(seeded_days)
    assert await lead.ids(**{"from": first.isoformat(), "to": last.isoformat()}) == everyone
    assert await lead.ids(**{"to": (first - timedelta(days=1)).isoformat()}) == set()
    assert await lead.ids(**{"from": (today + timedelta(days=1)).isoformat()}) == set()

    tagged = dbs.sender("low_confidence")
    assert (await lead.post(f"/api/console/conversations/{console.public(tagged)}/tags", {"tag": "Needs Fix"}))[
        0
    ] == 201
    assert await lead.ids(tag="needs fix") == {tagged}
    assert await lead.ids(tag="needs fix", channel="slack") == set()
    assert (await lead.delete(f"/api/console/conversations/{console.public(tagged)}/tags/needs fix"))[0] == 200
    assert await lead.ids(tag="needs fix") == set()


async def test_counts_for_each_filter(console: Harness, dbs: Databases) -> None:
    lead = await console.login("lead")
    status, counts = await lead.get("/api/console/counts")
    assert status == 200
    assert counts["total"] == len(dbs.seeded.conversations)
    assert counts["channels"] == {
        ch: sum(1 for c in dbs.seeded.conversations.values() if c.channel == ch)
        for ch in ("slack", "tablet", "telegram", "web")
    }
    assert counts["fallback"] == len(await lead.ids(fallback="yes"))
    assert counts["handoff"] == len(await lead.ids(handoff="yes"))
    assert counts["verified"] == len(await lead.ids(verified="yes"))
    assert counts["unverified"] == len(await lead.ids(verified="no"))
    assert counts["low_confidence"] == len(await lead.ids(below=50)) and counts["below"] == 50
    for intent, n in counts["intents"].items():
        assert n == len(await lead.ids(intent=intent)), intent
    tagged = dbs.sender("verified_tracking")
    assert (await lead.post(f"/api/console/conversations/{console.public(tagged)}/tags", {"tag": "good example"}))[
        0
    ] == 201
    today = datetime.now(UTC).date().isoformat()
    for params in (
        {"channel": "telegram"},
        {"from": today, "to": today},
        {"intent": "track_order"},
        {"fallback": "yes"},
        {"handoff": "no"},
        {"below": "90"},
        {"verified": "yes"},
        {"tag": "good example"},
        {"q": "order"},
        {"order": dbs.seeded.cases["in_transit"]["order_number"]},
        {"intent": "track_order", "tag": "good example", "verified": "yes", "q": "where"},
    ):
        status, filtered = await lead.get("/api/console/counts", **params)
        assert status == 200, (params, filtered)
        expected = await lead.ids(**params)
        assert filtered["total"] == len(expected) == sum(filtered["channels"].values()), params
        assert filtered["verified"] == len(expected & await lead.ids(verified="yes")), params
        if "tag" in params:
            assert filtered["tags"] == {"good example": len(expected)}
        if "intent" in params:
            assert filtered["intents"]["track_order"] == len(expected)
    status, web_only = await lead.get("/api/console/counts", channel="web", handoff="yes")
    assert web_only["total"] == len(await lead.ids(channel="web", handoff="yes"))
    assert set(web_only["channels"]) == {"web"}


async def test_keyset_pages_are_ordered_by_last_activity_without_gaps(console: Harness, dbs: Databases) -> None:
    lead = await console.login("lead")
    seen, cursor = [], None
    while True:
        status, page = await lead.get("/api/console/conversations", limit=3, **({"cursor": cursor} if cursor else {}))
        assert status == 200 and len(page["conversations"]) <= 3
        seen += page["conversations"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = [
        r[0]
        for r in dbs.sql("select sender_id from events group by sender_id order by max(timestamp) desc, sender_id desc")
    ]
    assert [lead.sender_of(c["id"]) for c in seen] == expected
    assert all(c.sender_id not in str(seen) for c in dbs.seeded.conversations.values())  # ids never leave


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"below": "0"}, "below"),
        ({"below": "abc"}, "below"),
        ({"fallback": "maybe"}, "fallback"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": "1000"}, "limit"),
        ({"q": "x" * 201}, "q"),
    ],
)
async def test_bad_filters_are_a_clear_400(console: Harness, params: dict[str, str], field: str) -> None:
    lead = await console.login("lead")
    status, body = await lead.get("/api/console/conversations", **params)
    assert status == 400 and body["field"] == field, body


async def test_new_events_are_indexed_before_the_next_query(console: Harness, dbs: Databases) -> None:
    from tests.console.real_conversations import clone_conversations

    lead = await console.login("lead")
    before = await lead.ids()
    added = clone_conversations(
        dbs.tracker_url, dbs.tracker_url, 2, start_ts=datetime.now(UTC).timestamp(), span_seconds=60
    )
    assert await lead.ids() == before | set(added)

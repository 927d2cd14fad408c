"""The CRM opt-out fields reach client_360 as a consent flag with its source and time, latest change first.

The expectation is computed from the sandbox's own records (Salesforce ``HasOptedOutOfEmail`` on
contacts and leads, HubSpot ``hs_email_optout``, each with its record's last change), grouped by
the client ``identity_map`` gave each record: nothing of the cleansed layer or dbt is reused, so a
field the connector does not request, a cleansing slip or a wrong rule in client_360 all fail here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from cdp_platform.sandbox.records import SandboxData
from cdp_platform_tests.privacy.sandbox_marts import SandboxMarts, sandbox_marts  # noqa: F401

pytestmark = pytest.mark.slow  # the shared sandbox build (raw to marts) takes most of a minute

_HUBSPOT_FLAG = {"true": True, "false": False}


def _salesforce_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(dt.UTC)


def _answers(data: SandboxData) -> list[tuple[str, str, bool, dt.datetime]]:
    """(record_id as identity_map names it, source, opted out, last change) of every CRM record."""
    answers = []
    for stream in ("salesforce/contacts", "salesforce/leads", "hubspot/contacts"):
        prefix = stream.replace("/", ":") + ":"
        for position in data.all_positions(stream):
            record = data.record(stream, position)
            if stream == "hubspot/contacts":
                properties = record["properties"]
                flag = _HUBSPOT_FLAG.get(properties.get("hs_email_optout"))
                changed = dt.datetime.fromisoformat(properties["lastmodifieddate"]).astimezone(dt.UTC)
                record_id = record["id"]
            else:
                flag = record.get("HasOptedOutOfEmail")
                changed = _salesforce_time(record["LastModifiedDate"])
                record_id = record["Id"]
            if flag is not None:
                answers.append((prefix + record_id, stream, flag, changed))
    return answers


def _latest(answers: list[tuple[str, bool, dt.datetime]]) -> tuple[str, bool, dt.datetime]:
    """The latest change wins; on the same instant the opt-out; then the source name, as documented."""
    return min(answers, key=lambda a: (-a[2].timestamp(), not a[1], a[0]))


def _expected(built: SandboxMarts) -> tuple[dict[str, tuple], dict[str, list]]:
    mapping = dict(built.frame("select record_id, client_id from identity.identity_map").iter_rows())
    by_client: dict[str, list] = defaultdict(list)
    for record_id, source, flag, changed in _answers(built.data):
        if record_id in mapping:
            by_client[mapping[record_id]].append((source, flag, changed))
    expected = {client: _latest(answers) for client, answers in by_client.items()}
    return expected, by_client


def test_opt_outs_reach_client_360_with_source_and_time(sandbox_marts: SandboxMarts):  # noqa: F811
    expected, by_client = _expected(sandbox_marts)
    rows = sandbox_marts.frame(
        "select client_id, email_opt_out, email_opt_out_source, email_opt_out_at from marts.client_360"
    )
    shown = {
        r["client_id"]: (r["email_opt_out_source"], r["email_opt_out"], r["email_opt_out_at"])
        for r in rows.iter_rows(named=True)
    }
    # Every client with a CRM answer shows exactly the latest one; every other client shows none.
    assert {c: v for c, v in shown.items() if v != (None, None, None)} == expected
    opted_out = {c: v for c, v in expected.items() if v[1]}
    # The sample exercises the rule: opt-outs from both CRMs, and from leads too.
    assert {source for source, _, _ in opted_out.values()} >= {"salesforce/contacts", "hubspot/contacts"}
    assert any(source == "salesforce/leads" for answers in by_client.values() for source, _, _ in answers)
    assert len(opted_out) >= 20, len(opted_out)


def test_when_the_crms_disagree_the_latest_change_wins(sandbox_marts: SandboxMarts):  # noqa: F811
    _, by_client = _expected(sandbox_marts)
    disagreeing = {c: a for c, a in by_client.items() if len({flag for _, flag, _ in a}) > 1}
    shown = {
        r["client_id"]: r
        for r in sandbox_marts.frame(
            "select client_id, email_opt_out, email_opt_out_source, email_opt_out_at from marts.client_360"
        ).iter_rows(named=True)
    }
    back_in, out = 0, 0
    for client, answers in disagreeing.items():
        latest = _latest(answers)
        row = shown[client]
        assert (row["email_opt_out"], row["email_opt_out_source"], row["email_opt_out_at"]) == (
            latest[1],
            latest[0],
            latest[2],
        ), (client, answers)
        back_in += not latest[1]
        out += latest[1]
    # Both directions occur: an older opt-out overridden by a later "subscribed" (which "the most
    # restrictive answer wins" would get wrong), and a later opt-out over an older "subscribed".
    assert back_in >= 1 and out >= 1, (back_in, out)
    assert len({a[0] for answers in disagreeing.values() for a in answers}) >= 2


def test_consent_columns_are_typed(sandbox_marts: SandboxMarts):  # noqa: F811
    types = dict(
        sandbox_marts.frame(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'client_360' and column_name like 'email_opt_out%'"
        ).iter_rows()
    )
    assert types == {
        "email_opt_out": "BOOLEAN",
        "email_opt_out_source": "VARCHAR",
        "email_opt_out_at": "TIMESTAMP WITH TIME ZONE",
    }

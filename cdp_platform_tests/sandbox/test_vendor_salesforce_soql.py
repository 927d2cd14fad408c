"""The SOQL subset parser: what it accepts, and Salesforce-shaped errors for what it does not."""

from __future__ import annotations

import datetime

import pytest

from cdp_platform.sandbox.vendors.salesforce.soql import SoqlError, parse_soql

UTC = datetime.UTC


def test_incremental_query_parses_fields_window_order_and_limit():
    query = parse_soql(
        "SELECT Id, Name, Account.Name FROM Contact WHERE SystemModstamp >= 2026-11-25T00:00:00Z "
        "AND SystemModstamp < 2026-11-26T00:00:00.000+0000 ORDER BY SystemModstamp ASC, Id LIMIT 500"
    )
    assert [f.name for f in query.fields] == ["Id", "Name", "Account.Name"]
    assert query.sobject == "Contact" and query.limit == 500 and not query.count
    assert [(c.field, c.op, c.value) for c in query.conditions] == [
        ("SystemModstamp", ">=", datetime.datetime(2026, 11, 25, tzinfo=UTC)),
        ("SystemModstamp", "<", datetime.datetime(2026, 11, 26, tzinfo=UTC)),
    ]
    assert query.order_by == (("SystemModstamp", False), ("Id", False))


def test_count_and_literals():
    query = parse_soql(
        "select count() from Lead where IsDeleted = false and LastModifiedDate > 2026-01-01T08:00:00-08:00"
    )
    assert query.count and query.fields == ()
    assert query.conditions[0].value is False
    assert query.conditions[1].value == datetime.datetime(2026, 1, 1, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    "text,column",
    [
        ("SELECT FROM Account", 8),
        ("SELECT Id FROM Account WHERE", 29),
        ("SELECT Id FROM Account LIMIT x", 30),
        ("SELECT Id FROM Account WHERE (Id = '1')", 30),
        ("SELECT Id FROM Account GROUP BY Id", 24),
        ("SELECT MAX(Amount) FROM Opportunity", 8),
    ],
)
def test_malformed_queries_point_at_the_column(text, column):
    with pytest.raises(SoqlError) as error:
        parse_soql(text)
    assert error.value.error_code == "MALFORMED_QUERY"
    assert f"ERROR at Row:1:Column:{column}" in error.value.message
    lines = error.value.message.split("\n")
    assert lines[1] == text and lines[2].index("^") == column - 1

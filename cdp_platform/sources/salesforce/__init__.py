"""Salesforce (REST API v62.0): Accounts, Contacts, Leads and Opportunities by SOQL.

Partition D is ``WHERE SystemModstamp >= D AND SystemModstamp < D+1``: SystemModstamp moves on
every change, including system-made ones, so it is the field that misses nothing. Pages follow
``nextRecordsUrl`` until ``done``. Authentication is OAuth 2.0 (refresh-token grant) against the
login host; the token response's ``instance_url`` becomes the API base.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from cdp_platform.http import Auth, RequestSpec, SalesforceNextRecordsUrl, SalesforceOAuth
from cdp_platform.sources.stream import Stream, StreamContext, single
from cdp_platform.sources.vendor import VendorResource

API_VERSION = "v62.0"

# The fields each object's query selects (custom fields end in __c; an org without them
# removes them here). Relationship fields come back as nested objects.
FIELDS: dict[str, tuple[str, ...]] = {
    "Account": (
        "Id", "IsDeleted", "Name", "Type", "Industry", "BillingCity", "BillingCountry", "Phone", "Website",
        "NumberOfEmployees", "CreatedDate", "LastModifiedDate", "SystemModstamp",
    ),
    "Contact": (
        "Id", "IsDeleted", "AccountId", "Account.Name", "FirstName", "LastName", "Name", "Email", "Phone",
        "Birthdate", "MailingStreet", "MailingCity", "MailingPostalCode", "MailingCountry", "Title",
        "LeadSource", "HasOptedOutOfEmail", "Twitter_Handle__c", "Instagram_Username__c", "CreatedDate",
        "LastModifiedDate", "SystemModstamp",
    ),
    "Lead": (
        "Id", "IsDeleted", "FirstName", "LastName", "Name", "Company", "Title", "Email", "Phone", "Street",
        "City", "PostalCode", "Country", "LeadSource", "Status", "IsConverted", "HasOptedOutOfEmail",
        "Twitter_Handle__c", "CreatedDate", "LastModifiedDate", "SystemModstamp",
    ),
    "Opportunity": (
        "Id", "IsDeleted", "Name", "AccountId", "Account.Name", "ContactId", "Amount", "CloseDate",
        "StageName", "Probability", "IsClosed", "IsWon", "Type", "LeadSource", "CreatedDate",
        "LastModifiedDate", "SystemModstamp",
    ),
}  # fmt: skip


def soql_datetime(moment: datetime) -> str:
    """SOQL datetime literals are unquoted ISO 8601 in UTC."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def window_query(sobject: str, start: datetime, end: datetime) -> str:
    return (
        f"SELECT {', '.join(FIELDS[sobject])} FROM {sobject} "
        f"WHERE SystemModstamp >= {soql_datetime(start)} AND SystemModstamp < {soql_datetime(end)} "
        "ORDER BY SystemModstamp ASC, Id ASC"
    )


def count_query(sobject: str, since: datetime) -> str:
    """A cheap change probe for sensors: how many records changed since a moment."""
    return f"SELECT COUNT() FROM {sobject} WHERE SystemModstamp >= {soql_datetime(since)}"


def query_request(soql: str, batch_size: int = 2000) -> RequestSpec:
    return RequestSpec(
        "GET",
        f"/services/data/{API_VERSION}/query",
        params={"q": soql},
        headers={"Sforce-Query-Options": f"batchSize={batch_size}"},
    )


class SalesforceResource(VendorResource):
    """Salesforce: the login host as ``base_url`` and a connected app's refresh token."""

    source = "salesforce"
    http_vendor = "salesforce"

    client_id: str | None = Field(
        default=None, description="Connected app consumer key (CDP_SALESFORCE_CLIENT_ID)."
    )
    client_secret: str | None = Field(
        default=None, description="Connected app consumer secret (CDP_SALESFORCE_CLIENT_SECRET)."
    )
    refresh_token: str | None = Field(
        default=None, description="OAuth refresh token (CDP_SALESFORCE_REFRESH_TOKEN)."
    )

    def auth(self) -> Auth:
        login = self.api_base_url()
        return SalesforceOAuth(login, self.client_id, self.client_secret, refresh_token=self.refresh_token)


def _stream(name: str, sobject: str, description: str) -> Stream:
    def request(ctx: StreamContext) -> RequestSpec:
        return query_request(
            window_query(sobject, ctx.window.start, ctx.window.end), ctx.size(2000, 200, 2000)
        )

    return Stream(
        source="salesforce",
        name=name,
        description=description,
        paginator=lambda: SalesforceNextRecordsUrl("records", id_field="Id"),
        slices=single(request),
        id_path="Id",
        updated_path="SystemModstamp",
    )


STREAMS = (
    _stream("accounts", "Account", "Salesforce Accounts created or changed in the partition's day."),
    _stream("contacts", "Contact", "Salesforce Contacts created or changed in the partition's day."),
    _stream("leads", "Lead", "Salesforce Leads created or changed in the partition's day."),
    _stream("opportunities", "Opportunity", "Salesforce Opportunities (purchases when won), by change day."),
)

"""GA4 user daily activity: one row per visitor (client id) per day, with the CRM id when logged in.

The raw layer zips each report row with its headers, so the payload is
``{"dimensions": {name: value}, "metrics": {name: value}}``. GA4 sends every value as a string
and the ``date`` dimension as ``YYYYMMDD`` only: a metric served as a JSON number is quarantined
as ``wrong_type`` (and named by the drift check when a whole report does it), a date in any other
format as ``unparseable_timestamp``, an empty dimension as ``missing_required``.
"""

from __future__ import annotations

import polars as pl

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.derived import null_placeholders
from cdp_platform.cleansed.entity import CleansedEntity, Field, PersonKey

CRM_ID_DIMENSION = "customUser:crm_contact_id"
CLIENT_ID_DIMENSION = "customUser:ga_client_id"
# GA4 fills a dimension it has no value for with this literal.
NOT_SET = ("(not set)",)


def _dimension(name: str) -> str:
    return f"$.dimensions['{name}']"


def _metric(name: str) -> str:
    return f"$.metrics['{name}']"


def _derive(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(null_placeholders("crm_id", NOT_SET))


ENTITY = CleansedEntity(
    source="google_analytics",
    entity="user_daily_activity",
    raw_stream="user_daily_activity",
    # A logged-in session is the CRM contact's, whichever device it came from.
    person_keys=(PersonKey("ga_client_id", "visitors"), PersonKey("crm_id", crm_contacts=True)),
    placeholders=NOT_SET,
    device_records=True,
    fields=(
        Field(
            "activity_date",
            "date",
            _dimension("date"),
            required=True,
            json_type="string",
            pattern=r"^\d{8}$",
            description="The day of the activity (dimension date, YYYYMMDD), in the property's time zone.",
        ),
        Field(
            "ga_client_id",
            "string",
            _dimension(CLIENT_ID_DIMENSION),
            required=True,
            json_type="string",
            column=columns.identifier(unique=False),  # repeats: a row per day and source/medium
            description=f"The visitor's client id, one browser or app install (the user-scoped custom "
            f"dimension {CLIENT_ID_DIMENSION}).",
        ),
        # "(not set)" is nulled after the row rules (``_derive``), so the column is optional.
        Field(
            "crm_id",
            "string",
            _dimension(CRM_ID_DIMENSION),
            required=True,
            json_type="string",
            column=columns.reference(),
            description=f"The CRM contact id the visitor was logged in with (the user-scoped custom "
            f"dimension {CRM_ID_DIMENSION}); null where GA4 reports {NOT_SET[0]}.",
        ),
        Field(
            "source_medium",
            "string",
            _dimension("sessionSourceMedium"),
            required=True,
            json_type="string",
            column=columns.text(),
            description="Where the sessions came from, as source / medium (dimension sessionSourceMedium).",
        ),
        Field(
            "sessions",
            "integer",
            _metric("sessions"),
            json_type="string",
            description="The visitor's sessions that day from that source (metric sessions).",
        ),
        Field(
            "engaged_sessions",
            "integer",
            _metric("engagedSessions"),
            json_type="string",
            description="Of those, the engaged sessions (metric engagedSessions).",
        ),
        Field(
            "page_views",
            "integer",
            _metric("screenPageViews"),
            json_type="string",
            description="Pages and app screens viewed (metric screenPageViews).",
        ),
        Field(
            "conversions",
            "integer",
            _metric("conversions"),
            json_type="string",
            description="Conversion events (metric conversions).",
        ),
        Field(
            "revenue",
            "amount",
            _metric("purchaseRevenue"),
            json_type="string",
            description="Purchase revenue in the property's currency (metric purchaseRevenue).",
        ),
    ),
    key_columns=("record_id", "ga_client_id", "activity_date"),
    extra_columns=_derive,
    description="GA4 activity per visitor per day: metrics typed, the logged-in CRM contact id.",
)

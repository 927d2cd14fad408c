"""What every Salesforce object carries: its id, deletion flag and audit timestamps.

Salesforce documents its datetimes as strings (``2026-11-25T13:07:00.000+0000``); one served as a
number is a broken record (quarantined ``wrong_type``), one in another format is unreadable
(``unparseable_timestamp``). Lookups to a parent come back as a nested object with its own
``attributes``.
"""

from __future__ import annotations

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import Field

SYSTEM_FIELDS: tuple[Field, ...] = (
    Field("crm_id", "string", "$.Id", required=True, json_type="string"),
    Field("is_deleted", "boolean", "$.IsDeleted"),
    Field("created_at", "timestamp", "$.CreatedDate", required=True, json_type="string"),
    Field("last_modified_at", "timestamp", "$.LastModifiedDate", json_type="string"),
    Field("system_modstamp", "timestamp", "$.SystemModstamp", json_type="string"),
)

SYSTEM_COLUMNS = {
    "record_id": columns.identifier(),
    "crm_id": columns.identifier(),
    "is_deleted": columns.flag(),
    "created_at": columns.timestamp(nullable=False),
    "last_modified_at": columns.timestamp(),
    "system_modstamp": columns.timestamp(),
}

KEY_COLUMNS = ("record_id", "crm_id")


# The system fields every object's query selects, with their JSON types.
SYSTEM_PAYLOAD = {
    "attributes": "object",
    "attributes.type": "string",
    "attributes.url": "string",
    "Id": "string",
    "IsDeleted": "boolean",
    "CreatedDate": "string",
    "LastModifiedDate": "string",
    "SystemModstamp": "string",
}


def lookup_payload(relationship: str) -> dict[str, str]:
    """A parent lookup (``Account: {attributes, Name}``)."""
    return {
        relationship: "object",
        f"{relationship}.attributes": "object",
        f"{relationship}.attributes.type": "string",
        f"{relationship}.attributes.url": "string",
        f"{relationship}.Name": "string",
    }

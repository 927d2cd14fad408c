"""What every Salesforce object carries: its id, deletion flag and audit timestamps.

Salesforce documents its datetimes as strings (``2026-11-25T13:07:00.000+0000``); one served as a
number is a broken record (quarantined ``wrong_type``), one in another format is unreadable
(``unparseable_timestamp``). Lookups to a parent come back as a nested object with its own
``attributes``.
"""

from __future__ import annotations

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import CleansedEntity, Field

SYSTEM_FIELDS: tuple[Field, ...] = (
    Field(
        "crm_id",
        "string",
        "$.Id",
        required=True,
        json_type="string",
        description="The record's Salesforce id (Id, 18 characters).",
        role="external_id",
        column=columns.identifier(),
    ),
    Field(
        "is_deleted",
        "boolean",
        "$.IsDeleted",
        description="Whether the record was deleted, and is in the Recycle Bin (IsDeleted).",
    ),
    Field(
        "created_at",
        "timestamp",
        "$.CreatedDate",
        required=True,
        json_type="string",
        description="When the record was created (CreatedDate).",
    ),
    Field(
        "last_modified_at",
        "timestamp",
        "$.LastModifiedDate",
        json_type="string",
        description="When a user last changed the record (LastModifiedDate).",
    ),
    Field(
        "system_modstamp",
        "timestamp",
        "$.SystemModstamp",
        json_type="string",
        description="When a user or an automated process last changed the record (SystemModstamp): "
        "the time each day's query selects on.",
    ),
)

KEY_COLUMNS = ("record_id", "crm_id")

# What every record carries beside its fields: its type and URL.
SYSTEM_ENVELOPE = {
    "attributes": "object",
    "attributes.type": "string",
    "attributes.url": "string",
}


def field_path(name: str) -> str:
    """Where a field's value is in a record's payload (a custom field's API name ends in ``__c``)."""
    return f"$.{name}"


def lookup_envelope(relationship: str) -> dict[str, str]:
    """What a parent lookup carries beside the fields read from it (``Account.attributes``)."""
    return {
        f"{relationship}.attributes": "object",
        f"{relationship}.attributes.type": "string",
        f"{relationship}.attributes.url": "string",
    }


# The system fields a query selects first (the record's id and deletion flag) and last (its times).
_HEAD = ("Id", "IsDeleted")
_TAIL = ("CreatedDate", "LastModifiedDate", "SystemModstamp")


def select_list(entity: CleansedEntity) -> tuple[str, ...]:
    """The SOQL fields an entity reads: the payload path of each field (relationship fields as
    ``Account.Name``), the system fields around them in the order Salesforce's own examples use."""
    own = [f.payload_key for f in entity.fields if f.payload_key and f.payload_key not in _HEAD + _TAIL]
    return (*_HEAD, *dict.fromkeys(own), *_TAIL)

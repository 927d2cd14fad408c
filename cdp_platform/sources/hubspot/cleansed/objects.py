"""What every HubSpot CRM object carries, and how its string-only properties are read.

HubSpot sends every property value as a string (numbers, dates and booleans too), so the typing
happens here, by field kind; a number or boolean property's field says ``sent_as="string"``. The object's own ``id`` is documented as a string: one served as a
number is a broken record (``wrong_type``). ``updatedAt`` in another format is unreadable
(``unparseable_timestamp``). Associations come from the raw row's context (see
:func:`first_association`); the list endpoint's inline ``associations`` are still expected as
optional, so either way of ingesting passes the drift check.
"""

from __future__ import annotations

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import CleansedEntity, Field
from cdp_platform.sources.hubspot.declaration import MODIFIED_DATE_PROPERTY

OBJECT_FIELDS: tuple[Field, ...] = (
    Field(
        "crm_id",
        "string",
        "$.id",
        required=True,
        json_type="string",
        description="The object's HubSpot id (`id`, also its hs_object_id property).",
        role="external_id",
        column=columns.identifier(),
    ),
    Field(
        "created_at",
        "timestamp",
        "$.createdAt",
        required=True,
        json_type="string",
        description="When the object was created in HubSpot (`createdAt`).",
    ),
    Field(
        "last_modified_at",
        "timestamp",
        "$.updatedAt",
        required=True,
        json_type="string",
        description="When a property of the object last changed in HubSpot (`updatedAt`).",
    ),
    Field(
        "archived",
        "boolean",
        "$.archived",
        description="Whether the object is archived, HubSpot's deleted state (`archived`).",
    ),
)

KEY_COLUMNS = ("record_id", "crm_id")


def object_envelope(object_type: str, associations: tuple[str, ...] = ()) -> dict[str, str]:
    """What every object's payload carries beside the properties its fields read: the properties
    HubSpot always returns (its creation and modification dates and id, copies of the envelope's
    ``createdAt``/``updatedAt``/``id``; the modification date is the one partitions search on) and
    the list endpoint's optional inline association lists (objects; their result arrays are not
    entered by drift detection)."""
    expected = {
        "properties.createdate": "string",
        f"properties.{MODIFIED_DATE_PROPERTY[object_type]}": "string",
        "properties.hs_object_id": "string",
        "associations": "object?",
    }
    for name in associations:
        expected[f"associations.{name}"] = "object?"
        expected[f"associations.{name}.results"] = "array?"
    return expected


def requested_properties(entity: CleansedEntity) -> tuple[str, ...]:
    """The properties a search asks for: those the entity's fields read, in field order, then the
    ones every object carries (:func:`object_envelope`), so the request and the drift check agree."""
    keys = [f.payload_key for f in entity.fields] + list(entity.envelope_payload or {})
    return tuple(
        dict.fromkeys(k.removeprefix("properties.") for k in keys if k and k.startswith("properties."))
    )


def property_path(name: str) -> str:
    """Where a property's value is in an object's payload."""
    return f"$.properties.{name}"


def first_association(name: str) -> str:
    """Where the first associated object's id is: search results carry no associations, so the
    raw layer reads them from the v4 batch endpoint and keeps them in the row's context as
    ``{"associations": {"contacts": ["<id>"], "companies": ["<id>"]}}``."""
    return f"context:$.associations.{name}[0]"

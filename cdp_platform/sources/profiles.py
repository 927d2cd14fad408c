"""The identifiers people have on the declared sources' networks (``profile_identifier``).

Identity resolution links on them, privacy hashes them, the cleansed layer and matching read a
handle typed as its profile URL: all of them take the list from here, so a network is added by
declaring its identifier in its folder, never by naming it in those modules.
"""

from __future__ import annotations

import re
from functools import cache

from cdp_platform.sources.declaration import ProfileIdentifier


@cache
def profile_identifiers() -> tuple[ProfileIdentifier, ...]:
    """Every declared network identifier: handles first, then platform user ids, each kind by
    priority (the order of the identity input's columns)."""
    # Imported here: the registry imports every source's folder, which may import the modules
    # reading this list.
    from cdp_platform.sources.registry import declarations

    found = [d.profile_identifier for d in declarations().values() if d.profile_identifier is not None]
    columns = [p.column for p in found]
    if len(set(columns)) != len(columns):
        raise ValueError(f"two sources declare the same profile identifier column: {sorted(columns)}")
    return tuple(sorted(found, key=lambda p: (p.kind != "handle", p.priority, p.column)))


@cache
def handle_columns() -> tuple[str, ...]:
    """The identity input columns holding a handle, by priority."""
    return tuple(p.column for p in profile_identifiers() if p.kind == "handle")


@cache
def profile_hosts_pattern() -> str | None:
    """A regex alternation of the hosts whose profile URLs end in a handle (``a\\.example|b\\.example``),
    or None when no network declares any (then there is no URL to strip)."""
    hosts = [host for p in profile_identifiers() for host in p.profile_hosts]
    return "|".join(re.escape(host) for host in dict.fromkeys(hosts)) or None

"""Twitter's cleansed entities."""

from cdp_platform.sources.twitter.cleansed import mentions

ENTITIES = (mentions.ENTITY,)

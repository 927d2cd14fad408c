"""Instagram's cleansed entities, in the order their assets are listed."""

from cdp_platform.sources.instagram.cleansed import media, media_comments

ENTITIES = (media.ENTITY, media_comments.ENTITY)

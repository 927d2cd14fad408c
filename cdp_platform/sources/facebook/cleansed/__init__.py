"""Facebook's cleansed entities, in the order their assets are listed."""

from cdp_platform.sources.facebook.cleansed import leads, page_posts, post_comments

ENTITIES = (leads.ENTITY, page_posts.ENTITY, post_comments.ENTITY)

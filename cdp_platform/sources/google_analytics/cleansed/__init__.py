"""GA4's cleansed entities."""

from cdp_platform.sources.google_analytics.cleansed import user_daily_activity

ENTITIES = (user_daily_activity.ENTITY,)

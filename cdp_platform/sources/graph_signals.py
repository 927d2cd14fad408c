"""What the Graph API's answers signal, as data for the generic mechanisms: its error codes (for
the classifier, :class:`ErrorRule`) and the fields of its usage headers (for the
``usage_percent`` pacer).

Every source speaking Graph declares these (``SourceDeclaration.errors``, ``Quota.settings``): the
protocol's vocabulary, not one source's, so it lives beside the protocol's other shared mechanisms
(:mod:`.graph`, :mod:`.graph_auth`). Graph wraps errors as
``{"error": {message, type, code, fbtrace_id}}``.
"""

from cdp_platform.http.errors import ErrorRule

# The Graph sources call as one app, whose hourly usage they share: one pacer spends it.
GRAPH_APP_BUDGET = "graph_app"

# Throttling: application, user, page and custom rate limits, and the business use case range.
THROTTLE_CODES = (4, 17, 32, 613, *range(80001, 80015))
# The access token expired (or was invalidated): renew it (``GraphTokenAuth`` exchanges it).
EXPIRED_TOKEN_CODE = 190

GRAPH_ERRORS = (
    ErrorRule("throttled", equals={"error.code": THROTTLE_CODES}),
    ErrorRule("expired_credentials", equals={"error.code": (EXPIRED_TOKEN_CODE,)}),
)

# The business use case usage header lists entries per business; each holds these percentages and
# the minutes until a throttled app regains access. (The app and page usage headers are flat
# objects of percentages, read as they are.)
USAGE_SETTINGS = {
    "usage_fields": ("call_count", "total_cputime", "total_time"),
    "regain_field": "estimated_time_to_regain_access",
}

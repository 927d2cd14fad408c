"""The Graph API's error vocabulary, as data for the generic classifier (:class:`ErrorRule`).

Every source speaking Graph declares these (``SourceDeclaration.errors``): the protocol's codes,
not one source's, so they live beside the protocol's other shared mechanisms (:mod:`.graph`,
:mod:`.graph_auth`). Graph wraps errors as ``{"error": {message, type, code, fbtrace_id}}``.
"""

from cdp_platform.http.errors import ErrorRule

# Throttling: application, user, page and custom rate limits, and the business use case range.
THROTTLE_CODES = (4, 17, 32, 613, *range(80001, 80015))
# The access token expired (or was invalidated): renew it (``GraphTokenAuth`` exchanges it).
EXPIRED_TOKEN_CODE = 190

GRAPH_ERRORS = (
    ErrorRule("throttled", equals={"error.code": THROTTLE_CODES}),
    ErrorRule("expired_credentials", equals={"error.code": (EXPIRED_TOKEN_CODE,)}),
)

"""Stripe, the web shop's payments: everything about the source lives in this folder.

- :mod:`.declaration`: the source as data (streams, window, paging, credential, schedule);
- :mod:`.source`: the resource (API key, pacing), the ``starting_after`` paginator and the streams
  (customers with their ``customer.updated`` events, charges, refunds);
- :mod:`.cleansed`: the cleansed entities (amounts by the currency's exponent, Pandera checks).
"""

from cdp_platform.sources.stripe.source import STREAMS, StripeResource, StripeStartingAfter

__all__ = ["STREAMS", "StripeResource", "StripeStartingAfter"]

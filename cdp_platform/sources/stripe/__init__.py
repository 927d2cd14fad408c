"""Stripe, the web shop's payments: everything about the source lives in this folder.

- :mod:`.source`: the resource (API key, pacing), the ``starting_after`` paginator and the streams
  (customers with their ``customer.updated`` events, charges, refunds);
- :mod:`.entities`: the cleansed entities (amounts by the currency's exponent, Pandera checks).

Kept free of imports so the cleansed registry can read the entities without loading the raw
layer (which itself reads the cleansed registry).
"""

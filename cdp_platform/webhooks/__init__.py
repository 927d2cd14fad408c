"""Vendor webhooks, near real time: a receiver that verifies and enqueues, a durable kombu queue,
and a Dagster sensor that lands the events in ``raw/<source>/webhook_events``.

Mechanisms (signature schemes, handshakes, body shapes) are named by what they do; which vendor
uses which is declared in each source's folder (``sources/<vendor>/webhook.py``), collected by
:mod:`cdp_platform.webhooks.vendor_specs`.
"""

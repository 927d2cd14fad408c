"""Privacy: keyed hashing of identifiers, erasure requests (GDPR Art. 17, CCPA deletion), the
suppression list consulted at ingestion, and the audit log of what was erased.

``hashing`` is the shared base: every other module (and pseudonymization) derives the same keyed
hash of the same identifier, so a hash in the audit log, the suppression list or a pseudonymized
column can be matched without ever storing the value.
"""

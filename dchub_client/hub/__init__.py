"""The hub client: mirrors, fetching, the verified cache, trust, name resolution and export.

Builds on :mod:`dchub_client.format`; never imports :mod:`dchub_client.models` (a hub client
moves bytes and never builds models).
"""

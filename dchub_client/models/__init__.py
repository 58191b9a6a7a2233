"""Models: the weights interface, the allowlist, constructor recording, pipelines and adapters.

Builds on :mod:`dchub_client.format`. Reaches the hub in exactly one place: a name that is not
a local folder is handed to :func:`dchub_client.hub.resolve.resolve_pretrained` by
:func:`dchub_client.models.interface.locate`.
"""

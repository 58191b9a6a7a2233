"""The formats dchub reads and writes, and nothing else.

The bottom layer: pretrained folders (``params.json`` + ``.npy``), the hub's metadata files
(``index.json``, manifests, ``SHA256SUMS``), model cards, strict JSON, hashing and atomic files.
It imports no other part of dchub (only :mod:`dchub_client.constants` and
:mod:`dchub_client.errors`), so :mod:`dchub_client.models`, :mod:`dchub_client.hub` and
``hubgen`` share one definition of every file.
"""

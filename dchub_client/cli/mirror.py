"""``dchub mirror [HUB:]NAME... --to DIR``: copy models into a folder that is itself a hub."""
from __future__ import annotations

import argparse

from dchub_client import terminal
from dchub_client.cli._common import hub_of
from dchub_client.errors import ConfigError
from dchub_client.hub.cache import Cache
from dchub_client.hub.export import export_models
from dchub_client.hub.resolve import parse_model_ref
from dchub_client.humanize import human_size


def run(args: argparse.Namespace) -> int:
    cache = Cache()
    chosen = {hub_of(parse_model_ref(spec), cache) for spec in args.specs}
    if len(chosen) != 1:
        raise ConfigError("dchub mirror copies from one hub at a time; the models named come from "
                          + ", ".join(sorted(h.alias for h in chosen)))
    summary = export_models(args.specs, args.to, chosen.pop(), all_versions=args.all_versions, cache=cache,
                            progress=terminal.shows_progress(args.quiet))
    print(f"{summary.dest}: {', '.join(summary.versions)} ({summary.blobs_written} blobs, "
          f"{human_size(summary.bytes_written)} written)")
    print(f"use it with DEEPCHEM_MODEL_HUB={summary.dest.resolve()}")
    return 0

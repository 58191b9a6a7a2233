"""``hubgen serve DIR [--port N] [--base /sub/]``."""
from __future__ import annotations

import argparse
import logging

from dchub_client.format import layout
from hubgen.serve import HubServer, make_server

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` command."""
    parser = subparsers.add_parser("serve", help="preview a built hub on http://127.0.0.1",
                                   description="Serve a built hub (and its catalogue site) on 127.0.0.1 only.")
    parser.add_argument("directory", metavar="DIR", help="the hub folder (hubgen build --out DIR)")
    parser.add_argument("--port", "-p", type=int, default=8000, help="0 picks a free port (default: %(default)s)")
    parser.add_argument("--base", default="/", metavar="/SUB/",
                        help="URL path to serve the hub under, e.g. /myhub/ like a GitHub Pages project site")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``hubgen serve`` until interrupted; print the URL to browse."""
    server = make_server(args.directory, port=args.port, base=args.base)
    print(_banner(server), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _banner(server: HubServer) -> str:
    """What is served where, and how to load from it; a warning when the folder is nothing dchub can load."""
    root, url = server.root, server.url
    load = f"Load its models with: export DEEPCHEM_MODEL_HUB={url}"
    if (root / layout.INDEX_FILE).is_file():
        page = url + layout.SITE_INDEX if (root / layout.SITE_INDEX).is_file() else url
        return f"Serving {root} at {page} (Ctrl+C to stop)\n{load}"
    if any(root.glob(f"*/{layout.PARAMS_FILE}")):
        return f"Serving the plain folder of models {root} at {url} (no catalogue; Ctrl+C to stop)\n{load} (by name)"
    logger.warning("%s holds no %s, so it is not a hub (`hubgen build hub_manifest.yaml --out DIR` makes one), and "
                   "no <name>/%s, so it is not a plain folder of models either: dchub cannot load models from it",
                   root, layout.INDEX_FILE, layout.PARAMS_FILE)
    return f"Serving {root} at {url} (Ctrl+C to stop)"

"""``hubgen serve DIR [--port N] [--base /sub/]``."""
from __future__ import annotations

import argparse

from hubgen.serve import make_server


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
    print(f"Serving {server.root} at {server.url}index.html (Ctrl+C to stop)\n"
          f"Load its models with: export DEEPCHEM_MODEL_HUB={server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0

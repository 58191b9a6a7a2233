"""Helpers for the client tests: small pretrained folders (random arrays, no framework), hubs built
by hubgen, and a real threaded HTTP server on 127.0.0.1 that can inject faults."""
from __future__ import annotations

import collections
import functools
import http.server
import threading
import time
from pathlib import Path

import numpy as np

from dchub_client.format.pretrained import write_pretrained


def make_folder(folder: Path, *, seed: int = 0, n_weights: int = 2, size: int = 64) -> Path:
    """A pretrained folder with *n_weights* random float32 arrays of *size* elements and a card."""
    rng = np.random.default_rng(seed)
    weights = [(f"toy-dense.{i}-0", f"dense{i}.weight", rng.standard_normal(size).astype("<f4"))
               for i in range(n_weights)]
    write_pretrained(folder, class_name="tests.Toy", framework="numpy", parameters={"seed": seed},
                     weights=weights, files={"README.md": f"# toy {seed}\n".encode()})
    return folder


def build_hub(tmp_path: Path, models: dict[tuple[str, str], Path], *, part_size: int | None = None,
              out: str = "hub", **options: object) -> Path:
    """Build a hub with hubgen from pretrained folders (``models[(name, version)] = folder``);
    *options* go to :func:`hubgen.build.build_hub` (e.g. ``sign_keys``)."""
    from hubgen.build import build_hub as hubgen_build

    lines = ["name: test-hub", "title: Test hub", "models:"]
    for (name, version), folder in models.items():
        lines += [f"  - name: {name}", f'    version: "{version}"', f"    path: {folder}",
                  "    card:", f"      description: toy model {name}", "      license: MIT"]
    yaml_path = tmp_path / f"{out}.yaml"
    yaml_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    hubgen_build(yaml_path, tmp_path / out, part_size=part_size, **options)  # type: ignore[arg-type]
    return tmp_path / out


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``server.faults`` maps a path prefix to ``404``, ``500``, ``corrupt``, ``slow`` or ``hang``."""

    def log_message(self, *args: object) -> None:
        pass

    def _fault(self) -> str | None:
        path = self.path.lstrip("/")
        self.server.hits[path] += 1  # type: ignore[attr-defined]
        for prefix, fault in self.server.faults.items():  # type: ignore[attr-defined]
            if path.startswith(prefix):
                return fault
        return None

    def do_GET(self) -> None:
        fault = self._fault()
        if fault == "hang":  # accept the request, answer nothing until the client has given up
            time.sleep(1.5)
            return
        if fault in ("404", "500"):
            self.send_error(int(fault))
            return
        if fault is None:
            super().do_GET()
            return
        source = self.translate_path(self.path)
        data = Path(source).read_bytes()
        if fault == "corrupt":
            data = bytes([data[0] ^ 0xFF]) + data[1:] if data else b"x"
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        step = 64 << 10
        for i in range(0, len(data), step):
            if fault == "slow":
                time.sleep(0.05)
            try:
                self.wfile.write(data[i:i + step])
            except OSError:
                return


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops SYNs of parallel clients (a 1 s retry each)


class HubServer:
    """A threaded HTTP server on 127.0.0.1 serving *root* (subclasses may set another ``handler_class``)."""

    handler_class: type[http.server.SimpleHTTPRequestHandler] = _Handler

    def __init__(self, root: Path, faults: dict[str, str] | None = None) -> None:
        handler = functools.partial(self.handler_class, directory=str(root))
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.faults = dict(faults or {})  # type: ignore[attr-defined]
        self.httpd.hits = collections.Counter()  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    @property
    def faults(self) -> dict[str, str]:
        return self.httpd.faults  # type: ignore[attr-defined]

    @property
    def hits(self) -> collections.Counter:
        return self.httpd.hits  # type: ignore[attr-defined]

    def blob_hits(self) -> int:
        return sum(n for p, n in self.hits.items() if p.startswith("blobs/"))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

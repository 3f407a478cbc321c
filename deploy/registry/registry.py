#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small in-memory Schema Registry speaking the Confluent REST API, for levcal's tests.

Why this and not Apicurio or Karapace: see deploy/registry/README.md (in
short: Karapace is no longer on PyPI, and Apicurio Registry's application
cannot be assembled from what Maven Central serves here; no other
Confluent-compatible registry installs from the registries this project
may use). This server implements the part of the API that registry-aware
clients use, with the answers and status codes of Confluent Schema Registry:

    GET  /                                  {}
    GET  /schemas/ids/{id}                  {"schema": ...} (+ "schemaType" unless AVRO)
    GET  /schemas/ids/{id}/versions         [{"subject", "version"}]
    GET  /schemas/types                     ["AVRO"]
    GET  /subjects                          [...]
    GET  /subjects/{s}/versions             [1, 2, ...]
    GET  /subjects/{s}/versions/{v|latest}  {"subject", "id", "version", "schema"}
    POST /subjects/{s}/versions             {"id"} (the same id for the same schema)
    POST /subjects/{s}                      {"subject", "id", "version", "schema"} or 40403
    GET|PUT /config[/{s}]                   {"compatibilityLevel": "NONE"} (no checks made)

Ids are global and dense from 1; a schema is the same schema when its JSON
is equal after parsing (whitespace and key order do not matter). With
--state FILE the registry survives a restart (tests stop and start it
mid-run); with --user/--password every request needs that basic auth; with
--tls-cert/--tls-key it serves HTTPS.

    registry.py --port 0 --url-file DIR/url --state DIR/state.json
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

CT = "application/vnd.schemaregistry.v1+json"


class Store:
    def __init__(self, path: str | None):
        self.path = path
        self.lock = threading.Lock()
        self.schemas: list[dict] = []  # index id-1: {"schema", "schemaType"}
        self.subjects: dict[str, list[int]] = {}  # subject -> ids by version
        if path and os.path.exists(path):
            with open(path) as f:
                data = json.load(f)
            self.schemas = data["schemas"]
            self.subjects = data["subjects"]

    def _save(self) -> None:
        if self.path:
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"schemas": self.schemas, "subjects": self.subjects}, f)
            os.replace(tmp, self.path)

    @staticmethod
    def _same(a: dict, b: dict) -> bool:
        if a.get("schemaType", "AVRO") != b.get("schemaType", "AVRO"):
            return False
        try:
            return json.loads(a["schema"]) == json.loads(b["schema"])
        except ValueError:
            return a["schema"] == b["schema"]

    def register(self, subject: str, entry: dict) -> int:
        with self.lock:
            sid = next((i + 1 for i, s in enumerate(self.schemas) if self._same(s, entry)), None)
            if sid is None:
                self.schemas.append(entry)
                sid = len(self.schemas)
            versions = self.subjects.setdefault(subject, [])
            if sid not in versions:
                versions.append(sid)
            self._save()
            return sid

    def lookup(self, subject: str, entry: dict) -> tuple[int, int] | None:
        with self.lock:
            for v, sid in enumerate(self.subjects.get(subject, []), start=1):
                if self._same(self.schemas[sid - 1], entry):
                    return sid, v
        return None


def make_handler(store: Store, auth: str | None):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # one line per request on stderr
            sys.stderr.write("registry: %s %s\n" % (self.address_string(), fmt % args))

        def _send(self, status: int, body) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", CT)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: int, message: str) -> None:
            self._send(status, {"error_code": code, "message": message})

        def _body(self) -> dict | None:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n > 0 else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return None
            return body if isinstance(body, dict) else None

        def _authorized(self) -> bool:
            if auth is None:
                return True
            if self.headers.get("Authorization") == auth:
                return True
            self._error(401, 40101, "Unauthorized")
            return False

        def _parts(self) -> list[str]:
            return [unquote(p) for p in urlsplit(self.path).path.split("/") if p]

        def do_GET(self):  # noqa: N802
            if not self._authorized():
                return
            p = self._parts()
            if not p:
                return self._send(200, {})
            if p == ["schemas", "types"]:
                return self._send(200, ["AVRO"])
            if p[:2] == ["schemas", "ids"] and len(p) in (3, 4) and p[2].isdigit():
                sid = int(p[2])
                if not 1 <= sid <= len(store.schemas):
                    return self._error(404, 40403, f"Schema {sid} not found")
                if len(p) == 4 and p[3] == "versions":
                    return self._send(200, [{"subject": s, "version": v}
                                            for s, ids in store.subjects.items()
                                            for v, i in enumerate(ids, start=1) if i == sid])
                entry = store.schemas[sid - 1]
                body = {"schema": entry["schema"]}
                if entry.get("schemaType", "AVRO") != "AVRO":
                    body["schemaType"] = entry["schemaType"]
                return self._send(200, body)
            if p == ["subjects"]:
                return self._send(200, sorted(store.subjects))
            if p[0] == "subjects" and len(p) >= 3 and p[2] == "versions":
                ids = store.subjects.get(p[1])
                if ids is None:
                    return self._error(404, 40401, f"Subject '{p[1]}' not found.")
                if len(p) == 3:
                    return self._send(200, list(range(1, len(ids) + 1)))
                v = len(ids) if p[3] == "latest" else int(p[3]) if p[3].isdigit() else 0
                if not 1 <= v <= len(ids):
                    return self._error(404, 40402, f"Version {p[3]} not found.")
                sid = ids[v - 1]
                return self._send(200, {"subject": p[1], "id": sid, "version": v,
                                        "schema": store.schemas[sid - 1]["schema"]})
            if p[0] == "config":
                return self._send(200, {"compatibilityLevel": "NONE"})
            return self._error(404, 404, "HTTP 404 Not Found")

        def do_PUT(self):  # noqa: N802
            if not self._authorized():
                return
            body = self._body() or {}
            if self._parts()[:1] == ["config"]:
                return self._send(200, {"compatibility": body.get("compatibility", "NONE")})
            return self._error(404, 404, "HTTP 404 Not Found")

        def do_POST(self):  # noqa: N802
            if not self._authorized():
                return
            p = self._parts()
            body = self._body()
            if len(p) < 2 or p[0] != "subjects":
                return self._error(404, 404, "HTTP 404 Not Found")
            if body is None or not isinstance(body.get("schema"), str):
                return self._error(422, 42201, "Either the input schema or one of its references is invalid")
            entry = {"schema": body["schema"], "schemaType": body.get("schemaType", "AVRO")}
            if entry["schemaType"] == "AVRO":
                try:
                    json.loads(entry["schema"])
                except ValueError:
                    return self._error(422, 42201, "Invalid schema")
            if len(p) == 3 and p[2] == "versions":
                return self._send(200, {"id": store.register(p[1], entry)})
            if len(p) == 2:
                if p[1] not in store.subjects:
                    return self._error(404, 40401, f"Subject '{p[1]}' not found.")
                found = store.lookup(p[1], entry)
                if found is None:
                    return self._error(404, 40403, "Schema not found")
                sid, v = found
                return self._send(200, {"subject": p[1], "id": sid, "version": v,
                                        "schema": store.schemas[sid - 1]["schema"]})
            return self._error(404, 404, "HTTP 404 Not Found")

    return Handler


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("--url-file", help="write http://HOST:PORT here once listening")
    ap.add_argument("--state", help="JSON file that keeps the schemas across restarts")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--tls-cert", help="PEM certificate: serve HTTPS")
    ap.add_argument("--tls-key", help="PEM key of --tls-cert")
    args = ap.parse_args()
    auth = None
    if args.user is not None:
        token = base64.b64encode(f"{args.user}:{args.password or ''}".encode()).decode()
        auth = f"Basic {token}"
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((args.host, args.port), make_handler(Store(args.state), auth))
    scheme = "http"
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        scheme = "https"
    url = f"{scheme}://{args.host}:{srv.server_address[1]}"
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    if args.url_file:
        tmp = args.url_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(url + "\n")
        os.replace(tmp, args.url_file)
    sys.stderr.write(f"registry: listening on {url}\n")
    sys.stderr.flush()
    srv.serve_forever()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

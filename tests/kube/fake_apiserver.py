#!/usr/bin/env python3
"""A small Kubernetes API server for nosnat's tests: the real JSON shapes of
Service, EndpointSlice and Node lists, LIST and WATCH (resourceVersion,
bookmarks, 410 Gone after compaction), bearer-token auth, and faults on
demand. Control it over plain HTTP on 127.0.0.1:CTL_PORT:

  POST /put     {"kind": "services|endpointslices|nodes", "object": {...}}
  POST /delete  {"kind": ..., "namespace": ..., "name": ...}
  POST /token   {"token": "..."}          accept only this token from now on
  POST /bulk    {"kind": K, "objects": [...]}  load many at once (benchmarks)
  POST /compact                           forget history: old resourceVersions get 410
  POST /fault   {"fault": "drop|stall|gone|garbage|huge|missing", "seconds": N}
  GET  /stats                             requests seen, by kind of request

Clients authenticate with the bearer token or with a client certificate
signed by CLIENT_CA whose CN is "nosnat-client".

Usage: fake_apiserver.py ADDR PORT CTL_PORT CERT KEY TOKEN CLIENT_CA
"""
import json
import re
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

ADDR, PORT, CTL_PORT, CERT, KEY, TOKEN, CLIENT_CA = sys.argv[1:8]
PORT, CTL_PORT = int(PORT), int(CTL_PORT)

lock = threading.Condition()
state = {"services": {}, "endpointslices": {}, "nodes": {}}
events = []          # (rv, kind, type, object)
rv = 100
oldest_rv = 0        # watches from before this get 410
token = TOKEN
faults = []          # pending faults for open watches: dicts
stats = {"list": 0, "watch": 0, "unauthorized": 0, "pages": 0, "unpaged_lists": 0}

LIST_KIND = {"services": ("ServiceList", "v1"), "nodes": ("NodeList", "v1"),
             "endpointslices": ("EndpointSliceList", "discovery.k8s.io/v1")}


def key(obj):
    md = obj.get("metadata", {})
    return (md.get("namespace", ""), md.get("name", ""))


def matches(kind, obj, ns, q):
    md = obj.get("metadata", {})
    if ns is not None and md.get("namespace") != ns:
        return False
    for sel in q.get("fieldSelector", []):
        k, v = sel.split("=", 1)
        if k == "metadata.name" and md.get("name") != v:
            return False
    for sel in q.get("labelSelector", []):
        k, v = sel.split("=", 1)
        if md.get("labels", {}).get(k) != v:
            return False
    return True


def route(path):
    m = re.fullmatch(r"/api/v1/nodes", path)
    if m:
        return "nodes", None
    m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/services", path)
    if m:
        return "services", m.group(1)
    m = re.fullmatch(r"/apis/discovery.k8s.io/v1/namespaces/([^/]+)/endpointslices", path)
    if m:
        return "endpointslices", m.group(1)
    return None, None


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def status(self, code, reason, message):
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "message": message, "reason": reason, "code": code}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlparse(self.path)
        q = {k: [unquote(x) for x in v] for k, v in parse_qs(u.query).items()}
        kind, ns = route(u.path)
        peer = self.connection.getpeercert() or {}
        cn = [v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"]
        if self.headers.get("Authorization") != f"Bearer {token}" and cn != ["nosnat-client"]:
            with lock:
                stats["unauthorized"] += 1
            return self.status(401, "Unauthorized", "Unauthorized")
        if not kind:
            return self.status(404, "NotFound", "not found")
        if q.get("watch", ["0"])[0] in ("1", "true"):
            return self.watch(kind, ns, q)
        with lock:
            stats["list"] += 1
            items = [o for o in state[kind].values() if matches(kind, o, ns, q)]
            md = {"resourceVersion": str(rv)}
            # pages, as the API server serves them: limit, then continue
            # tokens (here "RV:offset"; a page keeps its first page's RV)
            limit = int(q.get("limit", ["0"])[0] or 0)
            cont = q.get("continue", [""])[0]
            if limit:
                stats["pages"] += 1
                start = 0
                if cont:
                    crv, off = cont.split(":")
                    md["resourceVersion"], start = crv, int(off)
                items = sorted(items, key=lambda o: key(o))
                page = items[start:start + limit]
                if start + limit < len(items):
                    md["continue"] = f"{md['resourceVersion']}:{start + limit}"
                items = page
            else:
                stats["unpaged_lists"] += 1
            body = {"kind": LIST_KIND[kind][0], "apiVersion": LIST_KIND[kind][1],
                    "metadata": md, "items": items}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def send_line(self, obj):
        self.wfile.write((json.dumps(obj) + "\n").encode())
        self.wfile.flush()

    def watch(self, kind, ns, q):
        since = int(q.get("resourceVersion", ["0"])[0] or 0)
        timeout = int(q.get("timeoutSeconds", ["300"])[0])
        end = time.time() + timeout
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        with lock:
            stats["watch"] += 1
            gone = since < oldest_rv
            seen_faults = len(faults)
        if gone:
            self.send_line({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
                            "status": "Failure", "reason": "Expired", "code": 410,
                            "message": "too old resource version"}})
            return
        last_bookmark = time.time()
        try:
            while time.time() < end:
                with lock:
                    pending = [e for e in events if e[0] > since and e[1] == kind
                               and matches(kind, e[3], ns, q)]
                    new_faults = faults[seen_faults:]
                    seen_faults = len(faults)
                    cur = rv
                for f in new_faults:
                    if f["fault"] == "drop":
                        return
                    if f["fault"] == "stall":
                        time.sleep(f.get("seconds", 5))
                        return
                    if f["fault"] == "gone":
                        self.send_line({"type": "ERROR", "object": {"kind": "Status", "code": 410,
                                        "reason": "Expired", "status": "Failure"}})
                        return
                    if f["fault"] == "garbage":
                        self.wfile.write(b"{this is not json\n")
                    if f["fault"] == "missing":
                        self.send_line({"type": "ADDED", "object": {"spec": {}}})
                        self.send_line({"type": "MODIFIED"})
                    if f["fault"] == "huge":
                        self.wfile.write(b'{"type":"ADDED","object":{"x":"' + b"y" * (20 << 20) + b'"}}\n')
                for e in pending:
                    since = e[0]
                    self.send_line({"type": e[2], "object": e[3]})
                if time.time() - last_bookmark >= 1:
                    last_bookmark = time.time()
                    bm = {"kind": {"services": "Service", "nodes": "Node",
                                   "endpointslices": "EndpointSlice"}[kind],
                          "metadata": {"resourceVersion": str(cur)}}
                    self.send_line({"type": "BOOKMARK", "object": bm})
                    since = max(since, cur)
                with lock:
                    lock.wait(0.2)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return


class Ctl(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, obj, code=200):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with lock:
            self.reply(dict(stats, rv=rv))

    def do_POST(self):
        global rv, token, oldest_rv
        n = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(n) or b"{}")
        with lock:
            if self.path == "/put":
                kind, obj = body["kind"], body["object"]
                rv += 1
                obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
                typ = "MODIFIED" if key(obj) in state[kind] else "ADDED"
                state[kind][key(obj)] = obj
                events.append((rv, kind, typ, obj))
            elif self.path == "/bulk":    # many objects at once, no events (before any list)
                for obj in body["objects"]:
                    rv += 1
                    obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
                    state[body["kind"]][key(obj)] = obj
            elif self.path == "/delete":
                kind = body["kind"]
                obj = state[kind].pop((body.get("namespace", ""), body["name"]), None)
                if obj:
                    rv += 1
                    obj["metadata"]["resourceVersion"] = str(rv)
                    events.append((rv, kind, "DELETED", obj))
            elif self.path == "/token":
                token = body["token"]
            elif self.path == "/compact":
                rv += 1
                oldest_rv = rv
                events.clear()
            elif self.path == "/fault":
                faults.append(body)
            else:
                return self.reply({"error": "unknown"}, 404)
            lock.notify_all()
            self.reply({"rv": rv})


def serve_api():
    srv = ThreadingHTTPServer((ADDR, PORT), Api)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    ctx.load_verify_locations(CLIENT_CA)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


def serve_ctl():
    srv = ThreadingHTTPServer(("127.0.0.1", CTL_PORT), Ctl)
    srv.daemon_threads = True
    srv.serve_forever()


threading.Thread(target=serve_api, daemon=True).start()
serve_ctl()

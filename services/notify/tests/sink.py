#!/usr/bin/env python3
"""A webhook receiver for the notify tests, on loopback only.

    sink.py DIR SECRETS_FILE

Listens on 127.0.0.1 (a free port, written to DIR/port). Every POST is appended to
DIR/requests.jsonl as {"path", "event_id", "type", "webhook_id", "timestamp", "sig_ok", "body"},
where sig_ok is the signature check exactly as docs/notify.md tells a receiver to do it:
HMAC-SHA256 with the webhook's secret (SECRETS_FILE: lines "<path> <secret>") over
"<Webhook-Timestamp>.<raw body>", hex, compared with the "v1=" value of Webhook-Signature.
A path with a file DIR/fail<path with / as _> holding N > 0 answers 500 and counts N down; with
a file DIR/delay<path with / as _> holding S, every answer on that path waits S seconds.
"""
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR, SECRETS = sys.argv[1], sys.argv[2]
lock = threading.Lock()


def secret_for(path):
    try:
        with open(SECRETS) as f:
            for line in f:
                p, _, s = line.strip().partition(" ")
                if p == path:
                    return s
    except OSError:
        pass
    return None


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        ts = self.headers.get("Webhook-Timestamp", "")
        sig = self.headers.get("Webhook-Signature", "")
        secret = secret_for(self.path)
        ok = False
        if secret is not None and sig.startswith("v1="):
            want = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(want, sig[3:])
        status = 200
        df = os.path.join(DIR, "delay" + self.path.replace("/", "_"))
        if os.path.exists(df):
            time.sleep(float(open(df).read().strip() or 0))
        with lock:
            ff = os.path.join(DIR, "fail" + self.path.replace("/", "_"))
            if os.path.exists(ff):
                left = int(open(ff).read().strip() or 0)
                if left > 0:
                    status = 500
                    open(ff, "w").write(str(left - 1))
            rec = {"path": self.path, "status": status,
                   "event_id": self.headers.get("Event-Id"),
                   "type": self.headers.get("Event-Type"),
                   "webhook_id": self.headers.get("Webhook-Id"),
                   "timestamp": ts, "sig_ok": ok,
                   "authorization": self.headers.get("Authorization"),
                   "idempotency_key": self.headers.get("Idempotency-Key"), "body": json.loads(body or b"null")}
            with open(os.path.join(DIR, "requests.jsonl"), "a") as f:
                f.write(json.dumps(rec) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
srv.serve_forever()

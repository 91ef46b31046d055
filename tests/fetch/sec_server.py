#!/usr/bin/env python3
"""A stand-in for the SEC's web servers on loopback, for the fetch and sync tests.

Serves the files below --root by their URL path (Archives/edgar/daily-index/..., submissions/...,
api/xbrl/companyfacts/...) the way the SEC's servers do: ETag and Last-Modified, 304 for a
matching If-None-Match or If-Modified-Since, 206 for `Range: bytes=N-` (200 when If-Range names
another version), 404 for what it does not hold. Every request is logged to --log as one JSON
object per line: {"t": monotonic seconds, "path", "user_agent", "range", "if_range",
"if_none_match", "status"}, so a test can check the User-Agent of every request and the request
rate the client kept.

It misbehaves on request: `PUT /__faults` with a JSON body {"/url/path": ["fault", ...]} queues
faults for a path, one taken per request to it:
  "429:S"       429 Too Many Requests with Retry-After: S
  "503"         503 Service Unavailable
  "403"         the SEC's block page ("Request Rate Threshold Exceeded")
  "drop:N"      a 200 that announces the whole file and closes the connection after N bytes
  "truncate:N"  a complete 200 response of the file's first N bytes
  "slow:S"      the file, sleeping S seconds after every 64 KiB
  "plain"       the file without ETag and Last-Modified (a mirror that sends no validators);
                "plain+FAULT" the same with another fault (plain+drop:N)

Usage: sec_server.py --root DIR --log FILE   (prints "PORT <n>" once listening on 127.0.0.1)
"""
import argparse
import email.utils
import hashlib
import http.server
import json
import os
import sys
import threading
import time

BLOCK_PAGE = (b"<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title></head><body>"
              b"<h1>Your Request Originates from an Undeclared Automated Tool</h1><p>Request Rate Threshold "
              b"Exceeded</p></body></html>")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."
    log_file = None
    lock = threading.Lock()
    faults = {}

    def log_message(self, *args):  # the JSONL log is the record
        pass

    def record(self, status):
        with Handler.lock:
            Handler.log_file.write(json.dumps({
                "t": time.monotonic(), "path": self.path, "user_agent": self.headers.get("User-Agent"),
                "range": self.headers.get("Range"), "if_range": self.headers.get("If-Range"),
                "if_none_match": self.headers.get("If-None-Match"), "status": status}) + "\n")
            Handler.log_file.flush()

    def do_PUT(self):
        if self.path != "/__faults":
            self.send_error(405)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Handler.lock:
            for path, queue in json.loads(body).items():
                Handler.faults[path] = list(queue)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def reply(self, status, body=b"", headers=()):
        self.record(status)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        with Handler.lock:
            queue = Handler.faults.get(self.path.split("?")[0])
            fault = queue.pop(0) if queue else None
        plain = bool(fault) and fault.startswith("plain")
        if plain:
            fault = fault[len("plain+"):] or None
        path = os.path.join(Handler.root, self.path.split("?")[0].lstrip("/"))
        if fault and fault.startswith("429:"):
            return self.reply(429, b"slow down", [("Retry-After", fault[4:])])
        if fault == "503":
            return self.reply(503, b"unavailable")
        if fault == "403":
            return self.reply(403, BLOCK_PAGE, [("Content-Type", "text/html")])
        if not os.path.isfile(path):
            return self.reply(404, b"not found")
        with open(path, "rb") as f:
            data = f.read()
        etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
        modified = email.utils.formatdate(os.path.getmtime(path), usegmt=True)
        validators = [] if plain else [("ETag", etag), ("Last-Modified", modified)]
        if self.headers.get("If-None-Match") == etag or (
                self.headers.get("If-None-Match") is None and self.headers.get("If-Modified-Since") == modified):
            return self.reply(304, b"", validators)
        status, start = 200, 0
        wanted = self.headers.get("Range")
        if wanted and wanted.startswith("bytes=") and wanted.endswith("-") and (
                self.headers.get("If-Range") in (None, etag)):
            start = int(wanted[6:-1])
            if start >= len(data):
                return self.reply(416, b"", [("Content-Range", f"bytes */{len(data)}")])
            status = 206
        if fault and fault.startswith("truncate:"):
            data = data[:int(fault[9:])]
        body = data[start:]
        self.record(status)
        self.send_response(status)
        for name, value in validators:
            self.send_header(name, value)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault and fault.startswith("drop:"):
            self.wfile.write(body[:int(fault[5:])])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        pause = float(fault[5:]) if fault and fault.startswith("slow:") else 0
        for at in range(0, len(body), 65536):
            self.wfile.write(body[at:at + 65536])
            if pause:
                self.wfile.flush()
                time.sleep(pause)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    Handler.root = args.root
    Handler.log_file = open(args.log, "a", encoding="utf-8")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A local fake of the two RapidAPI data providers (SEED-SYSTEM.md appendix A).

  POST /ig_get_fb_profile.php   form username_or_url=<u>
  POST /get_ig_user_reels.php   form username_or_url=<u>&count=N[&max_id=<token>]
  GET  /get_media_data.php?reel_post_code_or_url=<url>&type=reel
  GET  /transcript?url=<https://www.instagram.com/p/<code>/>&chunkSize=500&text=false

Data comes from the deterministic model in scripts/gen_fixtures.py, so any
username is "known" (unless FAKE_KNOWN lists the known ones). Listens on
127.0.0.1, port 0 (or --port), and prints the port on stdout when ready.

Failure injection, per username, three ways:
  * a prefix on the username: "<mode>[x<N>]__<name>", e.g. e429x2__bob (the
    first 2 requests of bob get 429, then normal answers), e503__bob (always
    503), slowx3000__bob (every answer delayed 3000 ms);
  * env FAKE_FAIL="user:mode[:N[:path]],..." at start;
  * POST /_control {"username": u, "mode": m, "count": N, "arg": A, "path": p}
    at run time; {"username": u, "clear": true} ends u's failures (the
    provider recovered); {"username": u, "add_reels": K} makes K newer reels
    appear; {"reset": true} clears everything. GET /_stats returns request counters.
Modes: e404 (user not found), private, e429 (Retry-After: arg or 1), e500,
e502, e503, reset (TCP RST, no answer), truncated (JSON cut in half),
malformed (not JSON), huge (arg bytes, default 16 MiB, no Content-Length),
slow (answer after arg ms, default 5000), drip (one byte per arg ms,
default 200). N is how many requests fail before normal answers (default:
all); for slow/drip the number after x is the argument (ms) instead.
Other env: FAKE_KEY (required x-rapidapi-key, default: any non-empty),
FAKE_PAGE_SIZE (reels per page, default 12), FAKE_REELS (reels per account,
default: the model's 12-30).
"""

import argparse
import json
import os
import re
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "..", "scripts"), os.path.join(HERE, "..")]
import fake_server  # noqa: E402
import gen_fixtures as model  # noqa: E402

SCRAPER_HOST = "instagram-scraper-stable-api.p.rapidapi.com"
TRANSCRIPT_HOST = "instagram-transcripts.p.rapidapi.com"
PREFIX = re.compile(r"^([a-z0-9]+?)(?:x(\d+))?__(.+)$")
REEL_URL = re.compile(r"^https?://(?:www\.)?instagram\.com/(?:p|reel)/([A-Za-z0-9_-]{1,64})/?$")


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.page_size = int(os.environ.get("FAKE_PAGE_SIZE", "12"))
        self.nreels = int(os.environ["FAKE_REELS"]) if os.environ.get("FAKE_REELS") else None
        self.key = os.environ.get("FAKE_KEY")
        known = os.environ.get("FAKE_KNOWN", "")
        self.known = set(known.split(",")) if known else None
        self.reset()
        for item in filter(None, os.environ.get("FAKE_FAIL", "").split(",")):
            p = item.split(":")
            self.rules[p[0]] = {"mode": p[1], "count": int(p[2]) if len(p) > 2 and p[2] else None,
                                "arg": None, "path": p[3] if len(p) > 3 else None}

    def reset(self):
        self.rules = {}      # username -> rule
        self.extra = {}      # username -> extra (newer) reels
        self.cache = {}      # (username, extra) -> encoded documents
        self.code_user = {}  # shortcode -> username
        self.stats = {"requests": 0, "by_path": {}, "by_user": {}, "failures_injected": 0}

    def docs(self, user):
        """Pre-encoded documents for user (cached: keep per-request work small)."""
        extra = self.extra.get(user, 0)
        d = self.cache.get((user, extra))
        if d is None:
            acct = model.account(user, self.nreels, extra)
            pages, page = [], 0
            while True:
                doc = model.reels_page(acct, page, self.page_size)
                pages.append(json.dumps(doc).encode())
                if doc["pagination_token"] is None:
                    break
                page += 1
            d = {"profile": json.dumps(acct["profile"]).encode(), "pages": pages,
                 "transcripts": {c: json.dumps(t).encode() for c, t in acct["transcripts"].items()},
                 "media": {m["node"]["media"]["code"]: m["node"]["media"] for m in acct["reels"]}}
            with self.lock:
                self.cache[(user, extra)] = d
                for code in d["media"]:
                    self.code_user[code] = user
        return d

    def rule_for(self, user, path):
        """The failure to inject for this request, or None; counts it down."""
        with self.lock:
            rule = self.rules.get(user)
            if rule is None:
                m = PREFIX.match(user)
                if not m:
                    return None
                mode, n = m.group(1), m.group(2)
                if mode in ("slow", "drip", "huge"):
                    rule = {"mode": mode, "count": None, "arg": int(n) if n else None, "path": None}
                else:
                    rule = {"mode": mode, "count": int(n) if n else None, "arg": None, "path": None}
                self.rules[user] = rule
            if rule["path"] and rule["path"] != path:
                return None
            if rule["count"] is not None:
                if rule["count"] <= 0:
                    return None
                rule["count"] -= 1
            self.stats["failures_injected"] += 1
            return rule


STATE = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-rapidapi/1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body in separate small writes would otherwise meet
        # Nagle + delayed ACK: a 40 ms stall per keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_doc(self, status, body, extra_headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra_headers:
            self.send_header(k, v)
        # One write for headers and body (end_headers flushes the buffer).
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()

    def send_error_doc(self, status, message, extra_headers=()):
        self.send_doc(status, json.dumps({"message": message}).encode(), extra_headers)

    def count(self, path, user):
        with STATE.lock:
            s = STATE.stats
            s["requests"] += 1
            s["by_path"][path] = s["by_path"].get(path, 0) + 1
            if user:
                s["by_user"][user] = s["by_user"].get(user, 0) + 1

    # -- control --------------------------------------------------------
    def control(self, body):
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return self.send_error_doc(400, "bad json")
        with STATE.lock:
            if req.get("reset"):
                STATE.reset()
            user = req.get("username")
            if user and req.get("clear"):
                STATE.rules.pop(user, None)
            if user and "mode" in req:
                STATE.rules[user] = {"mode": req["mode"], "count": req.get("count"),
                                     "arg": req.get("arg"), "path": req.get("path")}
            if user and "add_reels" in req:
                STATE.extra[user] = STATE.extra.get(user, 0) + int(req["add_reels"])
        self.send_doc(200, b'{"ok":true}')

    # -- injected failures ----------------------------------------------
    def inject(self, rule, good):
        """Answers according to rule; returns True when the request is done."""
        mode, arg = rule["mode"], rule["arg"]
        if mode == "e404":
            self.send_error_doc(404, "User not found")
        elif mode == "e429":
            self.send_error_doc(429, "Too many requests", [("Retry-After", str(arg or 1))])
        elif mode in ("e500", "e502", "e503"):
            self.send_error_doc(int(mode[1:]), "Upstream error")
        elif mode == "reset":
            s = self.connection
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            self.close_connection = True
        elif mode == "truncated":
            self.send_doc(200, good[: max(1, len(good) // 2)])
        elif mode == "malformed":
            self.send_doc(200, b"<html><body>502 Bad Gateway</body></html>")
        elif mode == "huge":
            n = arg or (16 << 20)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            chunk = b"x" * 65536
            try:
                self.wfile.write(b'{"username":"huge","biography":"')
                while n > 0:
                    self.wfile.write(chunk[: min(n, len(chunk))])
                    n -= len(chunk)
                self.wfile.write(b'"}')
            except OSError:
                pass
        elif mode == "slow":
            time.sleep((arg or 5000) / 1000.0)
            return False
        elif mode == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(good)))
            self.end_headers()
            try:
                for i in range(len(good)):
                    self.wfile.write(good[i:i + 1])
                    self.wfile.flush()
                    time.sleep((arg or 200) / 1000.0)
            except OSError:
                self.close_connection = True
        elif mode == "private":
            return False  # handled in the profile answer
        else:
            self.send_error_doc(500, f"unknown fault mode {mode}")
        return True

    def check_headers(self, host):
        key = self.headers.get("x-rapidapi-key")
        if not key or (STATE.key is not None and key != STATE.key):
            self.send_error_doc(403, "You are not subscribed to this API.")
            return False
        if self.headers.get("x-rapidapi-host") != host:
            self.send_error_doc(400, "Invalid x-rapidapi-host")
            return False
        return True

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 65536:
            return None
        return self.rfile.read(n) if n else b""

    def known(self, user):
        return STATE.known is None or user in STATE.known

    def do_POST(self):
        path = urlsplit(self.path).path
        body = self.read_body()
        if body is None:
            return self.send_error_doc(413, "body too large")
        if path == "/_control":
            return self.control(body)
        if path not in ("/ig_get_fb_profile.php", "/get_ig_user_reels.php"):
            self.count(path, None)
            return self.send_error_doc(404, "no such endpoint")
        ctype = self.headers.get("Content-Type", "")
        form = parse_qs(body.decode("utf-8", "replace"))
        user = (form.get("username_or_url") or [""])[0]
        self.count(path, user)
        if not self.check_headers(SCRAPER_HOST):
            return
        if not ctype.startswith("application/x-www-form-urlencoded"):
            return self.send_error_doc(400, "expected a form body")
        if not user:
            return self.send_error_doc(400, "username_or_url is required")
        if not self.known(user):
            return self.send_error_doc(404, "User not found")
        docs = STATE.docs(user)
        if path == "/ig_get_fb_profile.php":
            good = docs["profile"]
        else:
            token = (form.get("max_id") or ["0"])[0]
            if not token.isdigit() or int(token) >= len(docs["pages"]):
                return self.send_error_doc(400, "invalid max_id")
            good = docs["pages"][int(token)]
        rule = STATE.rule_for(user, path)
        if rule and rule["mode"] == "private":
            if path == "/ig_get_fb_profile.php":
                p = json.loads(good)
                p["is_private"] = True
                good = json.dumps(p).encode()
            else:
                good = b'{"reels":[],"pagination_token":null}'
        elif rule and self.inject(rule, good):
            return
        self.send_doc(200, good)

    def do_GET(self):
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        if u.path == "/_stats":
            with STATE.lock:
                body = json.dumps(STATE.stats).encode()
            return self.send_doc(200, body)
        if u.path == "/transcript":
            host, param = TRANSCRIPT_HOST, "url"
        elif u.path == "/get_media_data.php":
            host, param = SCRAPER_HOST, "reel_post_code_or_url"
        else:
            self.count(u.path, None)
            return self.send_error_doc(404, "no such endpoint")
        m = REEL_URL.match((q.get(param) or [""])[0])
        code = m.group(1) if m else None
        user = STATE.code_user.get(code) if code else None
        self.count(u.path, user)
        if not self.check_headers(host):
            return
        if not code:
            return self.send_error_doc(400, f"{param} must be an instagram reel url")
        if u.path == "/transcript":
            docs = STATE.docs(user) if user else None
            good = (docs["transcripts"].get(code) if docs else None) or \
                b'{"lang":null,"availableLangs":[],"content":[]}'
        else:
            if not user:
                return self.send_error_doc(404, "Media not found")
            mm = STATE.docs(user)["media"][code]
            good = json.dumps({
                "pk": mm["pk"], "shortcode": code, "video_view_count": mm["play_count"],
                "edge_media_preview_like": {"count": mm["like_count"]},
                "edge_media_to_parent_comment": {"count": mm["comment_count"]},
                "edge_media_to_caption": {"edges": [{"node": {"text": mm["caption"]["text"]}}]},
                "taken_at_timestamp": mm["taken_at"],
                "display_url": mm["image_versions2"]["candidates"][0]["url"],
                "thumbnail_url": mm["image_versions2"]["candidates"][0]["url"]}).encode()
        rule = STATE.rule_for(user, u.path) if user else None
        if rule and rule["mode"] != "private" and self.inject(rule, good):
            return
        self.send_doc(200, good)


def main():
    global STATE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    STATE = State()
    fake_server.serve("fake_provider", Handler, args.port)


if __name__ == "__main__":
    main()

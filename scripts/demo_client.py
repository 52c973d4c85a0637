#!/usr/bin/env python3
"""The client half of `make demo`: submits the example jobs over the HTTP
API, triggers a batch as an admin, shows live progress per job, then prints
each job's top outlier reels and its five generated hooks.

usage: demo_client.py BASE_URL JOBS_JSON   (ADMIN_API_TOKEN from the environment)
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

BASE = sys.argv[1].rstrip("/")
TOKEN = os.environ.get("ADMIN_API_TOKEN", "")
TTY = sys.stdout.isatty()


def call(method, path, body=None, admin=False):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if admin:
        req.add_header("Authorization", "Bearer " + TOKEN)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def bar(pct, width=24):
    done = int(width * pct / 100)
    return "[" + "#" * done + "." * (width - done) + "]"


def main():
    jobs = json.load(open(sys.argv[2]))
    ids = {}
    for job in jobs:
        status, r = call("POST", "/api/viral-ideas/queue", job)
        if status != 200:
            sys.exit(f"demo: queueing {job['session_id']} failed: {status} {r}")
        ids[job["session_id"]] = r["data"]["id"]
        print(f"queued  {job['session_id']:<34} @{job['primary_username']} "
              f"vs {len(job['selected_competitors'])} competitors")

    status, r = call("POST", "/api/viral-ideas/process-pending", admin=True)
    if status != 200:
        sys.exit(f"demo: process-pending failed: {status} {r}")
    d = r["data"]
    print(f"\nprocess-pending: {d['status']}, batch {d.get('batch_id')}, "
          f"{d.get('total_jobs')} jobs, ETA {d.get('estimated_completion_time')}\n")

    t0 = time.time()
    last = {}
    while True:
        states = {}
        for sid in ids:
            status, r = call("GET", f"/api/viral-ideas/queue/{sid}")
            if status != 200:
                sys.exit(f"demo: polling {sid} failed: {status} {r}")
            states[sid] = r["data"]
        for sid, s in states.items():
            line = (f"{time.time() - t0:5.1f}s {sid:<34} {bar(s['progress_percentage'] or 0)} "
                    f"{s['progress_percentage'] or 0:3d}% {s['status']:<10} {s.get('current_step') or ''}")
            if TTY or last.get(sid) != (s["status"], s["progress_percentage"]):
                print(line)
            last[sid] = (s["status"], s["progress_percentage"])
        if all(s["status"] in ("completed", "failed") for s in states.values()):
            break
        if time.time() - t0 > 90:
            sys.exit("demo: the batch did not finish within 90 s")
        time.sleep(0.2)

    failed = [sid for sid, s in states.items() if s["status"] != "completed"]
    print(f"\nbatch done in {time.time() - t0:.1f} s: "
          f"{len(ids) - len(failed)} completed, {len(failed)} failed\n")
    for sid, qid in ids.items():
        s = states[sid]
        print("=" * 78)
        print(f"{sid}  @{s['primary_username']}  ({s['status']})")
        if s["status"] != "completed":
            print(f"  error: {s.get('error_message')}")
            continue
        status, r = call("GET", f"/api/viral-analysis/{qid}/results")
        if status != 200:
            print(f"  results: HTTP {status} {r}")
            continue
        data = r["data"]
        print("  top outlier reels (competitors):")
        for reel in data.get("competitor_reels", [])[:3]:
            desc = (reel.get("description") or "").replace("\n", " ")[:60]
            print(f"    {reel.get('outlierScore', ''):>6}  @{reel['username']:<20} "
                  f"{reel.get('views', ''):>6} views  {desc}")
        print("  five generated hooks:")
        for i, hook in enumerate(data.get("generated_hooks", [])[:5], 1):
            print(f"    {i}. {hook.get('hook_text')}  [{hook.get('hook_type', '')}]")
    if failed:
        sys.exit(f"demo: {len(failed)} job(s) failed")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A local fake of an OpenAI-compatible chat-completions server, for the llm
analysis engine's tests and `make quality`.

  POST <anything>/chat/completions   the OpenAI contract: {model, messages,
        temperature, max_tokens, response_format} -> {id, object, model,
        choices[{index, message{role, content}, finish_reason}], usage}
  GET  /_requests      every completion request received so far (bodies,
                       whether the Authorization header matched) and what
                       was answered
  POST /_control       {"mode": m, "count": N, "part": p, "arg": A} or {"reset": true}

Listens on 127.0.0.1, port 0 (or --port), prints the port on stdout when
ready. FAKE_LLM_KEY: the bearer token required (401 otherwise; default:
none required). FAKE_LLM_MODE="mode[:count[:part[:arg]]]" sets a mode at start.

The answers are built from the DATA block of the prompt (the grounded
context the engine sends), deterministic, and of the requested shape; which
part is asked is read from response_format.json_schema.name, else from the
prompt's words (json_object mode). Modes (for the next N requests, default
all; only requests for part p when given):
  ok, e429 (Retry-After: arg, default 1), e500, e503, slow (answer after arg
  ms, default 5000), truncated (content cut in half), nonjson (prose),
  fenced (```json ... ``` around the object), wrongshape ({"result": "ok"}),
  same_subject (five hooks on one subject), no_schema (400 "response_format
  json_schema is not supported" to json_schema requests), empty (no choices).
"""

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fake_server  # noqa: E402


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.key = os.environ.get("FAKE_LLM_KEY")
        self.reset()
        m = os.environ.get("FAKE_LLM_MODE")
        if m:
            p = m.split(":")
            self.set_mode(p[0], int(p[1]) if len(p) > 1 and p[1] else None,
                          p[2] if len(p) > 2 and p[2] else None, p[3] if len(p) > 3 else None)

    def reset(self):
        self.requests = []
        self.modes = []  # [{mode, count, part, arg}]

    def set_mode(self, mode, count, part, arg):
        self.modes.append({"mode": mode, "count": count, "part": part, "arg": arg})

    def take_mode(self, part):
        with self.lock:
            for m in self.modes:
                if m["part"] and m["part"] != part:
                    continue
                if m["count"] is not None:
                    if m["count"] <= 0:
                        continue
                    m["count"] -= 1
                return m
        return None


S = State()


def data_of(messages):
    user = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
    i = user.find("DATA:\n")
    try:
        return user, json.loads(user[i + 6:]) if i >= 0 else {}
    except ValueError:
        return user, {}


def part_of(body, user):
    rf = body.get("response_format") or {}
    name = (rf.get("json_schema") or {}).get("name")
    if name:
        return name
    if "Write exactly 5 hooks" in user:
        return "generated_hooks"
    if "full spoken script" in user:
        return "script"
    if "Analyse the hook" in user:
        return "hook_analysis"
    return "profile_analysis"


def subjects(d):
    out = []
    for t in d.get("trending_topics") or []:
        out.append(t.get("topic", "").lstrip("#"))
    out += d.get("candidate_subjects") or []
    out += d.get("creator_themes") or []
    seen, uniq = set(), []
    for s in out:
        k = "".join(ch for ch in s.lower() if ch.isalnum())
        if k and k not in seen:
            seen.add(k)
            uniq.append(s)
    fillers = ["a beginner week", "the first month", "my morning routine", "common questions",
               "what I'd do differently"]
    for f in fillers:
        if len(uniq) >= 5:
            break
        uniq.append(f)
    return uniq[:5]


def answer(part, d, same_subject=False):
    user = (d.get("creator") or {}).get("username") or "creator"
    strat = d.get("content_strategy") or {}
    audience = strat.get("targetAudience") or "people starting out"
    if part == "profile_analysis":
        topics = [t.get("topic") for t in (d.get("trending_topics") or [])][:5]
        return {
            "profile_summary": {
                "core_identity": f"@{user}: {((d.get('creator') or {}).get('bio') or '')[:120]}",
                "unique_value_proposition": "Practical, no-nonsense advice from lived experience",
                "primary_content_themes": (d.get("creator_themes") or [])[:5],
                "target_audience_description": audience,
                "content_personality": "direct and warm",
                "audience_pain_points": ["not knowing where to start", "no time",
                                         "conflicting advice online"],
                "signature_approaches": ["talks straight to camera", "short lists"]},
            "top_performing_patterns": {
                "most_engaging_topics": (d.get("creator_themes") or [])[:3],
                "winning_content_formats": ["list", "story"],
                "audience_engagement_triggers": ["relatable mistakes", "quick wins"]},
            "new_content_opportunities": {
                "unexplored_topics": topics,
                "topic_descriptions": [{"topic": t, "description": f"Competitors' reels on {t} "
                                        "beat their usual reel"} for t in topics],
                "content_angles": [f"a beginner's first week of {t}" for t in topics]},
            "content_analysis": {"best_performing_categories": ["education", "storytelling"]}}
    if part == "hook_analysis":
        first = (d.get("transcript") or d.get("caption") or "").split("\n")[0]
        words = first.split()[:12]
        hook = (" ".join(words) or "Untitled").rstrip(".!?,") + "."
        out = d.get("outlier_vs_account_median") or 1
        return {
            "hook_analysis": {
                "hook_text": hook[0].upper() + hook[1:], "hook_type": "statement",
                "hook_strategy": "opens on the payoff", "power_words": [],
                "emotional_triggers": ["curiosity"],
                "effectiveness_score": round(min(10, max(0, 5 + 1.5 * (out - 1))), 1),
                "why_it_works": f"It names the payoff in the first words: \"{' '.join(words[:5])}\"",
                "psychological_principles": ["curiosity gap"],
                "audience_hook_match": audience,
                "improvement_potential": "Put the number first"},
            "engagement_correlation": {"hook_to_engagement_strength": "medium",
                                       "likely_scroll_stop_factors": ["direct address"],
                                       "retention_elements": ["a list to the end"]}}
    if part == "generated_hooks":
        subs = subjects(d)
        if same_subject:
            subs = [subs[0]] * 5
        comps = d.get("competitor_outliers") or []
        shapes = ["3 things nobody tells {a} about {s}.", "I got {s} wrong for years. Here's the fix.",
                  "Stop overthinking {s}: do this instead.", "Is {s} worth it for {a}?",
                  "The {s} routine I'd start with tomorrow."]
        short_aud = audience.split(" starting")[0].split(" who")[0].lower()
        hooks = []
        for i, s in enumerate(subs):
            src = comps[i % len(comps)] if comps else None
            hooks.append({
                "hook_text": shapes[i].format(s=s, a=short_aud),
                "hook_type": ["number_list", "story", "warning", "question", "how_to"][i],
                "source_reel_id": src.get("content_id") if src else "",
                "new_subject_used": s,
                "adaptation_strategy": f"Kept @{src.get('username')}'s opening and moved it to {s}"
                if src else f"A {s} hook in @{user}'s own words",
                "psychological_triggers": ["curiosity"], "power_words_used": [],
                "why_it_works": f"The source reel reached {src.get('outlier_vs_account_median')}x "
                                f"its account's median views" if src else "Speaks to the audience's goal",
                "creator_voice_elements": (d.get("creator_themes") or [])[:2],
                "content_theme_alignment": f"{s} fits {strat.get('contentType') or 'the feed'}"})
        return {"hooks": hooks}
    # script
    h = d.get("hook") or {}
    s = h.get("new_subject_used") or "this"
    hook = h.get("hook_text") or "Listen."
    problem = f"If you're one of the {audience.lower()}, {s} probably feels like one more thing you don't have time for."
    solution = (f"First, pick one small part of {s} and do only that this week. Second, write down what "
                f"happened, even if it was messy. Third, repeat it next week and change one thing.")
    goals = strat.get("goals") or "follow for more"
    cta = f"If you want the full plan, comment {s.split()[0].upper()} and I'll send it. That's how I {goals.lower()[:60]}."
    full = " ".join([hook, problem, solution, cta])
    return {
        "script": {"title": f"{s}: a first step", "hook_used": hook, "full_script": full,
                   "structure_breakdown": {"hook_section": hook, "problem_section": problem,
                                           "solution_section": solution, "cta_section": cta},
                   "estimated_duration": round(len(full.split()) / 2.5),
                   "creator_voice_elements": ["second person", "short sentences"],
                   "speaking_pattern_match": "short, direct sentences",
                   "energy_level": "medium", "vocabulary_alignment": "everyday words"},
        "voice_analysis": {"typical_phrases": ["here's the thing"], "sentence_structure": "short",
                           "transition_words": ["first", "second", "third"],
                           "energy_markers": ["exclamations"]},
        "authenticity_score": {"voice_match": 7.5, "vocabulary_accuracy": 7.0,
                               "natural_flow": 8.0, "personality_capture": 7.0}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_requests":
            with S.lock:
                return self.send(200, S.requests)
        self.send(404, {"error": {"message": "not found"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        if self.path == "/_control":
            c = json.loads(raw or b"{}")
            with S.lock:
                if c.get("reset"):
                    S.reset()
                if c.get("mode"):
                    S.set_mode(c["mode"], c.get("count"), c.get("part"), c.get("arg"))
            return self.send(200, {"ok": True})
        if not self.path.endswith("/chat/completions"):
            return self.send(404, {"error": {"message": "not found"}})
        try:
            body = json.loads(raw)
        except ValueError:
            return self.send(400, {"error": {"message": "body is not JSON"}})
        auth = self.headers.get("Authorization") or ""
        auth_ok = S.key is None or auth == f"Bearer {S.key}"
        user, d = data_of(body.get("messages") or [])
        part = part_of(body, user)
        rec = {"part": part, "body": body, "auth_ok": auth_ok, "auth_present": bool(auth)}
        with S.lock:
            S.requests.append(rec)
        if not auth_ok:
            rec["status"] = 401
            return self.send(401, {"error": {"message": "Incorrect API key provided"}})
        m = S.take_mode(part)
        mode = m["mode"] if m else "ok"
        rec["mode"] = mode
        arg = m.get("arg") if m else None
        rf = (body.get("response_format") or {}).get("type")
        if mode == "e429":
            rec["status"] = 429
            return self.send(429, {"error": {"message": "Rate limit reached"}},
                             [("Retry-After", str(arg or 1))])
        if mode in ("e500", "e503"):
            rec["status"] = int(mode[1:])
            return self.send(int(mode[1:]), {"error": {"message": "server error"}})
        if mode == "no_schema" and rf == "json_schema":
            rec["status"] = 400
            return self.send(400, {"error": {"message": "response_format json_schema is not supported"}})
        if mode == "slow":
            time.sleep(int(arg or 5000) / 1000.0)
        obj = answer(part, d, same_subject=(mode == "same_subject"))
        content = json.dumps(obj)
        if mode == "truncated":
            content = content[: len(content) // 2]
        elif mode == "nonjson":
            content = "Sure! Here are some great ideas for your reels. Let me know if you need more."
        elif mode == "fenced":
            content = "Here you go:\n```json\n" + json.dumps(obj, indent=1) + "\n```\nEnjoy!"
        elif mode == "wrongshape":
            content = json.dumps({"result": "ok"})
        prompt_chars = sum(len(x.get("content", "")) for x in body.get("messages") or [])
        resp = {"id": f"chatcmpl-fake-{len(S.requests)}", "object": "chat.completion",
                "created": 0, "model": body.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "length" if mode == "truncated" else "stop"}],
                "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": len(content) // 4,
                          "total_tokens": prompt_chars // 4 + len(content) // 4}}
        if mode == "empty":
            resp["choices"] = []
        rec["status"] = 200
        rec["content"] = content
        rec["usage"] = resp["usage"]
        self.send(200, resp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    fake_server.serve("fake_llm", Handler, a.port)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""make quality: both analysis engines over the example jobs, with mechanical
checks a content strategist would otherwise do by eye.

  B=build python3 scripts/quality.py [--engine rules|llm|both] [--show]

Each job of examples/jobs.json (generated data) and examples/jobs-handwritten.json
(written as creators write: no punctuation, emoji, hashtags, Spanish and
Portuguese; scripts/handwritten_fixtures.py) becomes an engine input the way the pipeline
builds it (30 reels per account, transcripts of the 5 most viewed reels,
segments joined with a space: sql/store.c), is run through
build/bin/viralsup-analyze, and the output is checked. The llm engine runs
against tests/fake_llm (started here): its figures measure the plumbing
(grounding, validation, fallbacks, tokens), not a real model's writing.
--show prints every job's hooks.
"""

import argparse
import json
import os
import re
import subprocess
import sys
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOW = 1795824000 + 86400
NUM_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
             "nine": 9, "ten": 10}


def load(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return json.load(f)


def transcript(user, code):
    p = os.path.join(ROOT, "examples/instagram", user, f"transcript_{code}.json")
    if not os.path.exists(p):
        return None
    with open(p, encoding="utf-8") as f:
        t = json.load(f)
    return " ".join(s.get("text", "") for s in t.get("content") or [] if s.get("text"))


def account(user, primary, profiles, reels):
    prof = load(f"examples/instagram/{user}/profile.json")
    profiles.append({"username": user, "role": "primary" if primary else "competitor",
                     "profile_name": prof.get("full_name"), "bio": prof.get("biography"),
                     "followers": prof.get("follower_count"), "posts_count": prof.get("media_count")})
    media, page = [], 0
    while len(media) < 30:
        p = os.path.join(ROOT, "examples/instagram", user, f"reels_{page}.json")
        if not os.path.exists(p):
            break
        with open(p, encoding="utf-8") as f:
            for it in json.load(f).get("reels") or []:
                if len(media) < 30:
                    media.append(it["node"]["media"])
        page += 1
    top = sorted(media, key=lambda m: -m.get("play_count", 0))[:5]
    for m in media:
        reels.append({"content_id": m["code"], "shortcode": m["code"], "username": user,
                      "view_count": m.get("play_count", 0), "like_count": m.get("like_count", 0),
                      "comment_count": m.get("comment_count", 0), "date_posted": m.get("taken_at"),
                      "description": (m.get("caption") or {}).get("text"),
                      "transcript_text": transcript(user, m["code"]) if any(m is t for t in top) else None})


def job_input(job):
    profiles, reels = [], []
    account(job["primary_username"], True, profiles, reels)
    for c in job.get("selected_competitors") or []:
        account(c, False, profiles, reels)
    return {"now": NOW, "job": {"queue_id": job["session_id"], "primary_username": job["primary_username"],
                                "analysis_run": 1, "analysis_type": "initial",
                                "content_strategy": job.get("content_strategy")},
            "profiles": profiles, "reels": reels, "since": None}


def run(engine, inp, env):
    r = subprocess.run([os.path.join(ROOT, os.environ.get("B", "build"), "bin/viralsup-analyze"),
                        "--engine", engine], input=json.dumps(inp).encode(), capture_output=True,
                       env=env, timeout=120)
    if r.returncode != 0:
        sys.exit(f"viralsup-analyze failed: {r.stderr.decode()}")
    return json.loads(r.stdout)


# ---- checks ----

UNGRAMMATICAL = [
    (re.compile(r"\bdoesn't (book|buy|do|make|try|skip|use|go|eat|start|stop)\b", re.I), "imperative broken ('Doesn't <verb>')"),
    (re.compile(r"\b(\w+) \1\b", re.I), "doubled word"),
    (re.compile(r"\b(a) ([aeiou]\w+)", re.I), "'a' before a vowel"),
    (re.compile(r"\bwith (rest days|\w+s) today\b", re.I), "plural subject glued to 'today'"),
    (re.compile(r"\bkeeps them from (grow|sell|partner|build|get|launch)\w*", re.I), "goal used as pain ('keeps them from <goal verb>')"),
    (re.compile(r"\bmakes with (dermatologist|doctor|coach|expert)\b", re.I), "a profession as a topic"),
    (re.compile(r"\b(I'm|I am) a (dermatologist|doctor|nutritionist|physio|lawyer)\b", re.I), "claims a credential"),
]


def promised_count(hook):
    m = re.match(r"\s*(\d+|" + "|".join(NUM_WORDS) + r")\s+\w+", hook or "", re.I)
    if not m:
        return None
    w = m.group(1).lower()
    n = int(w) if w.isdigit() else NUM_WORDS[w]
    return n if 2 <= n <= 10 else None


def delivered_count(solution):
    s = solution or ""
    ordinals = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh"]
    n_ord = sum(1 for o in ordinals if re.search(r"\b" + o + r"\b", s, re.I))
    n_num = len(re.findall(r"(?:^|\s)(\d+)[.)]\s", s))
    m = re.search(r"\b(\d+|two|three|four|five|six|seven) (quick )?(points|tips|steps|mistakes|things)\b", s, re.I)
    said = None
    if m:
        w = m.group(1).lower()
        said = int(w) if w.isdigit() else NUM_WORDS.get(w)
    return max(n_ord, n_num) or said


def check(outputs, creators):
    f = Counter()
    by_text = {}
    details = []
    for user, out in zip(creators, outputs):
        ad = out["analysis_data"]
        hooks = ad.get("generated_hooks") or []
        scripts = ad.get("complete_scripts") or []
        trends = ad["profile_analysis"].get("trends") or {}
        lifts = {t["term"].lower(): t["lift"] for t in trends.get("topics", [])}
        lifts.update({"#" + t["term"].lower(): t["lift"] for t in trends.get("hashtags", [])})
        f["creators"] += 1
        f["hooks"] += len(hooks)
        f["scripts"] += len(scripts)
        subj = Counter((h.get("new_subject_used") or "").lower() for h in hooks)
        if hooks and subj.most_common(1)[0][1] > 1:
            f["creators_with_a_subject_repeated"] += 1
        for h in hooks:
            t = (h.get("hook_text") or "").strip()
            by_text.setdefault(t.lower(), set()).add(user)
            s = (h.get("new_subject_used") or "").lower()
            if s in lifts and lifts[s] <= 1:
                f["hooks_on_topics_with_lift_le_1"] += 1
                details.append(f"@{user}: hook on \"{s}\" (lift {lifts[s]}): {t}")
            if s and len(s.split()) == 1 and not s.startswith("#") and s[:1].islower():
                f["hooks_on_one_word_topics"] += 1
            for rx, what in UNGRAMMATICAL:
                if rx.search(t):
                    f["ungrammatical_hooks"] += 1
                    details.append(f"@{user}: {what}: {t}")
                    break
        for u in ad["profile_analysis"].get("new_content_opportunities", {}).get("unexplored_topics", []):
            if u.lower() in lifts and lifts[u.lower()] <= 1:
                f["recommended_topics_with_lift_le_1"] += 1
        for c in scripts:
            sc = c.get("script") or {}
            sb = sc.get("structure_breakdown") or {}
            kind = c.get("script_kind") or sc.get("script_kind")
            f[f"scripts_{kind or 'unlabelled'}"] += 1
            n = promised_count(sc.get("hook_used"))
            if n:
                got = delivered_count(sb.get("solution_section"))
                if got is not None and got != n:
                    f["count_mismatches"] += 1
                    details.append(f"@{user}: promises {n}, gives {got}: {sc.get('hook_used')}")
            full = sc.get("full_script") or ""
            if re.search(r"same structure as @", full, re.I) and not c.get("based_on_competitor"):
                f["false_same_structure_claims"] += 1
            h = next((x for x in hooks if x.get("hook_id") == c.get("hook_id")), {})
            if re.search(r"same structure as @", full, re.I) and h.get("hook_text") and \
                    "swapped" not in (h.get("adaptation_strategy") or ""):
                f["false_same_structure_claims"] += 1
                details.append(f"@{user}: 'same structure' claimed for a template hook: {h.get('hook_text')}")
            for rx, what in UNGRAMMATICAL:
                if rx.search(full):
                    f["ungrammatical_script_lines"] += 1
                    details.append(f"@{user}: script: {what}")
                    break
        ps = ad["profile_analysis"].get("profile_summary", {})
        if not ps.get("audience_pain_points"):
            f["empty_audience_pain_points"] += 1
        if not ad["profile_analysis"].get("content_analysis", {}).get("best_performing_categories"):
            f["empty_best_performing_categories"] += 1
        if len(ad["profile_analysis"].get("new_content_opportunities", {}).get("unexplored_topics", [])) < 5:
            f["fewer_than_5_unexplored_topics"] += 1
        for c in scripts:
            va = c.get("voice_analysis") or {}
            if not va.get("transition_words") or not va.get("energy_markers"):
                f["scripts_with_empty_voice_fields"] += 1
            au = c.get("authenticity_score") or {}
            if any(v is None for v in au.values()):
                f["scripts_with_null_authenticity_subscores"] += 1
        for a in ad.get("individual_reel_analyses") or []:
            f["hook_analyses"] += 1
            if (a.get("hook_analysis") or {}).get("effectiveness_score") == 10.0:
                f["effectiveness_10"] += 1
        eng = ad.get("engine") or {}
        f["prompt_tokens"] += eng.get("prompt_tokens", 0)
        f["completion_tokens"] += eng.get("completion_tokens", 0)
        f["llm_calls"] += eng.get("calls", 0)
    f["hooks_repeated_across_creators"] = sum(len(u) for u in by_text.values() if len(u) > 1)
    return f, details


def fake_server():
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/fake_llm/fake_llm.py")],
                         stdout=subprocess.PIPE)
    port = int(p.stdout.readline())
    return p, port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", default="both", choices=["rules", "llm", "both"])
    ap.add_argument("--show", action="store_true")
    ap.add_argument("--details", action="store_true")
    a = ap.parse_args()
    jobs = load("examples/jobs.json") + load("examples/jobs-handwritten.json")
    inputs = [job_input(j) for j in jobs]
    creators = [j["primary_username"] for j in jobs]
    engines = ["rules", "llm"] if a.engine == "both" else [a.engine]
    for engine in engines:
        env = dict(os.environ)
        srv = None
        if engine == "llm":
            srv, port = fake_server()
            env.update({"VIRALSUP_LLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
                        "VIRALSUP_LLM_MODEL": "fake-llm", "VIRALSUP_LLM_API_KEY": "quality-check"})
        try:
            outs = [run(engine, i, env) for i in inputs]
        finally:
            if srv:
                srv.terminate()
                srv.wait()
        f, details = check(outs, creators)
        print(f"== engine {engine}" + (" (against tests/fake_llm: plumbing, not a real model's words)"
                                       if engine == "llm" else "") + f": {len(jobs)} example jobs")
        order = ["creators", "hooks", "scripts", "hooks_repeated_across_creators",
                 "creators_with_a_subject_repeated", "hooks_on_topics_with_lift_le_1",
                 "recommended_topics_with_lift_le_1", "hooks_on_one_word_topics", "count_mismatches",
                 "false_same_structure_claims", "ungrammatical_hooks", "ungrammatical_script_lines",
                 "hook_analyses", "effectiveness_10", "empty_audience_pain_points",
                 "empty_best_performing_categories", "fewer_than_5_unexplored_topics",
                 "scripts_with_empty_voice_fields", "scripts_with_null_authenticity_subscores",
                 "scripts_spoken", "scripts_outline", "scripts_unlabelled", "llm_calls",
                 "prompt_tokens", "completion_tokens"]
        for k in order:
            print(f"  {k:42s} {f.get(k, 0)}")
        if a.details:
            for d in details:
                print("   - " + d)
        if a.show:
            for user, out in zip(creators, outs):
                print(f"  @{user}")
                for h in out["analysis_data"].get("generated_hooks") or []:
                    print(f"    {h.get('hook_id')}. {h.get('hook_text')}  [{h.get('new_subject_used')}]")


if __name__ == "__main__":
    main()

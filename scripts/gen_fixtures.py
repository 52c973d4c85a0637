#!/usr/bin/env python3
"""Deterministic generator of fake Instagram data (GENERATED, not real accounts).

One model serves two consumers:
  * `scripts/gen_fixtures.py [OUTDIR]` writes the fixture documents read by the
    fixtures provider (default examples/instagram/) and examples/jobs.json;
  * tests/fake_provider/fake_provider.py imports this module and serves the same
    documents over the RapidAPI contracts (SEED-SYSTEM.md appendix A).

Every document has exactly the shape the real APIs answer with:
  profile.json            POST /ig_get_fb_profile.php answer (flat object)
  reels_<page>.json       POST /get_ig_user_reels.php answer; page 0 first, its
                          pagination_token is the next page number as a string
                          ("1"), null on the last page
  transcript_<code>.json  GET /transcript answer; absent = no transcript

The same username always yields the same account (seeded from its SHA-256),
so a username the curated list does not know still gets a plausible account.
"""

import hashlib
import json
import os
import random
import sys

# Reel timestamps count back from this fixed instant (2026-11-28T00:00:00Z)
# so that the data, and everything computed from it, never changes.
ANCHOR = 1795824000
DAY = 86400

NICHES = ("fitness", "cooking", "finance", "travel")

# (niche, creator, competitors, content strategy) — the example jobs.
CREATORS = [
    ("fitness", "maya.lifts", ["coach.dante.fit", "strongwithsam", "mobility.mila"],
     {"contentType": "Short workout tutorials and form tips",
      "targetAudience": "Busy women 25-40 starting strength training",
      "goals": "Grow followers and sell an 8-week beginner program"}),
    ("cooking", "nonna.kitchenlab", ["15minmeals.jo", "the.spice.route", "breadbykenji",
                                     "veggie.vibes.daily"],
     {"contentType": "Quick family recipes with Italian roots",
      "targetAudience": "Parents who cook on weeknights",
      "goals": "More saves and shares, launch a recipe e-book"}),
    ("finance", "frugal.finn", ["invest.with.ines", "budgetbae.co", "sidehustle.sam"],
     {"contentType": "Personal finance explainers",
      "targetAudience": "Gen Z and young professionals with their first salary",
      "goals": "Build trust and grow the newsletter"}),
    ("travel", "wander.with.lea", ["backpack.budget.bo", "slowtravel.tomas", "cityhop.ana"],
     {"contentType": "Budget travel guides and itineraries",
      "targetAudience": "Students and remote workers travelling in Europe",
      "goals": "Partner with hostels and tourism boards"}),
]

NICHE_OF = {}
for _n, _c, _comps, _s in CREATORS:
    NICHE_OF[_c] = _n
    for _x in _comps:
        NICHE_OF[_x] = _n
CREATOR_NAMES = {c for _n, c, _x, _s in CREATORS}

FULL_NAMES = {
    "maya.lifts": "Maya Okafor | Strength Coach", "coach.dante.fit": "Dante Reyes",
    "strongwithsam": "Sam Lindqvist", "mobility.mila": "Mila Novak - Mobility",
    "nonna.kitchenlab": "Giulia Bianchi", "15minmeals.jo": "Jo Park | 15 Minute Meals",
    "the.spice.route": "Arjun Mehta", "breadbykenji": "Kenji Watanabe",
    "veggie.vibes.daily": "Veggie Vibes", "frugal.finn": "Finn Gallagher",
    "invest.with.ines": "Ines Carvalho", "budgetbae.co": "Budget Bae",
    "sidehustle.sam": "Samira Haddad", "wander.with.lea": "Lea Moreau",
    "backpack.budget.bo": "Bo Jansen", "slowtravel.tomas": "Tomás Ruiz",
    "cityhop.ana": "Ana Kowalska",
}

# Per niche: topics, hooks by type (the analyzer classifies these), bodies,
# hashtags, emoji, a bio, and one caption plus transcript in another language.
TEXT = {
    "fitness": {
        "topics": ["glute bridges", "deadlift form", "protein intake", "home workouts",
                   "mobility drills", "progressive overload", "rest days", "kettlebell swings"],
        "hooks": [
            ("question", "Why aren't you seeing results from {t}?"),
            ("question", "Are you doing {t} wrong?"),
            ("number", "3 mistakes everyone makes with {t}"),
            ("number", "5 {t} tips I wish I knew sooner"),
            ("howto", "How to master {t} in 10 minutes a day"),
            ("warning", "Stop doing {t} like this 🚫"),
            ("story", "I tried {t} every day for 30 days. Here's what happened"),
            ("contrarian", "Unpopular opinion: {t} is overrated"),
            ("curiosity", "Nobody talks about this {t} secret"),
            ("plain", "Leg day with {t} today"),
        ],
        "bodies": ["Save this for your next session 💪", "Form first, weight second.",
                   "Tag a gym buddy who needs this 👇", "Full routine in the comments.",
                   "Consistency beats intensity every single time."],
        "tags": ["#fitness", "#gymtok", "#strengthtraining", "#workout", "#fitnesstips",
                 "#homeworkout", "#glutes", "#mobility"],
        "emoji": ["💪", "🔥", "🏋️", "✅"],
        "bio": "Helping busy people get strong 💪 | Free plan below 👇",
        "foreign": ("es", "¿Por qué nadie habla de la movilidad de cadera? 🤔 Tres ejercicios para "
                    "hacer cada mañana. #fitness #movilidad",
                    ["Nadie habla de la movilidad de cadera.", "Haz estos tres ejercicios cada mañana.",
                     "El primero es la postura del noventa noventa."]),
    },
    "cooking": {
        "topics": ["pasta carbonara", "sourdough", "one-pan dinners", "meal prep", "homemade pesto",
                   "crispy tofu", "knife skills", "weeknight curry"],
        "hooks": [
            ("question", "Why does restaurant {t} taste better than yours?"),
            ("question", "Have you ever tried {t} this way?"),
            ("number", "3 secrets to perfect {t}"),
            ("number", "7 {t} hacks that save you an hour"),
            ("howto", "How to make {t} in 15 minutes"),
            ("warning", "Never make {t} without this step ⚠️"),
            ("story", "My nonna taught me {t} when I was 8 and I never forgot it"),
            ("contrarian", "Unpopular opinion: you don't need cream in {t}"),
            ("curiosity", "The {t} trick chefs don't want you to know"),
            ("plain", "Sunday {t} 🍝"),
        ],
        "bodies": ["Recipe in the caption, save it for later 📌", "Serves 4, takes 20 minutes.",
                   "Which one would you try first? 👇", "Ingredients: olive oil, garlic, salt, love.",
                   "Double the recipe and freeze half."],
        "tags": ["#recipe", "#easyrecipes", "#homecooking", "#foodie", "#dinnerideas",
                 "#mealprep", "#pasta", "#cookingtips"],
        "emoji": ["🍝", "🔥", "😋", "🧄"],
        "bio": "Family recipes, ready in 20 minutes 🍝 | New video every day",
        "foreign": ("it", "La vera carbonara non ha la panna! 🇮🇹 Guanciale, pecorino, uova e pepe. "
                    "#carbonara #cucinaitaliana",
                    ["La vera carbonara non ha la panna.", "Servono guanciale, pecorino, uova e pepe.",
                     "Il segreto è mescolare lontano dal fuoco."]),
    },
    "finance": {
        "topics": ["emergency funds", "index funds", "credit scores", "budgeting apps",
                   "the 50/30/20 rule", "side hustles", "student loans", "high-yield savings"],
        "hooks": [
            ("question", "Why are you still broke after payday?"),
            ("question", "Do you actually understand {t}?"),
            ("number", "3 money mistakes to avoid with {t}"),
            ("number", "5 things about {t} banks won't tell you"),
            ("howto", "How to start with {t} on $100"),
            ("warning", "Stop ignoring {t} before it's too late 🚨"),
            ("story", "I paid off $27k in 18 months using {t}"),
            ("contrarian", "Unpopular opinion: {t} are a trap"),
            ("curiosity", "The {t} secret nobody told you in school"),
            ("plain", "Monthly budget check-in: {t}"),
        ],
        "bodies": ["Not financial advice, just what worked for me.", "Save this before payday 💸",
                   "Comment BUDGET and I'll send you my template.", "Start small, stay consistent.",
                   "Share this with a friend who needs it."],
        "tags": ["#personalfinance", "#moneytips", "#budgeting", "#investing", "#financialfreedom",
                 "#savemoney", "#debtfree", "#sidehustle"],
        "emoji": ["💸", "📈", "💰", "🧾"],
        "bio": "Money tips for your first salary 💸 | Newsletter 👇",
        "foreign": ("pt", "Como montar uma reserva de emergência ganhando pouco? 💰 Três passos simples. "
                    "#financaspessoais #dinheiro",
                    ["Como montar uma reserva de emergência ganhando pouco.",
                     "Primeiro passo: anote todos os seus gastos.", "Depois automatize a poupança."]),
    },
    "travel": {
        "topics": ["Lisbon", "night trains", "packing light", "hostel hacks", "cheap flights",
                   "the Amalfi coast", "solo travel", "Interrail passes"],
        "hooks": [
            ("question", "Why is nobody talking about {t}?"),
            ("question", "Is {t} still worth it in 2026?"),
            ("number", "3 mistakes first-timers make with {t}"),
            ("number", "10 {t} tips for travelling on a budget"),
            ("howto", "How to do {t} for under 50 euros a day"),
            ("warning", "Don't book {t} before watching this ✋"),
            ("story", "I spent 30 days exploring {t} with one backpack"),
            ("contrarian", "Unpopular opinion: {t} is overhyped"),
            ("curiosity", "The hidden side of {t} tourists never see"),
            ("plain", "Golden hour in {t} 🌅"),
        ],
        "bodies": ["Save this for your next trip ✈️", "Full itinerary in my highlights.",
                   "Tag who you'd go with 👇", "Prices checked this month.",
                   "Which place should I visit next?"],
        "tags": ["#travel", "#budgettravel", "#traveltips", "#europetravel", "#solotravel",
                 "#backpacking", "#wanderlust", "#interrail"],
        "emoji": ["✈️", "🌍", "🌅", "🎒"],
        "bio": "Europe on a budget 🎒 | Guides & itineraries below",
        "foreign": ("de", "Warum ist Zugfahren in Europa so unterschätzt? 🚆 Meine drei liebsten "
                    "Nachtzüge. #reisen #nachtzug",
                    ["Zugfahren in Europa ist total unterschätzt.", "Hier sind meine drei liebsten Nachtzüge.",
                     "Der erste fährt von Wien nach Rom."]),
    },
}

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _rng(*parts):
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def shortcode(username, i):
    h = hashlib.sha256(f"{username}#{i}".encode()).digest()
    return "D" + "".join(B64[b & 63] for b in h[:10])


def pk(username, i):
    h = hashlib.sha256(f"pk:{username}#{i}".encode()).digest()
    return 3000000000000000000 + int.from_bytes(h[:8], "big") % 400000000000000000


def niche_of(username):
    if username in NICHE_OF:
        return NICHE_OF[username]
    return NICHES[hashlib.sha256(username.encode()).digest()[0] % len(NICHES)]


def _caption(r, t, i, foreign_at):
    if i == foreign_at:
        return t["foreign"][1], "foreign"
    kind, hook = t["hooks"][r.randrange(len(t["hooks"]))]
    topic = t["topics"][r.randrange(len(t["topics"]))]
    text = hook.format(t=topic)
    if r.random() < 0.5:
        text += " " + r.choice(t["emoji"])
    parts = [text, r.choice(t["bodies"])]
    if kind == "number" and r.random() < 0.6:
        parts.append("\n".join(f"{n}. {topic} tip #{n}" for n in range(1, 4)))
    parts.append(" ".join(r.sample(t["tags"], r.randint(2, 5))))
    return "\n\n".join(parts), kind


def _segments(r, caption_first_line, kind, t, foreign_lines=None):
    if foreign_lines:
        lines = list(foreign_lines)
    else:
        lines = [caption_first_line.rstrip(" 🚫⚠️🚨✋🍝🌅💪🔥"),
                 "Here's what you need to know.",
                 r.choice(t["bodies"]).rstrip(" 📌💸✈️💪👇"),
                 "Follow for more like this."]
        if kind == "number":
            lines[1:1] = ["Number one: start simple.", "Number two: be consistent.",
                          "Number three: track everything."]
    segs, off = [], 0
    for line in lines:
        dur = 1200 + 55 * len(line) + r.randint(0, 400)
        segs.append({"text": line, "offset": off, "duration": dur})
        off += dur
    return segs


def account(username, nreels=None, extra_reels=0):
    """The model of one account: {profile, reels (API items, newest first), transcripts}.

    nreels forces the number of reels (the benchmark uses 12); extra_reels adds
    that many newer reels on top (to simulate new posts for incremental runs)."""
    niche = niche_of(username)
    t = TEXT[niche]
    r = _rng("acct", username)
    creator = username in CREATOR_NAMES
    followers = r.randint(20000, 120000) if creator else r.randint(80000, 900000)
    n = nreels if nreels is not None else r.randint(12, 30)
    median = max(800, int(followers * r.uniform(0.08, 0.35)))
    outliers = set(r.sample(range(n), min(n, r.randint(2, 3))))
    foreign_at = r.randrange(n) if (creator or r.random() < 0.3) else -1
    reels, transcripts = [], {}
    total = n + extra_reels
    for j in range(total):
        # Index i counts from the oldest reel so existing reels keep their
        # identity when extra (newer) reels are added on top.
        i = total - 1 - j
        rr = _rng("reel", username, i)
        code = shortcode(username, i)
        caption, kind = _caption(rr, t, i, foreign_at)
        views = int(median * rr.lognormvariate(0, 0.35))
        if i in outliers:
            views *= rr.randint(6, 25)
        likes = int(views * rr.uniform(0.03, 0.08))
        comments = int(likes * rr.uniform(0.01, 0.05))
        taken = ANCHOR - (n - 1 - i) * int(DAY * 1.7) - rr.randint(0, 7200)
        media = {
            "pk": pk(username, i), "id": f"{pk(username, i)}_{pk(username, -1) % 10**10}",
            "code": code, "media_type": 2, "product_type": "clips",
            "play_count": views, "like_count": likes, "comment_count": comments,
            "taken_at": taken,
            "caption": {"text": caption},
            "image_versions2": {"candidates": [
                {"url": f"https://scontent.cdninstagram.example/v/{code}_720.jpg",
                 "width": 720, "height": 1280}]},
            "video_duration": round(rr.uniform(7, 75), 1),
        }
        reels.append({"node": {"media": media}})
        if rr.random() < 0.85:
            first = caption.split("\n")[0]
            if kind == "foreign":
                lang, segs = t["foreign"][0], _segments(rr, first, kind, t, t["foreign"][2])
            else:
                lang, segs = "en", _segments(rr, first, kind, t)
            transcripts[code] = {"lang": lang, "availableLangs": [lang], "content": segs}
    profile = {
        "username": username, "full_name": FULL_NAMES.get(username, username.replace(".", " ").title()),
        "biography": t["bio"], "follower_count": followers, "following_count": r.randint(150, 1500),
        "media_count": total + r.randint(40, 400), "is_verified": followers > 500000,
        "is_business": r.random() < 0.6, "is_private": False,
        "profile_pic_url": f"https://scontent.cdninstagram.example/p/{username}_150.jpg",
        "hd_profile_pic_url": f"https://scontent.cdninstagram.example/p/{username}_1080.jpg",
        "category": niche.title(), "pk": pk(username, -1),
    }
    return {"profile": profile, "reels": reels, "transcripts": transcripts}


def reels_page(acct, page, page_size):
    """The reels answer for page number `page` (0-based)."""
    items = acct["reels"][page * page_size:(page + 1) * page_size]
    more = (page + 1) * page_size < len(acct["reels"])
    return {"reels": items, "pagination_token": str(page + 1) if more else None}


def transcript(acct, code):
    return acct["transcripts"].get(code, {"lang": None, "availableLangs": [], "content": []})


FIXTURE_PAGE_SIZE = 12


def jobs():
    out = []
    for k, (_n, creator, comps, strategy) in enumerate(CREATORS):
        out.append({"session_id": f"example-{k + 1:02d}-{creator}", "primary_username": creator,
                    "selected_competitors": comps, "content_strategy": strategy})
    return out


def write_all(outdir, jobs_path):
    def dump(path, doc):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
            f.write("\n")

    for user in sorted(NICHE_OF):
        acct = account(user)
        d = os.path.join(outdir, user)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.remove(os.path.join(d, old))
        dump(os.path.join(d, "profile.json"), acct["profile"])
        page = 0
        while True:
            doc = reels_page(acct, page, FIXTURE_PAGE_SIZE)
            dump(os.path.join(d, f"reels_{page}.json"), doc)
            if doc["pagination_token"] is None:
                break
            page += 1
        for code, tr in acct["transcripts"].items():
            dump(os.path.join(d, f"transcript_{code}.json"), tr)
    if jobs_path:
        dump(jobs_path, jobs())


if __name__ == "__main__":
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "examples", "instagram")
    jobs_path = os.path.join(root, "examples", "jobs.json") if len(sys.argv) <= 1 else None
    write_all(outdir, jobs_path)
    print(f"wrote {len(NICHE_OF)} accounts to {outdir}")

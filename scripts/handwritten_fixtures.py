#!/usr/bin/env python3
"""Hand-written example accounts, written the way creators actually post:
auto-captions without punctuation, lower case, emoji, hashtag walls, Spanish
and Portuguese mixed with English, a competitor who is a dermatologist (so a
copied "I'm a dermatologist" hook would be a false credential for an
esthetician). Invented people and numbers, like the generated fixtures.

  python3 scripts/handwritten_fixtures.py     # writes examples/instagram/<user>/
                                              # and examples/jobs-handwritten.json

The files have the same format as scripts/gen_fixtures.py's (the RapidAPI
answers the fixtures provider serves); gen_fixtures.py never touches these
accounts. Reel timestamps count back from 2026-11-28T00:00:00Z.
"""

import json
import os

T0 = 1795824000  # 2026-11-28T00:00:00Z
DAY = 86400

# username -> (full name, bio, followers, posts, category, reels)
# reel: (code, days ago, views, likes, comments, caption, transcript lines or None, lang)
ACCOUNTS = {
    "glow.with.vale": (
        "Vale 🌿 skincare", "esteticista 🌿 skincare sin complicaciones | bogotá 📍 citas por DM",
        12400, 212, "Beauty", [
            ("GV01", 1, 6200, 410, 22, "mi rutina de noche 🌙 nada complicado #skincare #nightroutine #skincarelatina",
             ["ok mi rutina de noche super simple", "limpiador suave", "hidratante", "y listo no necesitas más"], "es"),
            ("GV02", 3, 41000, 2900, 310, "stop buying 10 serums 🙅‍♀️ u need like 3 things ok #skincaretips #skincareroutine",
             ["ok so stop buying ten serums you need like three things", "a gentle cleanser a moisturizer and sunscreen",
              "thats it thats the routine", "comment rutina and ill send you mine"], "en"),
            ("GV03", 5, 5100, 300, 12, "morning skin check ☀️ protector solar todos los días aunque esté nublado #sunscreen",
             None, "es"),
            ("GV04", 8, 4300, 260, 9, "trying the viral pimple patches honest review 🤔 #acne #pimplepatch", None, "en"),
            ("GV05", 10, 7900, 520, 41, "lo que uso para piel seca en invierno 🥶 #dryskin #pielseca",
             ["si tienes la piel seca esto es para ti", "crema con ceramidas mañana y noche",
              "y nada de agua caliente en la cara"], "es"),
            ("GV06", 13, 3900, 210, 7, "client glow up 🥹✨ 6 semanas de constancia #facial #bogota", None, "es"),
            ("GV07", 16, 5600, 330, 18, "why ur skin is oily AND dehydrated 💧 #oilyskin #dehydratedskin",
             ["your skin can be oily and dehydrated at the same time", "when you strip it with harsh cleansers it makes more oil",
              "so be gentle with it"], "en"),
            ("GV08", 20, 4800, 280, 15, "spf reapplication sobre maquillaje 💄 truco fácil #sunscreen #maquillaje", None, "es"),
            ("GV09", 24, 3600, 190, 6, "domingo de mascarilla 🧖‍♀️ #selfcaresunday", None, "es"),
            ("GV10", 27, 6100, 400, 30, "ingredientes que NO debes mezclar ⚠️ #retinol #vitaminac",
             ["no mezcles retinol con ácidos la misma noche", "alterna los días", "tu barrera te lo va a agradecer"], "es"),
        ]),
    "skin.by.sofi": (
        "Sofi | skin tips", "skin tips daily ✨ licensed esthetician nyc 🗽 ebook ⬇️", 88000, 640, "Beauty", [
            ("SS01", 1, 210000, 15000, 820, "if i had to pick only 3 products it would be these 👇 #skincareroutine #barrierrepair #skincaretips",
             ["if i had to pick only three products it would be a gentle cleanser a barrier cream and sunscreen",
              "and honestly thats all you need", "everything else is extra"], "en"),
            ("SS02", 4, 96000, 7100, 400, "3 signs ur skin barrier is damaged 😬 #barrierrepair #sensitiveskin",
             ["three signs your skin barrier is damaged", "it stings when you put on moisturizer",
              "its tight after you wash it", "and its red for no reason"], "en"),
            ("SS03", 6, 12000, 800, 30, "double cleansing explained in 30 sec 🧼 #doublecleansing", None, "en"),
            ("SS04", 9, 11000, 700, 25, "sunscreen over makeup hack 🤫 #sunscreen #spf", None, "en"),
            ("SS05", 12, 14000, 900, 40, "niacinamide vs vitamin c which one first?? #niacinamide #vitaminc", None, "en"),
            ("SS06", 15, 88000, 6400, 510, "stop over exfoliating pls 🛑 ur barrier is crying #barrierrepair #exfoliation",
             ["stop over exfoliating please", "if you use acids every night your barrier is crying",
              "two times a week is plenty"], "en"),
            ("SS07", 19, 10000, 620, 22, "my 5 min routine before work ⏰ #skincareroutine #morningroutine", None, "en"),
            ("SS08", 23, 9500, 600, 18, "get ready with me ✨ #grwm", None, "en"),
            ("SS09", 26, 72000, 5200, 330, "the cheapest moisturizer that actually works 💸 #drugstoreskincare #barrierrepair",
             ["the cheapest moisturizer that actually works", "is a plain ceramide cream from the drugstore",
              "you dont need the forty dollar one"], "en"),
        ]),
    "dermadiaries.br": (
        "Dra. Ana | dermato", "médica dermatologista 🇧🇷 CRM-SP | pele saudável sem mito", 150000, 930, "Doctor", [
            ("DD01", 2, 260000, 19000, 1500, "I'm a dermatologist and these 3 products are all u need 🧴 #dermatologista #skincare",
             ["im a dermatologist and if i had to pick only three products it would be a gentle cleanser a moisturizer and sunscreen",
              "thats it"], "en"),
            ("DD02", 5, 30000, 2100, 90, "retinol para iniciantes 🧴 comece devagar #retinol #skincarebrasil",
             ["retinol para iniciantes", "comece duas vezes por semana", "sempre com hidratante e protetor solar de manhã"], "pt"),
            ("DD03", 8, 25000, 1800, 70, "protetor solar no inverno? SIM ☀️ #protetorsolar", None, "pt"),
            ("DD04", 11, 180000, 13000, 900, "3 mistakes ur making with retinol 😬 #retinol #skincaretips",
             ["three mistakes youre making with retinol", "using it every night from day one",
              "putting it on wet skin", "and skipping sunscreen the next morning"], "en"),
            ("DD05", 14, 22000, 1500, 60, "melasma: o que funciona de verdade #melasma", None, "pt"),
            ("DD06", 18, 27000, 1900, 80, "barrier repair em 7 dias 🧱 #barrierrepair", None, "pt"),
            ("DD07", 22, 20000, 1400, 50, "acne adulta tem tratamento ✅ #acneadulta", None, "pt"),
            ("DD08", 25, 140000, 9800, 700, "sunscreen reapplication the right way ☀️ #sunscreen #spf",
             ["youre probably reapplying sunscreen wrong", "you need two finger lengths for face and neck",
              "and reapply every two hours outside"], "en"),
        ]),
    "fitbymarcos": (
        "Marcos 🇧🇷 treino em casa", "treino em casa 🏠 pra quem não tem tempo | coaching online 📲", 21000, 330, "Fitness", [
            ("FM01", 1, 9000, 600, 40, "treino de 15 min sem equipamento 🔥 #treinoemcasa #homeworkout",
             ["treino de quinze minutos sem equipamento", "agachamento flexão e prancha", "três rodadas bora"], "pt"),
            ("FM02", 3, 52000, 3800, 260, "why ur not seeing results at home 😤 #homeworkout #fitnesstips",
             ["youre not seeing results at home because you do the same workout every day",
              "add reps or slow it down every week", "thats progressive overload at home"], "en"),
            ("FM03", 6, 7200, 450, 20, "café da manhã proteico 🍳 #proteina", None, "pt"),
            ("FM04", 9, 6800, 400, 15, "push up progression for beginners 💪 #pushups", None, "en"),
            ("FM05", 12, 8100, 520, 33, "não pule o aquecimento ⚠️ #aquecimento", None, "pt"),
            ("FM06", 15, 6400, 390, 12, "leg day em casa com mochila 🎒 #legday #treinoemcasa", None, "pt"),
            ("FM07", 19, 7600, 480, 25, "quanto descansar entre séries? #descanso #hipertrofia",
             ["quanto descansar entre séries", "pra força dois a três minutos", "pra hipertrofia um minuto e meio tá ótimo"], "pt"),
            ("FM08", 24, 5900, 350, 10, "sexta feira treino leve 😅 #sextou", None, "pt"),
        ]),
    "gymrat.lu": (
        "Lu | lifts", "lifting 4 yrs 🏋️‍♀️ form tips + programs 👇", 64000, 510, "Fitness", [
            ("GL01", 2, 150000, 11000, 600, "3 exercises i'd never skip as a beginner 🏋️‍♀️ #beginnerworkout #gymtips",
             ["three exercises id never skip as a beginner", "goblet squats romanian deadlifts and rows", "save this for your next gym day"], "en"),
            ("GL02", 5, 18000, 1200, 50, "hip thrust setup 🍑 #hipthrust", None, "en"),
            ("GL03", 8, 120000, 8600, 520, "ur squat depth is fine stop stressing 🙄 #squats #gymtips",
             ["your squat depth is fine stop stressing", "go as deep as you can with a neutral back", "thats it"], "en"),
            ("GL04", 11, 16000, 1000, 40, "deload week what and why #deload", None, "en"),
            ("GL05", 14, 15000, 950, 35, "gym bag essentials 🎒 #gymbag", None, "en"),
            ("GL06", 18, 95000, 7000, 410, "the warm up that fixed my knees 🦵 #kneepain #warmup",
             ["the warm up that fixed my knees", "five minutes of glute bridges and step ups before squats", "try it tomorrow"], "en"),
            ("GL07", 23, 14000, 900, 30, "leg day pump 😮‍💨 #legday", None, "en"),
        ]),
    "coach.kai.moves": (
        "Kai | mobility", "mobility coach 🧘 move better feel better | free mobility plan", 39000, 420, "Fitness", [
            ("CK01", 1, 11000, 700, 30, "desk worker hip routine 🪑 #mobility #deskjob", None, "en"),
            ("CK02", 4, 88000, 6300, 380, "5 min morning mobility no equipment ☀️ #mobility #morningroutine",
             ["five minute morning mobility no equipment", "cat cow worlds greatest stretch and deep squat hold", "do it before coffee"], "en"),
            ("CK03", 7, 9000, 560, 20, "ankle mobility test 🦶 #anklemobility", None, "en"),
            ("CK04", 10, 76000, 5400, 300, "stop stretching ur hamstrings like this ❌ #hamstrings #flexibility",
             ["stop stretching your hamstrings like this", "keep your back flat and hinge from the hips", "you will feel it way more"], "en"),
            ("CK05", 13, 8500, 520, 18, "shoulder mobility for push ups 💪 #shoulders", None, "en"),
            ("CK06", 17, 8200, 500, 15, "breathing drill before bed 😴 #breathwork", None, "en"),
            ("CK07", 21, 7900, 470, 12, "mobility vs flexibility whats the difference #mobility", None, "en"),
        ]),
}

JOBS = [
    {"session_id": "handwritten-01-glow.with.vale", "primary_username": "glow.with.vale",
     "selected_competitors": ["skin.by.sofi", "dermadiaries.br"],
     "content_strategy": {"contentType": "Talking-head skincare tips in Spanish and English",
                          "targetAudience": "Women 25-35 with sensitive skin on a budget",
                          "goals": "Book more facial appointments in Bogotá"}},
    {"session_id": "handwritten-02-fitbymarcos", "primary_username": "fitbymarcos",
     "selected_competitors": ["gymrat.lu", "coach.kai.moves"],
     "content_strategy": {"contentType": "Home workouts filmed on the phone",
                          "targetAudience": "Busy Brazilians in their 30s who train at home",
                          "goals": "Sell online coaching"}},
]


def media(user, r, i):
    code, days, views, likes, comments, caption, _tr, _lang = r
    pk = 3_100_000_000_000_000_000 + i * 7919 + sum(map(ord, code))
    return {"node": {"media": {
        "pk": pk, "id": f"{pk}_{sum(map(ord, user))}", "code": code, "media_type": 2,
        "product_type": "clips", "play_count": views, "like_count": likes, "comment_count": comments,
        "taken_at": T0 - days * DAY + 3600 * (i % 7), "caption": {"text": caption},
        "image_versions2": {"candidates": [{"url": f"https://scontent.cdninstagram.example/v/{code}_720.jpg",
                                            "width": 720, "height": 1280}]},
        "video_duration": 20.0 + 3 * i}}}


def transcript(lines, lang):
    out, off = [], 0
    for t in lines:
        d = 900 + 260 * len(t.split())
        out.append({"text": t, "offset": off, "duration": d})
        off += d
    return {"lang": lang, "availableLangs": [lang], "content": out}


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def dump(path, doc):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
            f.write("\n")

    for user, (name, bio, followers, posts, category, reels) in ACCOUNTS.items():
        d = os.path.join(root, "examples", "instagram", user)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.remove(os.path.join(d, old))
        pk = 4_000_000_000 + sum(map(ord, user))
        dump(os.path.join(d, "profile.json"), {
            "username": user, "full_name": name, "biography": bio, "follower_count": followers,
            "following_count": 300, "media_count": posts, "is_verified": False, "is_business": True,
            "is_private": False, "profile_pic_url": f"https://scontent.cdninstagram.example/p/{user}_150.jpg",
            "hd_profile_pic_url": f"https://scontent.cdninstagram.example/p/{user}_1080.jpg",
            "category": category, "pk": pk})
        dump(os.path.join(d, "reels_0.json"),
             {"reels": [media(user, r, i) for i, r in enumerate(reels)], "pagination_token": None})
        for r in reels:
            if r[6]:
                dump(os.path.join(d, f"transcript_{r[0]}.json"), transcript(r[6], r[7]))
    dump(os.path.join(root, "examples", "jobs-handwritten.json"), JOBS)
    print(f"wrote {len(ACCOUNTS)} hand-written accounts")


if __name__ == "__main__":
    main()

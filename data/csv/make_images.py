#!/usr/bin/env python3
"""Generate the demo product images (images/<sku>.svg) from products.csv.

Stdlib only and rerunnable: every run overwrites the SVG files.  Each image
is a flat illustration picked by category (with a few keyword overrides),
coloured with a palette of the top-level category and varied per product by
a seed derived from the SKU.  The product name is shown in a label.

Usage:  python3 make_images.py   (run from anywhere)
"""
import csv
import hashlib
import random
import sys
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
FONT = "system-ui, sans-serif"

# top-level slug -> (background top, background bottom, product colours)
PALETTES = {
    "kueche-haushalt": ("#fff6ea", "#ffd9b8", ["#2f3e46", "#b5651d", "#7d8597", "#c0392b", "#386641"]),
    "buecher": ("#f6f1e7", "#dccaa2", ["#1d3557", "#7b2d26", "#2a6f4e", "#5e548e", "#b07d12"]),
    "lebensmittel": ("#fdf6e3", "#f2cf93", ["#8a5a2b", "#c1440e", "#6a994e", "#bc4749", "#3d5a80"]),
    "garten": ("#eef7e8", "#bcdca9", ["#386641", "#bc6c25", "#457b9d", "#6c757d", "#a44a3f"]),
    "spielzeug": ("#eaf5ff", "#b3d7fb", ["#e63946", "#f4a261", "#2a9d8f", "#ffb703", "#8338ec"]),
    "buero-schreibwaren": ("#f2f4f9", "#cbd5ea", ["#264653", "#e76f51", "#3a86ff", "#2b2d42", "#2a9d8f"]),
    "bad-pflege": ("#effaf8", "#bde5de", ["#5fa8a0", "#e9a23b", "#9d7aa6", "#6b9080", "#d97b86"]),
    "sport-freizeit": ("#eef6fb", "#add6ee", ["#ef476f", "#118ab2", "#06a77d", "#ff9f1c", "#3d405b"]),
    "wohnen-deko": ("#fbf4f0", "#e9cfc3", ["#9c6644", "#6d597a", "#b56576", "#355070", "#c9a227"]),
    "elektronik-zubehoer": ("#eff1f5", "#c2c8d6", ["#22223b", "#4a4e69", "#0077b6", "#2b9348", "#e63946"]),
    "tierbedarf": ("#fff7ec", "#f4d3a8", ["#bc6c25", "#3d5a80", "#e07a5f", "#81b29a", "#6d597a"]),
}
DEFAULT_PALETTE = ("#f4f4f4", "#d6d6d6", ["#44546a", "#a05a2c", "#2a9d8f"])

# category slug -> default motif
CATEGORY_MOTIF = {
    "toepfe-pfannen": "pan", "messer-schneidebretter": "knife", "kuechenhelfer": "utensils",
    "kleingeraete": "kettle", "romane": "book", "kochbuecher": "book", "kinderbuecher": "book",
    "sachbuecher": "book", "buecher": "book", "muesli-fruehstueck": "bag", "kaffee-tee": "cup",
    "feinkost": "jar", "lebensmittel": "jar", "gartenwerkzeug": "trowel", "pflanzgefaesse": "plant",
    "erde-duenger": "sack", "bewaesserung": "can", "garten": "plant", "holzspielzeug": "train",
    "spiele-puzzles": "dice", "outdoor-spielzeug": "beachball", "spielzeug": "train",
    "schreibgeraete": "pen", "papier-notizbuecher": "notebook", "ordnung-ablage": "binders",
    "buero-schreibwaren": "notebook", "koerperpflege": "pump", "haarpflege": "flipbottle",
    "bad-accessoires": "towels", "bad-pflege": "pump", "fitness": "dumbbell", "ballsport": "ball",
    "camping-outdoor": "tent", "sport-freizeit": "ball", "leuchten": "lamp", "kerzen-duefte": "candle",
    "heimtextilien": "cushion", "vasen-dekoration": "vase", "wohnen-deko": "vase",
    "elektronik-zubehoer": "cable", "tierbedarf": "petbowl",
}
# (keyword in lower-case product name, motif); first match wins, checked before the category motif
KEYWORD_MOTIF = [
    ("naturseife", "soap"), ("schneidebrett", "board"), ("frühstücksbrett", "board"), ("toaster", "toaster"),
    ("siebträger", "cup"), ("milchaufschäumer", "cup"), ("kaffeemühle", "cup"),
    ("honig", "jar"), ("aufstrich", "jar"), ("olivenöl", "bottle"), ("rapsöl", "bottle"),
    ("balsamico", "bottle"), ("schokolade 70", "bar"), ("schlauch", "hose"),
    ("quartett", "cards"), ("memo-spiel", "cards"), ("drachen", "kite"), ("diffuser", "diffuser"),
    ("hängeleuchte", "pendant"), ("lichterkette", "lights"), ("trinkflasche", "bottle"),
    ("powerbank", "powerbank"), ("lautsprecher", "speaker"), ("tischtennis", "racket"),
    ("badminton", "racket"), ("yogamatte", "roll"), ("faszienrolle", "roll"), ("bürste", "brush"),
    ("festes shampoo", "soap"), ("handcreme", "tube"), ("badesalz", "jar"),
    ("seifenspender", "pump"), ("seifenblasen", "bubbles"), ("sandspielzeug", "bucket"),
    ("springseil", "rope"), ("widerstandsbänder", "rope"), ("puzzle 1000", "puzzle"), ("haftnotizen", "notes"),
    ("regentonne", "barrel"), ("deko-schale", "bowl"), ("bilderrahmen", "frame"), ("wolldecke", "towels"),
    ("läufer", "towels"), ("vorhang", "towels"), ("handtuch", "towels"),
]


def hexrgb(c):
    return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)


def mix(c, other, t):
    a, b = hexrgb(c), hexrgb(other)
    return "#%02x%02x%02x" % tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def dark(c, t=0.3):
    return mix(c, "#000000", t)


def light(c, t=0.35):
    return mix(c, "#ffffff", t)


# ---------------------------------------------------------------- motifs ---
# Every motif gets (rng, colours, name) and returns SVG elements drawn in the
# area x 90..510, y 60..430 of the 600x600 canvas.

def m_pan(r, cs, name):
    m = r.choice(["#2f3e46", "#b87333", "#7d8597", "#3d405b"])
    s = (f'<rect x="370" y="236" width="190" height="36" rx="18" fill="{dark(m, .4)}" transform="rotate(-18 370 254)"/>'
         f'<circle cx="258" cy="266" r="150" fill="#000" opacity=".08"/>'
         f'<circle cx="250" cy="254" r="150" fill="{m}"/><circle cx="250" cy="254" r="126" fill="{light(m, .15)}"/>')
    if r.random() < .5:
        s += '<path d="M185 250q-10-60 50-70t70 40q30 50-35 70t-85-40z" fill="#fff"/><circle cx="245" cy="245" r="26" fill="#f4a300"/>'
    else:
        s += f'<path d="M160 210a100 100 0 0 1 90-70" stroke="#fff" stroke-opacity=".35" stroke-width="14" fill="none" stroke-linecap="round"/>'
    return s


def m_board(r, cs, name):
    wood = r.choice(["#c89f6d", "#b07b4f", "#d9b382"])
    return (f'<g transform="rotate(-6 300 270)"><rect x="110" y="165" width="380" height="230" rx="30" fill="{dark(wood, .15)}"/>'
            f'<rect x="110" y="155" width="380" height="230" rx="30" fill="{wood}"/>'
            f'<rect x="135" y="180" width="330" height="180" rx="18" fill="none" stroke="{dark(wood, .12)}" stroke-width="4"/>'
            f'<circle cx="445" cy="200" r="13" fill="{dark(wood, .35)}"/>'
            f'<path d="M170 250q80-20 160 0t110 10M170 300q90-15 170 5" stroke="{dark(wood, .1)}" stroke-width="4" fill="none"/></g>')


def m_knife(r, cs, name):
    h = r.choice(["#5a3a22", "#2b2d42", "#7b2d26", "#3a5a40"])
    return (m_board(r, cs, name) +
            f'<g transform="rotate(-14 300 260)"><path d="M130 262L400 240V290Q250 300 130 262Z" fill="#e3e7ec" stroke="#9aa5b1" stroke-width="3"/>'
            f'<path d="M140 262L400 246" stroke="#fff" stroke-width="4"/>'
            f'<rect x="398" y="236" width="140" height="50" rx="14" fill="{h}"/>'
            f'<circle cx="430" cy="261" r="6" fill="#d8d8d8"/><circle cx="468" cy="261" r="6" fill="#d8d8d8"/><circle cx="506" cy="261" r="6" fill="#d8d8d8"/></g>')


def m_utensils(r, cs, name):
    a, b = r.sample(cs, 2)
    return (f'<path d="M262 300L212 120" stroke="#b07b4f" stroke-width="14" stroke-linecap="round"/>'
            f'<ellipse cx="205" cy="100" rx="28" ry="42" fill="#b07b4f" transform="rotate(-16 205 100)"/>'
            f'<path d="M300 300V150" stroke="#8d99ae" stroke-width="12"/>'
            f'<ellipse cx="300" cy="115" rx="36" ry="62" fill="none" stroke="#a9b4c2" stroke-width="6"/>'
            f'<ellipse cx="300" cy="115" rx="16" ry="62" fill="none" stroke="#a9b4c2" stroke-width="6"/>'
            f'<path d="M338 300L382 140" stroke="{b}" stroke-width="14" stroke-linecap="round"/>'
            f'<rect x="362" y="70" width="56" height="80" rx="14" fill="{b}" transform="rotate(16 390 110)"/>'
            f'<path d="M190 235H410L392 415H208Z" fill="{a}"/><rect x="180" y="222" width="240" height="26" rx="10" fill="{dark(a)}"/>'
            f'<rect x="200" y="300" width="200" height="18" fill="{light(a, .5)}"/>')


def m_kettle(r, cs, name):
    c = r.choice(cs + ["#c0c7d0"])
    d = dark(c)
    s = (f'<path d="M385 215Q480 230 440 385" stroke="{d}" stroke-width="24" fill="none" stroke-linecap="round"/>'
         f'<path d="M222 250L140 195L152 182L232 220Z" fill="{d}"/>'
         f'<path d="M200 395L222 205Q300 185 378 205L400 395Z" fill="{c}"/>'
         f'<ellipse cx="300" cy="203" rx="82" ry="15" fill="{d}"/><rect x="283" y="170" width="34" height="26" rx="8" fill="{d}"/>'
         f'<rect x="248" y="255" width="22" height="110" rx="10" fill="#fff" opacity=".4"/>'
         f'<rect x="170" y="392" width="260" height="28" rx="12" fill="#2b2b2b"/>')
    if r.random() < .6:
        s += '<path d="M135 165q-15-25 0-45t0-45M165 160q-15-25 0-45" stroke="#fff" stroke-width="8" fill="none" stroke-linecap="round" opacity=".8"/>'
    return s


def m_toaster(r, cs, name):
    c = r.choice(cs)
    return (f'<rect x="150" y="190" width="300" height="210" rx="60" fill="{c}"/>'
            f'<rect x="205" y="186" width="70" height="14" rx="6" fill="{dark(c, .5)}"/><rect x="325" y="186" width="70" height="14" rx="6" fill="{dark(c, .5)}"/>'
            f'<path d="M212 190v-50q28-30 56 0v50z" fill="#e0a96d"/><path d="M332 190v-60q28-30 56 0v60z" fill="#d4915a"/>'
            f'<rect x="175" y="230" width="250" height="14" rx="7" fill="#fff" opacity=".35"/>'
            f'<rect x="430" y="270" width="30" height="14" rx="6" fill="{dark(c)}"/><circle cx="300" cy="330" r="18" fill="{light(c, .5)}"/>'
            f'<rect x="175" y="398" width="40" height="16" rx="6" fill="#2b2b2b"/><rect x="385" y="398" width="40" height="16" rx="6" fill="#2b2b2b"/>')


def m_book(r, cs, name, cat=""):
    c = r.choice(cs)
    d = dark(c, .35)
    g = "#e9c46a"
    s = (f'<rect x="212" y="100" width="228" height="318" rx="8" fill="#f8f3e6" stroke="#d8ccb0" stroke-width="3"/>'
         f'<path d="M420 115V405M428 118V402" stroke="#d8ccb0" stroke-width="2"/>'
         f'<rect x="175" y="84" width="245" height="320" rx="10" fill="{c}"/>'
         f'<rect x="175" y="84" width="40" height="320" rx="10" fill="{d}"/><rect x="200" y="84" width="15" height="320" fill="{d}"/>'
         f'<rect x="175" y="115" width="40" height="8" fill="{g}"/><rect x="175" y="365" width="40" height="8" fill="{g}"/>'
         f'<rect x="245" y="130" width="145" height="66" rx="6" fill="#fff" opacity=".9"/>'
         f'<rect x="262" y="148" width="110" height="10" rx="5" fill="{d}"/><rect x="280" y="168" width="74" height="8" rx="4" fill="{light(c)}"/>')
    if cat == "kinderbuecher":
        s += f'<path d="M317 240l17 36 39 5-29 27 8 39-35-19-35 19 8-39-29-27 39-5z" fill="{g}"/>'
    elif cat == "kochbuecher":
        s += (f'<circle cx="317" cy="295" r="48" fill="#fff" opacity=".85"/><circle cx="317" cy="295" r="32" fill="none" stroke="{light(c, .2)}" stroke-width="5"/>'
              f'<path d="M252 255v80M247 255v25q5 10 10 0v-25M382 255q16 20 0 45v35" stroke="#fff" stroke-width="6" fill="none" stroke-linecap="round"/>')
    elif cat == "sachbuecher":
        s += (f'<circle cx="317" cy="295" r="52" fill="none" stroke="{g}" stroke-width="6"/>'
              f'<path d="M317 250l14 45-14 45-14-45z" fill="{g}"/><circle cx="317" cy="295" r="6" fill="{d}"/>')
    else:
        s += f'<path d="M317 345c-60-40-75-70-60-95s45-15 60 10c15-25 45-35 60-10s0 55-60 95z" fill="{g}"/>'
    return s


def m_bag(r, cs, name):
    c = r.choice(cs)
    dots = "".join(f'<circle cx="{r.randint(250, 350)}" cy="{r.randint(252, 338)}" r="{r.randint(5, 9)}" fill="{r.choice(["#c8a165", "#a8743c", "#8e2c48", "#d9b77e", "#5b3a29"])}"/>' for _ in range(14))
    return (f'<path d="M190 122H410L428 405Q300 425 172 405Z" fill="{c}"/>'
            f'<rect x="186" y="106" width="228" height="30" rx="4" fill="{dark(c)}"/>'
            f'<path d="M196 121h208" stroke="{light(c)}" stroke-width="3" stroke-dasharray="8 6"/>'
            f'<rect x="214" y="160" width="172" height="48" rx="10" fill="#fffaf0"/><rect x="236" y="178" width="128" height="12" rx="6" fill="{c}"/>'
            f'<rect x="236" y="236" width="128" height="120" rx="56" fill="#f3e2c0"/>{dots}'
            f'<rect x="236" y="236" width="128" height="120" rx="56" fill="none" stroke="#fff" stroke-width="6"/>')


def m_jar(r, cs, name):
    n = name.lower()
    fill = ("#e8a317" if "honig" in n else "#b3243c" if "erdbeer" in n else "#c2462f" if "tomat" in n
            else "#6b8e23" if "pesto" in n else "#d9b23a" if "senf" in n else r.choice(["#c1440e", "#e1b866", "#7a9a3a", "#f0e6d8"]))
    lid = r.choice(["#c9a227", "#2f3e46", "#bc4749", "#6a994e"])
    s = (f'<rect x="198" y="168" width="204" height="245" rx="36" fill="{fill}"/>'
         f'<rect x="222" y="192" width="20" height="190" rx="10" fill="#fff" opacity=".35"/>'
         f'<rect x="208" y="126" width="184" height="50" rx="10" fill="{lid}"/>'
         f'<path d="M225 140v22M255 140v22M285 140v22M315 140v22M345 140v22M375 140v22" stroke="{dark(lid, .2)}" stroke-width="4"/>'
         f'<rect x="215" y="250" width="170" height="92" rx="12" fill="#fffaf0"/>'
         f'<rect x="240" y="276" width="120" height="12" rx="6" fill="{dark(fill, .2)}"/><rect x="262" y="300" width="76" height="9" rx="4" fill="#b9ad98"/>')
    if r.random() < .5:
        s += f'<path d="M200 180q100-30 200 0l-12 28q-88-24-176 0z" fill="#fff" opacity=".8"/>'
    return s


def m_bottle(r, cs, name):
    n = name.lower()
    c = ("#6b7f2a" if "oliven" in n else "#e0b020" if "raps" in n else "#3b1e14" if "balsamico" in n
         else r.choice(cs))
    cap = r.choice(["#c9a227", "#2b2b2b", "#8d99ae"])
    return (f'<path d="M222 235Q222 190 268 168V112H332V168Q378 190 378 235V405Q378 420 363 420H237Q222 420 222 405Z" fill="{c}"/>'
            f'<rect x="262" y="84" width="76" height="36" rx="8" fill="{cap}"/>'
            f'<rect x="238" y="200" width="16" height="190" rx="8" fill="#fff" opacity=".3"/>'
            f'<rect x="240" y="270" width="120" height="96" rx="10" fill="#fffaf0"/>'
            f'<rect x="258" y="295" width="84" height="12" rx="6" fill="{c}"/><rect x="272" y="320" width="56" height="9" rx="4" fill="#b9ad98"/>')


def m_bar(r, cs, name):
    return ('<g transform="rotate(-10 300 270)"><rect x="150" y="150" width="300" height="230" rx="12" fill="#4a2c20"/>'
            + "".join(f'<rect x="{170 + 92 * i}" y="{170 + 70 * j}" width="76" height="56" rx="6" fill="#5b3a29"/>' for i in range(3) for j in range(3))
            + f'<path d="M150 250H450V380H162Q150 380 150 368Z" fill="{r.choice(cs)}"/>'
            '<rect x="200" y="285" width="200" height="60" rx="8" fill="#fffaf0"/><rect x="225" y="308" width="150" height="12" rx="6" fill="#4a2c20"/></g>')


def m_cup(r, cs, name):
    n = name.lower()
    c = r.choice(cs + ["#f4f1ea"])
    liq = ("#b3263a" if "frucht" in n or "früchte" in n else "#9bb55a" if "grün" in n else "#d4a64a" if "kräuter" in n
           else "#a0522d" if "tee" in n else "#4a2c20" if "schoko" in n else "#5b3a29")
    s = (f'<ellipse cx="300" cy="398" rx="175" ry="28" fill="{light(c, .5)}"/><ellipse cx="300" cy="392" rx="120" ry="14" fill="{dark(c, .1)}"/>'
         f'<circle cx="425" cy="290" r="40" fill="none" stroke="{c}" stroke-width="20"/>'
         f'<path d="M180 228H420Q415 385 300 392Q185 385 180 228Z" fill="{c}"/>'
         f'<ellipse cx="300" cy="229" rx="120" ry="20" fill="{liq}"/>'
         f'<ellipse cx="300" cy="229" rx="120" ry="20" fill="none" stroke="{dark(c, .15)}" stroke-width="4"/>'
         f'<path d="M205 260q5 70 50 100" stroke="#fff" stroke-width="10" fill="none" opacity=".35" stroke-linecap="round"/>'
         f'<path d="M255 195q-20-30 0-55t0-55M300 190q-20-30 0-55t0-55M345 195q-20-30 0-55t0-55" stroke="#fff" stroke-width="9" fill="none" stroke-linecap="round" opacity=".8"/>')
    if "tee" in n and "schoko" not in n:
        s += f'<path d="M360 230Q395 250 400 318" stroke="#ddd" stroke-width="3" fill="none"/><rect x="382" y="316" width="36" height="42" rx="4" fill="{r.choice(cs)}"/>'
    elif "bohnen" in n or "kaffee" in n:
        for x, y, a in ((130, 410, 20), (465, 405, -30), (500, 375, 50)):
            s += f'<g transform="rotate({a} {x} {y})"><ellipse cx="{x}" cy="{y}" rx="20" ry="14" fill="#5b3a29"/><path d="M{x - 16} {y}q16-8 32 0" stroke="#2e1a10" stroke-width="3" fill="none"/></g>'
    return s


def m_trowel(r, cs, name):
    h = r.choice(["#b07b4f", "#c1440e", "#386641"])
    return ('<g transform="rotate(35 300 260)">'
            f'<rect x="270" y="60" width="60" height="150" rx="28" fill="{h}"/><circle cx="300" cy="85" r="9" fill="{dark(h, .4)}"/>'
            '<rect x="280" y="205" width="40" height="40" rx="6" fill="#8d99ae"/>'
            '<path d="M240 240H360Q372 360 300 445Q228 360 240 240Z" fill="#c9d1d9"/>'
            '<path d="M300 250V420" stroke="#9aa5b1" stroke-width="6"/><path d="M255 255Q250 330 280 390" stroke="#fff" stroke-width="8" fill="none" opacity=".6"/></g>')


def m_plant(r, cs, name):
    pot = r.choice(["#c8643b", "#b5651d", "#6c757d", "#e9c46a", "#457b9d"])
    leaf = r.choice(["#4f7942", "#6a994e", "#386641"])
    leaves = ""
    for a in r.sample([-60, -35, -12, 12, 35, 60], 5):
        leaves += f'<ellipse cx="300" cy="175" rx="26" ry="80" fill="{leaf if a % 2 else light(leaf, .2)}" transform="rotate({a} 300 255)"/>'
    return (f'{leaves}<path d="M300 255V170" stroke="{dark(leaf)}" stroke-width="6"/>'
            f'<path d="M205 280H395L370 420H230Z" fill="{pot}"/><rect x="192" y="258" width="216" height="40" rx="8" fill="{dark(pot, .15)}"/>'
            f'<path d="M222 330H378" stroke="{light(pot)}" stroke-width="6"/>')


def m_sack(r, cs, name):
    c = r.choice(cs)
    return (f'<path d="M200 140Q300 110 400 140L420 400Q300 430 180 400Z" fill="{c}"/>'
            f'<path d="M198 140Q300 112 402 140L398 165Q300 140 202 165Z" fill="{dark(c)}"/>'
            '<rect x="225" y="215" width="150" height="140" rx="16" fill="#fffaf0"/>'
            f'<path d="M300 330Q250 300 270 245Q320 260 300 330Z" fill="#6a994e"/><path d="M300 330Q345 290 335 240Q290 265 300 330Z" fill="#386641"/>'
            f'<path d="M300 335V300" stroke="#386641" stroke-width="4"/>'
            f'<path d="M205 380Q300 395 395 380" stroke="{light(c)}" stroke-width="6" fill="none"/>')


def m_can(r, cs, name):
    c = r.choice(["#9aa5b1", "#457b9d", "#386641", "#bc4749"])
    d = dark(c)
    return (f'<path d="M250 200Q300 90 390 190" stroke="{d}" stroke-width="20" fill="none"/>'
            f'<path d="M225 300L120 180" stroke="{d}" stroke-width="22" stroke-linecap="round"/>'
            f'<rect x="92" y="150" width="60" height="44" rx="12" fill="{d}" transform="rotate(-40 122 172)"/>'
            f'<path d="M215 215H395V405H215Z" fill="{c}"/><ellipse cx="305" cy="215" rx="90" ry="16" fill="{light(c)}"/>'
            f'<path d="M215 260H395M215 360H395" stroke="{d}" stroke-width="6"/>'
            f'<path d="M395 250Q450 255 440 330L395 360" stroke="{d}" stroke-width="16" fill="none"/>'
            '<circle cx="105" cy="215" r="6" fill="#8ecae6"/><circle cx="125" cy="240" r="5" fill="#8ecae6"/><circle cx="90" cy="250" r="5" fill="#8ecae6"/>')


def m_hose(r, cs, name):
    c = r.choice(["#2a9d8f", "#6a994e", "#e76f51"])
    return (f'<circle cx="300" cy="260" r="150" fill="none" stroke="{dark(c)}" stroke-width="26"/>'
            f'<circle cx="300" cy="260" r="118" fill="none" stroke="{c}" stroke-width="26"/>'
            f'<circle cx="300" cy="260" r="86" fill="none" stroke="{dark(c)}" stroke-width="26"/>'
            f'<circle cx="300" cy="260" r="54" fill="none" stroke="{c}" stroke-width="26"/>'
            f'<path d="M445 290Q480 360 430 400" stroke="{c}" stroke-width="26" fill="none"/>'
            '<rect x="385" y="385" width="70" height="40" rx="10" fill="#ffb703"/>')


def m_train(r, cs, name):
    a, b, c = r.sample(cs, 3)
    wheels = "".join(f'<circle cx="{x}" cy="385" r="26" fill="#3b2a1a"/><circle cx="{x}" cy="385" r="9" fill="#e9c46a"/>' for x in (150, 235, 355, 450))
    return (f'<rect x="110" y="270" width="170" height="100" rx="12" fill="{a}"/><rect x="200" y="185" width="80" height="95" rx="10" fill="{dark(a, .2)}"/>'
            f'<rect x="215" y="205" width="50" height="40" rx="6" fill="#cfe8ff"/><rect x="135" y="215" width="34" height="60" rx="6" fill="{b}"/>'
            f'<rect x="126" y="200" width="52" height="20" rx="6" fill="{dark(b)}"/><rect x="285" y="330" width="30" height="12" fill="#b07b4f"/>'
            f'<rect x="315" y="300" width="180" height="70" rx="10" fill="{c}"/>'
            f'<rect x="330" y="250" width="50" height="50" rx="6" fill="#ffb703"/><rect x="385" y="260" width="45" height="40" rx="6" fill="{b}"/>'
            f'<path d="M435 300l25-45 25 45z" fill="#2a9d8f"/>{wheels}'
            '<path d="M90 418H510" stroke="#b07b4f" stroke-width="10" stroke-linecap="round"/>')


def m_dice(r, cs, name):
    a, b = r.sample(cs, 2)

    def die(x, y, rot, col, n):
        pos = {1: [(0, 0)], 2: [(-1, -1), (1, 1)], 3: [(-1, -1), (0, 0), (1, 1)], 4: [(-1, -1), (1, -1), (-1, 1), (1, 1)],
               5: [(-1, -1), (1, -1), (0, 0), (-1, 1), (1, 1)], 6: [(-1, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (1, 1)]}[n]
        pips = "".join(f'<circle cx="{x + 40 * i}" cy="{y + 40 * j}" r="13" fill="#fff"/>' for i, j in pos)
        return (f'<g transform="rotate({rot} {x} {y})"><rect x="{x - 85}" y="{y - 77}" width="170" height="170" rx="30" fill="{dark(col)}"/>'
                f'<rect x="{x - 85}" y="{y - 85}" width="170" height="170" rx="30" fill="{col}"/>{pips}</g>')
    return die(215, 300, -12, a, r.randint(1, 6)) + die(385, 215, 14, b, r.randint(1, 6))


def m_cards(r, cs, name):
    s = ""
    for i, a in enumerate((-24, -8, 8, 24)):
        col = cs[(i + r.randint(0, 4)) % len(cs)]
        s += (f'<g transform="rotate({a} 300 430)"><rect x="225" y="120" width="150" height="220" rx="14" fill="#fff" stroke="#d0d7e2" stroke-width="3"/>'
              f'<rect x="240" y="135" width="120" height="120" rx="8" fill="{col}"/><rect x="245" y="275" width="110" height="10" rx="5" fill="#ccd"/>'
              f'<rect x="245" y="298" width="80" height="10" rx="5" fill="#ccd"/></g>')
    return s


def m_beachball(r, cs, name):
    a, b, c = r.sample(cs, 3)
    return ('<circle cx="300" cy="255" r="150" fill="#fff"/>'
            f'<ellipse cx="300" cy="255" rx="112" ry="150" fill="{a}"/><ellipse cx="300" cy="255" rx="70" ry="150" fill="#fff"/>'
            f'<ellipse cx="300" cy="255" rx="32" ry="150" fill="{b}"/>'
            f'<path d="M188 155A150 150 0 0 1 300 105V405A150 150 0 0 1 188 355" fill="{c}" opacity=".25"/>'
            '<circle cx="300" cy="255" r="150" fill="none" stroke="#000" stroke-opacity=".12" stroke-width="4"/>'
            '<ellipse cx="240" cy="180" rx="30" ry="18" fill="#fff" opacity=".6" transform="rotate(-35 240 180)"/>')


def m_kite(r, cs, name):
    a, b, c, d = r.sample(cs, 4)
    return (f'<path d="M300 70L420 220L300 230Z" fill="{a}"/><path d="M300 70L180 220L300 230Z" fill="{b}"/>'
            f'<path d="M180 220L300 230L300 390Z" fill="{c}"/><path d="M420 220L300 230L300 390Z" fill="{d}"/>'
            '<path d="M300 390q-30 20 0 40t-10 30" stroke="#555" stroke-width="3" fill="none"/>'
            f'<path d="M290 410l-20-10v20zM300 440l22-10v20z" fill="{a}"/>')


def m_pen(r, cs, name):
    c = r.choice(cs)
    return ('<g transform="rotate(-40 300 260)">'
            f'<rect x="270" y="40" width="60" height="270" rx="22" fill="{c}"/><rect x="270" y="245" width="60" height="18" fill="#c9a227"/>'
            f'<rect x="322" y="60" width="12" height="140" rx="6" fill="#c9a227"/>'
            f'<path d="M272 300H328L315 395Q300 420 285 395Z" fill="{dark(c, .45)}"/>'
            '<path d="M285 395L300 470L315 395Z" fill="#d4af37"/><path d="M300 420V460" stroke="#5a4a1a" stroke-width="3"/>'
            '<rect x="282" y="60" width="10" height="170" rx="5" fill="#fff" opacity=".3"/></g>'
            '<path d="M120 440q40-30 80 0t80 0" stroke="#3a86ff" stroke-width="6" fill="none" stroke-linecap="round"/>')


def m_notebook(r, cs, name):
    c = r.choice(cs)
    return ('<rect x="190" y="88" width="240" height="320" rx="14" fill="#f3efe4"/>'
            f'<rect x="172" y="78" width="244" height="322" rx="16" fill="{c}"/>'
            f'<rect x="172" y="78" width="30" height="322" rx="14" fill="{dark(c, .2)}"/>'
            f'<rect x="370" y="78" width="16" height="322" fill="{dark(c, .45)}"/>'
            f'<path d="M300 400v55l16-14 16 14v-55z" fill="#e9c46a"/>'
            '<rect x="230" y="140" width="120" height="52" rx="8" fill="#fff" opacity=".9"/>'
            f'<path d="M245 158h90M245 175h60" stroke="{light(c, .3)}" stroke-width="6" stroke-linecap="round"/>')


def m_binders(r, cs, name):
    s = ""
    for i, col in enumerate(r.sample(cs, 3)):
        x = 150 + i * 105
        s += (f'<rect x="{x}" y="110" width="92" height="305" rx="10" fill="{col}"/>'
              f'<rect x="{x + 16}" y="140" width="60" height="110" rx="6" fill="#fffaf0"/>'
              f'<path d="M{x + 26} 170h40M{x + 26} 190h30" stroke="#999" stroke-width="5"/>'
              f'<circle cx="{x + 46}" cy="340" r="16" fill="{dark(col, .45)}"/>')
    return s


def m_pump(r, cs, name):
    c = r.choice(cs)
    return (f'<rect x="283" y="100" width="34" height="70" fill="#e6e6e6"/><path d="M270 100H390V125H300Z" fill="#d0d0d0"/>'
            f'<rect x="262" y="160" width="76" height="40" rx="8" fill="{dark(c, .25)}"/>'
            f'<rect x="215" y="195" width="170" height="225" rx="40" fill="{c}"/>'
            '<rect x="235" y="255" width="130" height="110" rx="10" fill="#fffaf0"/>'
            f'<path d="M300 280q-25 22 0 55q25-33 0-55z" fill="{light(c, .1)}"/><path d="M260 348h80" stroke="#bbb" stroke-width="6"/>'
            '<rect x="232" y="215" width="14" height="150" rx="7" fill="#fff" opacity=".35"/>')


def m_flipbottle(r, cs, name):
    c = r.choice(cs)
    return (f'<path d="M230 110Q300 90 370 110L390 390Q300 405 210 390Z" fill="{c}"/>'
            f'<rect x="228" y="385" width="144" height="40" rx="12" fill="{dark(c, .35)}"/>'
            '<rect x="245" y="190" width="110" height="120" rx="12" fill="#fffaf0"/>'
            f'<path d="M300 215v70M285 240q15-15 15 0M315 260q-15-15-15 0" stroke="{c}" stroke-width="7" fill="none" stroke-linecap="round"/>'
            '<rect x="250" y="130" width="14" height="230" rx="7" fill="#fff" opacity=".35"/>')


def m_tube(r, cs, name):
    c = r.choice(cs)
    return ('<g transform="rotate(-25 300 260)">'
            f'<path d="M230 90H370L360 110Q345 330 345 345H255Q255 330 240 110Z" fill="#fffaf0"/>'
            f'<rect x="222" y="76" width="156" height="22" rx="6" fill="{light(c, .3)}"/>'
            f'<path d="M250 140H350L340 300H260Z" fill="{c}"/><circle cx="300" cy="200" r="26" fill="#f6bd60"/>'
            f'<rect x="262" y="342" width="76" height="70" rx="12" fill="{dark(c, .2)}"/></g>')


def m_soap(r, cs, name):
    c = r.choice(["#f1d9a7", "#d7c4e0", "#c9e4c5", "#f4c6b8"])
    bub = "".join(f'<circle cx="{x}" cy="{y}" r="{rr}" fill="#fff" opacity=".7" stroke="#9cc" stroke-width="2"/>' for x, y, rr in ((180, 150, 26), (230, 110, 16), (420, 140, 20)))
    return (f'<rect x="160" y="220" width="280" height="170" rx="46" fill="{dark(c, .15)}"/>'
            f'<rect x="160" y="200" width="280" height="170" rx="46" fill="{c}"/>'
            f'<rect x="220" y="250" width="160" height="70" rx="30" fill="none" stroke="{dark(c, .2)}" stroke-width="6"/>{bub}')


def m_brush(r, cs, name):
    return ('<g transform="rotate(-30 300 260)"><rect x="270" y="250" width="60" height="200" rx="28" fill="#c89f6d"/>'
            '<ellipse cx="300" cy="180" rx="95" ry="120" fill="#b07b4f"/><ellipse cx="300" cy="180" rx="75" ry="98" fill="#3b2a1a"/>'
            + "".join(f'<circle cx="{x}" cy="{y}" r="5" fill="#c9b79c"/>' for x in range(250, 360, 25) for y in range(110, 260, 30))
            + '</g>')


def m_towels(r, cs, name):
    s = ""
    cols = r.sample(cs, 3)
    for i, col in enumerate(cols):
        y = 330 - i * 85
        s += (f'<rect x="{150 + i * 8}" y="{y}" width="{300 - i * 16}" height="85" rx="30" fill="{col}"/>'
              f'<path d="M{170 + i * 8} {y + 62}H{430 - i * 8}" stroke="{light(col)}" stroke-width="6"/>'
              f'<path d="M{168 + i * 8} {y + 20}H{300 - i * 8}" stroke="#fff" stroke-width="5" opacity=".3"/>')
    return s


def m_dumbbell(r, cs, name):
    c = r.choice(cs)

    def plates(x, sgn):
        return (f'<rect x="{x}" y="170" width="46" height="180" rx="12" fill="{c}"/>'
                f'<rect x="{x + sgn * 50}" y="195" width="36" height="130" rx="10" fill="{dark(c, .25)}"/>')
    return ('<rect x="120" y="245" width="360" height="30" rx="12" fill="#8d99ae"/>'
            + plates(200, -1) + plates(354, 1)
            + '<rect x="256" y="240" width="88" height="40" rx="8" fill="#4a4e69"/>')


def m_roll(r, cs, name):
    c = r.choice(cs)
    return (f'<rect x="160" y="180" width="280" height="170" fill="{c}"/><ellipse cx="440" cy="265" rx="40" ry="85" fill="{dark(c, .25)}"/>'
            f'<ellipse cx="160" cy="265" rx="40" ry="85" fill="{light(c, .15)}"/><ellipse cx="160" cy="265" rx="22" ry="50" fill="none" stroke="{dark(c, .2)}" stroke-width="5"/>'
            f'<path d="M160 200H440" stroke="#fff" stroke-width="8" opacity=".3"/><rect x="280" y="175" width="30" height="180" fill="#2b2d42" opacity=".6"/>')


def m_ball(r, cs, name):
    c = r.choice(cs)
    return (f'<circle cx="300" cy="255" r="150" fill="{c}"/>'
            '<path d="M170 180Q300 260 260 400M430 180Q300 260 340 400M160 290Q300 250 440 290" stroke="#fff" stroke-width="10" fill="none"/>'
            '<ellipse cx="240" cy="175" rx="36" ry="20" fill="#fff" opacity=".4" transform="rotate(-35 240 175)"/>'
            '<circle cx="300" cy="255" r="150" fill="none" stroke="#000" stroke-opacity=".18" stroke-width="5"/>')


def m_racket(r, cs, name):
    a, b = r.sample(cs, 2)
    return (f'<g transform="rotate(-25 260 250)"><rect x="240" y="300" width="40" height="140" rx="14" fill="{dark(a, .3)}"/>'
            f'<ellipse cx="260" cy="200" rx="105" ry="115" fill="{a}"/><ellipse cx="260" cy="200" rx="92" ry="102" fill="{light(a, .1)}"/></g>'
            f'<g transform="rotate(30 380 330)"><rect x="368" y="380" width="24" height="80" rx="10" fill="{dark(b, .3)}"/>'
            f'<ellipse cx="380" cy="320" rx="60" ry="66" fill="{b}"/></g>'
            '<circle cx="450" cy="150" r="22" fill="#fff" stroke="#ddd" stroke-width="3"/>')


def m_tent(r, cs, name):
    c = r.choice(cs)
    return ('<circle cx="455" cy="125" r="38" fill="#ffd166"/>'
            f'<path d="M300 110L475 400H125Z" fill="{c}"/><path d="M300 110L400 400H300Z" fill="{dark(c, .2)}"/>'
            f'<path d="M300 230L345 400H255Z" fill="#2b2d42"/><path d="M300 230L320 400H300Z" fill="{light(c)}"/>'
            '<path d="M300 110V85" stroke="#555" stroke-width="6"/><path d="M95 405H505" stroke="#6a994e" stroke-width="12" stroke-linecap="round"/>')


def m_lamp(r, cs, name):
    shade = r.choice(["#f1e3c8", "#e9c46a", "#e5989b", "#cddafd"])
    metal = r.choice(["#c9a227", "#2b2d42", "#8d99ae", "#9c6644"])
    return ('<circle cx="300" cy="230" r="150" fill="#fff3c4" opacity=".6"/>'
            f'<path d="M300 240V395" stroke="{metal}" stroke-width="14"/><ellipse cx="300" cy="405" rx="80" ry="18" fill="{dark(metal, .2)}"/>'
            f'<path d="M220 120H380L430 250H170Z" fill="{shade}"/><path d="M170 250H430" stroke="{dark(shade, .15)}" stroke-width="8"/>'
            f'<path d="M240 140L205 235" stroke="#fff" stroke-width="8" opacity=".5"/>')


def m_pendant(r, cs, name):
    c = r.choice(["#c89f6d", "#b07b4f", "#d9b382"])
    weave = "".join(f'<path d="M{x} 180Q{x + (x - 300) // 3} 260 {x + (x - 300) // 2} 330" stroke="{dark(c, .25)}" stroke-width="4" fill="none"/>' for x in range(240, 370, 30))
    return ('<path d="M300 40V150" stroke="#333" stroke-width="5"/><rect x="285" y="140" width="30" height="30" rx="4" fill="#333"/>'
            '<circle cx="300" cy="340" r="110" fill="#fff3c4" opacity=".7"/>'
            f'<path d="M300 165Q430 180 460 330H140Q170 180 300 165Z" fill="{c}"/>{weave}'
            '<ellipse cx="300" cy="332" rx="160" ry="14" fill="#ffe9a8"/>')


def m_lights(r, cs, name):
    s = '<path d="M80 150Q300 330 520 150M80 260Q300 440 520 260" stroke="#7a5c3a" stroke-width="4" fill="none"/>'
    for y0 in (150, 260):
        for i in range(1, 10):
            t = i / 10
            x = 80 + 440 * t
            y = y0 + 2 * t * (1 - t) * 180
            s += f'<circle cx="{x:.0f}" cy="{y + 14:.0f}" r="13" fill="#ffe08a"/><circle cx="{x:.0f}" cy="{y + 14:.0f}" r="22" fill="#ffd166" opacity=".3"/>'
    return s


def m_candle(r, cs, name):
    s = ""
    n = 3 if r.random() < .6 else 1
    cols = r.sample(["#fdf6e3", "#f4e1c1", "#e5989b", "#cfe1b9", "#fbfbf7"], 3)
    for i in range(n):
        x = 300 if n == 1 else 190 + i * 110
        h = 220 if n == 1 else [150, 220, 120][i]
        w = 110 if n == 1 else 84
        top = 410 - h
        s += (f'<circle cx="{x}" cy="{top - 40}" r="40" fill="#ffd166" opacity=".35"/>'
              f'<rect x="{x - w // 2}" y="{top}" width="{w}" height="{h}" rx="12" fill="{cols[i]}"/>'
              f'<ellipse cx="{x}" cy="{top}" rx="{w // 2}" ry="10" fill="{dark(cols[i], .08)}"/><path d="M{x} {top}v-16" stroke="#333" stroke-width="4"/>'
              f'<path d="M{x} {top - 60}q18 25 0 42q-18-17 0-42z" fill="#ff9f1c"/>')
    return s


def m_diffuser(r, cs, name):
    c = r.choice(cs)
    return ('<path d="M300 220L200 70M300 220L260 60M300 220L345 65M300 220L400 85" stroke="#8a6a45" stroke-width="6"/>'
            f'<path d="M270 215H330V245Q400 265 400 330V400Q400 420 380 420H220Q200 420 200 400V330Q200 265 270 245Z" fill="{c}" opacity=".85"/>'
            f'<rect x="262" y="200" width="76" height="26" rx="6" fill="{dark(c, .3)}"/><rect x="235" y="320" width="130" height="60" rx="8" fill="#fffaf0"/>'
            f'<path d="M255 350h90" stroke="{c}" stroke-width="8"/>')


def m_cushion(r, cs, name):
    a, b = r.sample(cs, 2)
    dots = "".join(f'<circle cx="{x}" cy="{y}" r="8" fill="{light(a, .5)}"/>' for x in range(200, 420, 50) for y in (180, 330))
    return (f'<path d="M150 120Q300 150 450 120Q420 260 450 400Q300 370 150 400Q180 260 150 120Z" fill="{a}"/>'
            f'<path d="M165 255H435" stroke="{b}" stroke-width="26"/>{dots}'
            f'<circle cx="300" cy="255" r="16" fill="{dark(a, .3)}"/>')


def m_vase(r, cs, name):
    c = r.choice(cs + ["#e9e4d8"])
    stems = '<path d="M290 180Q260 100 220 70M305 180Q320 110 370 60M300 180V50" stroke="#6a7f4a" stroke-width="5" fill="none"/>'
    stems += '<ellipse cx="220" cy="70" rx="22" ry="10" fill="#8aa66a" transform="rotate(-40 220 70)"/><ellipse cx="370" cy="60" rx="22" ry="10" fill="#8aa66a" transform="rotate(35 370 60)"/>'
    return (stems + f'<path d="M265 170H335V195Q410 240 400 330Q390 400 340 415H260Q210 400 200 330Q190 240 265 195Z" fill="{c}"/>'
            f'<path d="M225 250Q210 320 240 380" stroke="#fff" stroke-width="10" fill="none" opacity=".35" stroke-linecap="round"/>'
            f'<path d="M210 310Q300 330 390 310" stroke="{dark(c, .2)}" stroke-width="6" fill="none"/>')


def m_bowl(r, cs, name):
    c = r.choice(cs)
    return (f'<path d="M140 240H460Q450 400 300 405Q150 400 140 240Z" fill="{c}"/>'
            f'<ellipse cx="300" cy="240" rx="160" ry="30" fill="{light(c, .55)}"/>'
            f'<path d="M175 290Q300 330 425 290M185 330Q300 365 415 330" stroke="#fff" stroke-width="8" fill="none" opacity=".6"/>'
            f'<ellipse cx="300" cy="408" rx="70" ry="12" fill="{dark(c)}"/>')


def m_frame(r, cs, name):
    wood = r.choice(["#c89f6d", "#b07b4f", "#2b2d42"])
    return (f'<rect x="170" y="80" width="260" height="340" rx="6" fill="{wood}"/><rect x="195" y="105" width="210" height="290" fill="#fffaf0"/>'
            f'<rect x="225" y="140" width="150" height="210" fill="#a8dadc"/><path d="M225 350L280 260L320 310L345 280L375 350Z" fill="{r.choice(cs)}"/>'
            '<circle cx="340" cy="190" r="18" fill="#ffd166"/>')


def m_cable(r, cs, name):
    c = r.choice(cs)
    return (f'<path d="M200 150Q120 300 240 330T420 300Q500 260 430 200" stroke="{c}" stroke-width="18" fill="none" stroke-linecap="round"/>'
            f'<rect x="165" y="70" width="70" height="95" rx="14" fill="{dark(c, .2)}"/><rect x="183" y="40" width="34" height="34" rx="4" fill="#c0c7d0"/>'
            f'<rect x="395" y="160" width="70" height="60" rx="12" fill="{dark(c, .2)}" transform="rotate(20 430 190)"/>'
            '<rect x="425" y="118" width="28" height="40" rx="4" fill="#c0c7d0" transform="rotate(20 430 190)"/>')


def m_powerbank(r, cs, name):
    c = r.choice(cs)
    bars = "".join(f'<rect x="{262 + i * 20}" y="330" width="14" height="24" rx="3" fill="{"#7bd88f" if i < 3 else "#555"}"/>' for i in range(4))
    return (f'<rect x="195" y="90" width="210" height="320" rx="30" fill="{c}"/><rect x="210" y="105" width="180" height="290" rx="20" fill="{light(c, .08)}"/>'
            f'<path d="M310 170L270 250H305L290 300L335 220H300Z" fill="#ffd166"/>{bars}'
            '<rect x="270" y="80" width="60" height="14" rx="5" fill="#555"/>')


def m_speaker(r, cs, name):
    c = r.choice(cs)
    return (f'<rect x="130" y="170" width="340" height="190" rx="90" fill="{c}"/>'
            + "".join(f'<circle cx="{x}" cy="{y}" r="5" fill="{dark(c, .35)}"/>' for x in range(195, 420, 30) for y in range(215, 330, 30))
            + f'<rect x="250" y="145" width="100" height="28" rx="10" fill="{dark(c, .3)}"/>'
            '<path d="M480 220q25 45 0 90M500 195q40 70 0 140" stroke="#fff" stroke-width="8" fill="none" stroke-linecap="round" opacity=".8"/>')


def m_petbowl(r, cs, name):
    c = r.choice(cs)
    return ('<g transform="rotate(-15 300 170)"><rect x="230" y="150" width="140" height="36" rx="14" fill="#fffaf0"/>'
            '<circle cx="230" cy="152" r="24" fill="#fffaf0"/><circle cx="230" cy="186" r="24" fill="#fffaf0"/>'
            '<circle cx="370" cy="152" r="24" fill="#fffaf0"/><circle cx="370" cy="186" r="24" fill="#fffaf0"/></g>'
            f'<path d="M150 280H450L420 410H180Z" fill="{c}"/><ellipse cx="300" cy="280" rx="150" ry="26" fill="{dark(c, .3)}"/>'
            f'<path d="M265 345q15-25 35 0q20-25 35 0q-35 45-70 0z" fill="#fffaf0"/>')


def m_bubbles(r, cs, name):
    a = r.choice(cs)
    s = (f'<path d="M250 420L320 250" stroke="{a}" stroke-width="14" stroke-linecap="round"/>'
         f'<circle cx="335" cy="215" r="42" fill="none" stroke="{a}" stroke-width="12"/>')
    for x, y, rr in ((230, 150, 60), (400, 120, 45), (160, 270, 36), (440, 260, 30), (330, 70, 24)):
        s += (f'<circle cx="{x}" cy="{y}" r="{rr}" fill="#fff" fill-opacity=".35" stroke="{r.choice(cs)}" stroke-width="4"/>'
              f'<path d="M{x - rr // 2} {y - rr // 3}q{rr // 4}-{rr // 3} {rr // 2}-{rr // 3}" stroke="#fff" stroke-width="5" fill="none"/>')
    return s


def m_bucket(r, cs, name):
    a, b = r.sample(cs, 2)
    return (f'<path d="M205 230Q300 90 395 230" stroke="{dark(a)}" stroke-width="8" fill="none"/>'
            f'<path d="M190 220H410L380 410H220Z" fill="{a}"/><ellipse cx="300" cy="220" rx="110" ry="20" fill="{dark(a, .2)}"/>'
            f'<path d="M200 280H400" stroke="{light(a)}" stroke-width="10"/>'
            f'<g transform="rotate(25 420 300)"><rect x="410" y="150" width="20" height="170" rx="8" fill="{b}"/>'
            f'<path d="M385 310H455L445 400Q420 420 395 400Z" fill="{b}"/></g>'
            '<path d="M110 420q60-30 120-10" stroke="#e9c46a" stroke-width="16" fill="none" stroke-linecap="round"/>')


def m_rope(r, cs, name):
    a, b = r.sample(cs, 2)
    return (f'<path d="M190 210Q150 470 300 420T410 210" stroke="{b}" stroke-width="10" fill="none" stroke-linecap="round"/>'
            f'<rect x="168" y="90" width="44" height="130" rx="20" fill="{a}"/><rect x="388" y="90" width="44" height="130" rx="20" fill="{a}"/>'
            f'<rect x="178" y="105" width="10" height="90" rx="5" fill="#fff" opacity=".35"/><rect x="398" y="105" width="10" height="90" rx="5" fill="#fff" opacity=".35"/>')


def m_puzzle(r, cs, name):
    piece = "h60a20 20 0 1 1 40 0h60v60a20 20 0 1 1 0 40v60h-60a20 20 0 1 0-40 0h-60v-60a20 20 0 1 0 0-40z"
    a, b = r.sample(cs, 2)
    return (f'<path d="M140 220{piece}" fill="{dark(a, .15)}" transform="rotate(-10 220 300)"/>'
            f'<path d="M140 212{piece}" fill="{a}" transform="rotate(-10 220 300)"/>'
            f'<path d="M300 110{piece}" fill="{dark(b, .15)}" transform="rotate(12 380 190)"/>'
            f'<path d="M300 102{piece}" fill="{b}" transform="rotate(12 380 190)"/>')


def m_notes(r, cs, name):
    s = ""
    for i, col in enumerate(r.sample(["#ffd166", "#f4a261", "#8ecae6", "#b5e48c", "#ffafcc"], 3)):
        x, y, a = 170 + i * 40, 110 + i * 45, (-8, 5, -3)[i]
        s += (f'<g transform="rotate({a} {x + 110} {y + 110})"><rect x="{x}" y="{y + 8}" width="220" height="220" fill="#000" opacity=".08"/>'
              f'<rect x="{x}" y="{y}" width="220" height="220" fill="{col}"/><rect x="{x}" y="{y}" width="220" height="40" fill="{dark(col, .08)}"/></g>')
    return s + '<path d="M270 300h120M270 330h90" stroke="#555" stroke-width="6" stroke-linecap="round" opacity=".5"/>'


def m_barrel(r, cs, name):
    c = r.choice(["#386641", "#3d5a80", "#6c757d"])
    return (f'<path d="M200 130H400Q430 270 400 410H200Q170 270 200 130Z" fill="{c}"/>'
            f'<ellipse cx="300" cy="130" rx="100" ry="20" fill="{dark(c, .3)}"/>'
            f'<path d="M190 200H410M182 340H418" stroke="{dark(c, .2)}" stroke-width="12"/>'
            f'<rect x="286" y="360" width="28" height="30" rx="4" fill="#c9a227"/>'
            f'<path d="M230 160Q215 270 230 390" stroke="#fff" stroke-width="10" fill="none" opacity=".3"/>')


MOTIFS = {name[2:]: fn for name, fn in globals().items() if name.startswith("m_") and callable(fn)}


# ------------------------------------------------------------------ label ---

def wrap(words, limit):
    lines, cur = [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > limit:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    lines.append(cur)
    return lines


UNITS = {"cm", "mm", "m", "l", "ml", "g", "kg", "w", "°c", "zoll", "stück", "teile", "blatt", "lumen", "mah"}


def glue(name):
    """Split a name into wrap units, keeping "76 x 76 mm", "20 m" and "–" together."""
    units = []
    for w in name.split():
        prev = units[-1] if units else ""
        if units and (w in ("x", "–") or prev.endswith(" x") or w.lower().strip(",") in UNITS
                      and prev[-1:].isdigit()):
            units[-1] = f"{prev} {w}"
        else:
            units.append(w)
    return units


def label(name):
    words = glue(name)
    # prefer one large line, then two lines, shrinking until the name fits
    for fs, max_lines in ((38, 1), (34, 1), (31, 1), (34, 2), (31, 2), (28, 2), (25, 2), (22, 2)):
        limit = int(480 / (0.63 * fs))
        lines = wrap(words, limit)
        if len(lines) <= max_lines and all(len(line) <= limit for line in lines):
            break
    else:
        lines = wrap(words, limit)[:2]
        lines[-1] = lines[-1][: limit - 1].rstrip() + "…"
    lh = fs * 1.2
    y = 514 - lh * (len(lines) - 1) / 2 + fs * 0.35
    out = (f'<rect x="40" y="460" width="520" height="108" rx="24" fill="#fff" fill-opacity=".9"/>'
           f'<text x="300" font-family="{FONT}" font-size="{fs}" font-weight="600" fill="#1f2933" text-anchor="middle">')
    for i, line in enumerate(lines):
        out += f'<tspan x="300" y="{y + i * lh:.0f}">{escape(line)}</tspan>'
    return out + "</text>"


# ------------------------------------------------------------------- main ---

def pick_motif(name, cat, parent):
    low = name.lower()
    for kw, motif in KEYWORD_MOTIF:
        if kw in low:
            return motif
    return CATEGORY_MOTIF.get(cat) or CATEGORY_MOTIF.get(parent) or "jar"


def render(prod, parents):
    sku, name, cat = prod["sku"], prod["name"], prod["category"]
    top = parents.get(cat) or cat
    bg1, bg2, colours = PALETTES.get(top, DEFAULT_PALETTE)
    r = random.Random(int(hashlib.sha256(sku.encode()).hexdigest()[:12], 16))
    motif = pick_motif(name, cat, parents.get(cat, ""))
    fn = MOTIFS[motif]
    body = fn(r, colours, name, cat) if motif == "book" else fn(r, colours, name)
    deco = "".join(f'<circle cx="{r.randint(40, 560)}" cy="{r.randint(40, 300)}" r="{r.randint(50, 110)}" fill="#fff" opacity=".22"/>' for _ in range(2))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="600" height="600" viewBox="0 0 600 600" role="img">'
            f'<title>{escape(name)}</title>'
            f'<defs><linearGradient id="bg" x1="0" y1="0" x2="0.3" y2="1"><stop offset="0" stop-color="{bg1}"/>'
            f'<stop offset="1" stop-color="{bg2}"/></linearGradient></defs>'
            f'<rect width="600" height="600" fill="url(#bg)"/>{deco}'
            f'<ellipse cx="300" cy="428" rx="190" ry="18" fill="#000" opacity=".08"/>'
            f'{body}{label(name)}</svg>\n')


def main():
    cats = HERE / "categories.csv"
    parents = {}
    if cats.exists():
        with open(cats, newline="", encoding="utf-8") as f:
            parents = {row["slug"]: row["parent"] for row in csv.DictReader(f)}
    out_dir = (HERE / "images").resolve()
    out_dir.mkdir(exist_ok=True)
    count = 0
    with open(HERE / "products.csv", newline="", encoding="utf-8") as f:
        for prod in csv.DictReader(f):
            target = (HERE / (prod.get("image") or f"images/{prod['sku']}.svg")).resolve()
            if target.parent != out_dir or target.suffix != ".svg":
                sys.exit(f"refusing to write outside images/: {prod.get('image')!r}")
            target.write_text(render(prod, parents), encoding="utf-8")
            count += 1
    print(f"wrote {count} images to {out_dir}")


if __name__ == "__main__":
    main()

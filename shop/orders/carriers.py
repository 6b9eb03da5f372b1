"""The parcel services an order can be shipped with, and the link where a customer
follows the parcel."""
from __future__ import annotations

import re
from urllib.parse import quote

# key: (name, tracking page with {} for the tracking number)
CARRIERS = {
    "dhl": ("DHL", "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={}"),
    "dpd": ("DPD", "https://tracking.dpd.de/status/de_DE/parcel/{}"),
    "hermes": ("Hermes", "https://www.myhermes.de/empfangen/sendungsverfolgung/sendungsinformation#{}"),
    "gls": ("GLS", "https://gls-group.com/DE/de/paketverfolgung?match={}"),
    "ups": ("UPS", "https://www.ups.com/track?loc=de_DE&tracknum={}"),
    "deutsche-post": ("Deutsche Post", "https://www.deutschepost.de/de/s/sendungsverfolgung.html?piececode={}"),
}
# Letters and digits, as parcel services print them (spaces are left out).
TRACKING_NUMBER = re.compile(r"[A-Za-z0-9]{6,40}")


def carrier_name(key: str) -> str:
    """The service's name; an unknown key (an older order's free text) as it is."""
    return CARRIERS[key][0] if key in CARRIERS else key


def tracking_url(carrier: str, tracking_number: str) -> str | None:
    """Where the parcel can be followed, if the service is known."""
    if carrier not in CARRIERS or not TRACKING_NUMBER.fullmatch(tracking_number):
        return None
    return CARRIERS[carrier][1].format(quote(tracking_number, safe=""))

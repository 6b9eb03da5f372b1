"""A product's pictures in the back office: what is taken (JPEG, PNG, WebP, decoded to
prove it, re-encoded upright and without metadata as WebP renditions), what is refused
(with a German message and nothing left behind), the gallery's order and alternative
texts, and how the shop serves the pictures."""
from __future__ import annotations

import dataclasses
import io
import os
import re
import struct
import zlib

import pytest
from PIL import Image

from shop.audit.models import AuditEntry
from shop.catalog.models import Product, ProductImage
from tests.test_admin_product_form import sign_in_admin, text_of


@pytest.fixture
def settings(settings):
    # Small limits keep the files of these tests small; the defaults are 10 MB, 40 megapixels.
    return dataclasses.replace(settings, image_max_bytes=2 * 1024 * 1024, image_max_pixels=4_000_000)


@pytest.fixture
def admin(client, settings, database, monkeypatch):
    return sign_in_admin(client, settings, monkeypatch)


@pytest.fixture
def product(make_product):
    return make_product("Teekanne Blau", slug="teekanne-blau")


def picture(fmt: str = "JPEG", size=(600, 400), colour=(200, 30, 30), **options) -> bytes:
    """A picture: its left half `colour`, its right half blue."""
    image = Image.new("RGB", size, (20, 40, 200))
    image.paste(colour, (0, 0, size[0] // 2, size[1]))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def photo_with_exif() -> bytes:
    """A camera JPEG stored sideways: its orientation tag says to turn it 90° clockwise,
    and it carries a camera model and a GPS position."""
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to show
    exif[0x0110] = "Kamera X100"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}
    return picture("JPEG", size=(600, 400), exif=exif)


def png_bomb() -> bytes:
    """A small PNG whose header claims 50000 × 50000 pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 50_000))
            + chunk(b"IEND", b""))


def upload(admin, product, content: bytes, filename="foto.jpg", alt="Blaue Teekanne", content_type="image/jpeg",
           headers=None):
    return admin.post(f"/admin/products/{product.id}/images", {"alt": alt},
                      files={"image": (filename, content, content_type)}, headers=headers)


def stored_files(settings) -> list[str]:
    folder = settings.media_dir / "products"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_photo_is_turned_upright_stripped_and_stored_in_widths(admin, client, settings, product):
    response = upload(admin, product, photo_with_exif())
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/products/{product.id}#admin-images"
    image = ProductImage.get(ProductImage.product == product)
    assert image.alt == "Blaue Teekanne" and image.widths == "320 400"  # 400 wide once upright, never upscaled
    assert re.fullmatch(r"products/[0-9a-f]{24}-400\.webp", image.filename)
    stem = image.filename.rsplit("-", 1)[0]
    assert stored_files(settings) == sorted(f"{stem.split('/')[1]}-{w}.webp" for w in (320, 400))
    with Image.open(settings.media_dir / image.filename) as stored:
        assert stored.format == "WEBP" and stored.size == (400, 600)
        assert not stored.getexif() and "exif" not in stored.info
        stored = stored.convert("RGB")
        red, blue = stored.getpixel((200, 100)), stored.getpixel((200, 500))
    assert red[0] > 150 and red[2] < 100  # what was the left half is on top now
    assert blue[2] > 150 and blue[0] < 100
    saved = Product.get_by_id(product.id)
    assert (saved.image, saved.image_widths) == (image.filename, "320 400")  # the main picture
    page = text_of(client.get(f"/admin/products/{product.id}"))
    assert "Das Bild ist hinzugefügt." in page and "Bild 1 von 1" in page and "Hauptbild" in page
    entry = AuditEntry.get(AuditEntry.object_type == "product_image")
    assert entry.action == "create" and entry.changes["alt"] == [None, "Blaue Teekanne"]


@pytest.mark.parametrize("fmt,size,widths", [
    ("PNG", (2000, 1500), "320 640 1280"),
    ("WEBP", (800, 800), "320 640 800"),
    ("JPEG", (640, 480), "320 640"),
    ("PNG", (200, 100), "200"),
])
def test_jpeg_png_and_webp_are_taken_in_the_widths_they_have(admin, settings, product, fmt, size, widths):
    response = upload(admin, product, picture(fmt, size=size), filename=f"bild.{fmt.lower()}",
                      content_type="application/octet-stream")
    assert response.status_code == 303
    image = ProductImage.get(ProductImage.product == product)
    assert image.widths == widths
    for width in widths.split():
        with Image.open(settings.media_dir / f"{image.filename.rsplit('-', 1)[0]}-{width}.webp") as stored:
            assert stored.width == int(width)


def test_a_transparent_png_keeps_its_transparency(admin, settings, product):
    buffer = io.BytesIO()
    Image.new("RGBA", (400, 400), (255, 0, 0, 0)).save(buffer, "PNG")
    assert upload(admin, product, buffer.getvalue(), filename="logo.png").status_code == 303
    with Image.open(settings.media_dir / ProductImage.get().filename) as stored:
        assert stored.mode == "RGBA" and stored.getpixel((10, 10))[3] == 0


TRUNCATED = picture("JPEG", size=(1200, 900), quality=95)


@pytest.mark.parametrize("content,filename,content_type,message", [
    (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>',
     "bild.svg", "image/svg+xml", "Diese Datei ist kein JPEG-, PNG- oder WebP-Bild."),
    (b"<!doctype html><html><body><script>alert(1)</script></body></html>", "bild.jpg", "image/jpeg",
     "Diese Datei ist kein JPEG-, PNG- oder WebP-Bild."),
    (b"GIF89a" + b"\0" * 100, "bild.gif", "image/gif", "Diese Datei ist kein JPEG-, PNG- oder WebP-Bild."),
    (png_bomb(), "bombe.png", "image/png", "Dieses Bild hat zu viele Pixel: bitte höchstens 4 Megapixel."),
    (picture("PNG", size=(2500, 2000)), "gross.png", "image/png",
     "Dieses Bild hat zu viele Pixel: bitte höchstens 4 Megapixel."),
    (TRUNCATED[:len(TRUNCATED) // 2], "halb.jpg", "image/jpeg",
     "Dieses Bild ist beschädigt oder unvollständig und kann nicht gelesen werden."),
    (picture("PNG")[:-30], "halb.png", "image/png",
     "Dieses Bild ist beschädigt oder unvollständig und kann nicht gelesen werden."),
    (b"", "leer.jpg", "image/jpeg", "Bitte wählen Sie eine Bilddatei (JPEG, PNG oder WebP)."),
    (picture(), "../../etc/bild.jpg", "image/jpeg", "Der Dateiname darf keinen Ordner enthalten."),
    (picture(), "..\\bild.jpg", "image/jpeg", "Der Dateiname darf keinen Ordner enthalten."),
])
def test_what_is_no_usable_picture_is_refused_and_leaves_nothing(admin, client, settings, product, content,
                                                                 filename, content_type, message):
    response = upload(admin, product, content, filename=filename, content_type=content_type)
    assert response.status_code == 422
    assert message in text_of(response)
    assert ProductImage.select().count() == 0 and stored_files(settings) == []
    assert Product.get_by_id(product.id).image == ""
    assert not list(settings.media_dir.parent.glob("etc*")) and AuditEntry.select().count() == 0


def test_a_picture_needs_its_alternative_text(admin, settings, product):
    response = upload(admin, product, picture(), alt="  ")
    assert response.status_code == 422
    assert "Bitte beschreiben Sie das Bild für Menschen, die es nicht sehen können" in text_of(response)
    assert ProductImage.select().count() == 0 and stored_files(settings) == []
    response = upload(admin, product, picture(), alt="Kanne\x07")
    assert response.status_code == 422 and ProductImage.select().count() == 0


def test_a_file_over_the_limit_is_refused_before_it_is_read(admin, client, settings, product):
    # 20 MB: the server stops reading at once (the limit plus a little for the form).
    response = upload(admin, product, os.urandom(20 * 1024 * 1024), filename="riesig.jpg")
    assert response.status_code == 413
    assert "Diese Datei ist zu groß: bitte höchstens 2 MB." in text_of(response)
    assert "Teekanne Blau" in response.text  # on the product's own page
    assert response.headers["cache-control"] == "private, no-store"
    # Just over the limit: read, and refused with the same message.
    response = upload(admin, product, os.urandom(2 * 1024 * 1024 + 10), filename="knapp.jpg")
    assert response.status_code == 413 and "Diese Datei ist zu groß" in text_of(response)
    assert ProductImage.select().count() == 0 and stored_files(settings) == []


def test_other_forms_keep_their_small_limit(admin, product):
    big = {"alt": "x" * (1024 * 1024 + 10)}
    response = admin.client.post(f"/admin/products/{product.id}", data=big)
    assert response.status_code == 413
    response = admin.client.post(f"/admin/products/{product.id}/images/1", data=big)
    assert response.status_code == 413


def test_the_gallery_order_alt_texts_and_deleting(admin, client, settings, product):
    for colour, alt in (((200, 0, 0), "Rot"), ((0, 200, 0), "Grün"), ((0, 0, 0), "Schwarz")):
        assert upload(admin, product, picture(colour=colour), alt=alt).status_code == 303
    images = {i.alt: i for i in ProductImage.select()}
    black = images["Schwarz"]

    def gallery():
        return [i.alt for i in ProductImage.select().where(ProductImage.product == product)
                .order_by(ProductImage.position)]

    move = f"/admin/products/{product.id}/images/{black.id}/move"
    assert admin.post(move, {"direction": "up"}).status_code == 303
    assert admin.post(move, {"direction": "up"}).status_code == 303
    assert admin.post(move, {"direction": "up"}).status_code == 303  # first already: stays
    assert gallery() == ["Schwarz", "Rot", "Grün"]
    assert Product.get_by_id(product.id).image == black.filename  # the new main picture
    assert admin.post(move, {"direction": "sideways"}).status_code == 422

    # htmx gets the panel alone.
    red = images["Rot"]
    response = admin.post(f"/admin/products/{product.id}/images/{red.id}", {"alt": "Rote Kanne"},
                          headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.text
    assert 'id="admin-images"' in response.text and "Der Alternativtext ist gespeichert." in response.text
    assert ProductImage.get_by_id(red.id).alt == "Rote Kanne"
    response = admin.post(f"/admin/products/{product.id}/images/{red.id}", {"alt": ""})
    assert response.status_code == 422 and ProductImage.get_by_id(red.id).alt == "Rote Kanne"

    files_before = stored_files(settings)
    response = admin.post(f"/admin/products/{product.id}/images/{black.id}/delete", {"confirm": "yes"})
    assert response.status_code == 303
    assert gallery() == ["Rote Kanne", "Grün"]
    assert Product.get_by_id(product.id).image == red.filename
    assert len(stored_files(settings)) == len(files_before) - 2
    assert not (settings.media_dir / black.filename).exists()
    assert [e.action for e in AuditEntry.select().where(AuditEntry.object_type == "product_image")
            .order_by(AuditEntry.id)] == ["create"] * 3 + ["update"] * 3 + ["delete"]
    # Another product's picture cannot be reached through this one.
    assert admin.post(f"/admin/products/{product.id + 1}/images/{red.id}/delete", {"confirm": "yes"}).status_code == 404
    assert admin.client.get(f"/admin/products/{product.id + 1}/images/{red.id}/delete").status_code == 404


def panel_of(page: str) -> str:
    return re.search(r'<section id="admin-images".*?</section>', page, re.S).group(0)


def test_without_javascript_the_outcome_shows_in_the_pictures_panel(admin, client, product):
    page = client.get(f"/admin/products/{product.id}").text
    actions = re.findall(r'<form class="image-upload" method="post" action="([^"]+)"', page)
    assert actions == [f"/admin/products/{product.id}/images#admin-images"]  # a refusal comes back to the panel
    refused = upload(admin, product, picture(), alt="")
    assert refused.status_code == 422
    assert "Bitte beschreiben Sie das Bild" in panel_of(refused.text)
    added = upload(admin, product, picture())
    assert added.headers["location"] == f"/admin/products/{product.id}#admin-images"
    page = client.get(added.headers["location"]).text
    main_top = page.split('<main id="main"', 1)[1].split('<section id="admin-images"', 1)[0]
    assert "Das Bild ist hinzugefügt." in panel_of(page) and "Das Bild ist hinzugefügt." not in main_top
    assert "Das Bild ist hinzugefügt." not in client.get(f"/admin/products/{product.id}").text  # once
    image = ProductImage.get()
    forms = re.findall(r'<form[^>]* method="post" action="([^"]+)"', panel_of(page))
    assert f"/admin/products/{product.id}/images/{image.id}#image-{image.id}" in forms  # the alternative text
    assert f"/admin/products/{product.id}/images/{image.id}/move#admin-images" in forms


def test_without_javascript_deleting_a_picture_asks_first(admin, client, product):
    assert upload(admin, product, picture(), alt="Rot").status_code == 303
    assert upload(admin, product, picture(), alt="Grün").status_code == 303
    red, green = ProductImage.select().order_by(ProductImage.position)
    delete = f"/admin/products/{product.id}/images/{green.id}/delete"
    panel = panel_of(client.get(f"/admin/products/{product.id}").text)
    assert re.search(rf'action="{delete}" hx-post="{delete}"[^>]*\s+hx-confirm="Dieses Bild löschen\?" '
                     r'hx-vals=\'\{"confirm": "yes"\}\'', panel)  # with JavaScript, htmx asks
    for data in ({}, {"confirm": "no"}):  # the panel's button without JavaScript
        asked = admin.post(delete, data)
        assert asked.status_code == 303 and asked.headers["location"] == f"{delete}#image-{green.id}"
    assert ProductImage.select().count() == 2 and AuditEntry.select().where(AuditEntry.action == "delete").count() == 0
    question = client.get(delete)
    assert question.status_code == 200 and question.headers["cache-control"] == "private, no-store"
    item = re.search(rf'<li class="image-item" id="image-{green.id}">.*?</li>', question.text, re.S).group(0)
    assert "Bild 2 wirklich löschen?" in text_of(question) and "Bild 2 wirklich löschen?" in item
    form = re.search(r'<form class="confirm-actions" method="post" action="([^"]+)">(.*?)</form>', item, re.S)
    assert form.group(1) == delete and '<input type="hidden" name="confirm" value="yes">' in form.group(2)
    assert f'href="/admin/products/{product.id}#image-{green.id}">Abbrechen</a>' in form.group(2)
    assert "wirklich löschen" not in question.text.split(f'id="image-{green.id}"')[0]  # the other picture asks nothing
    deleted = admin.post(delete, {"confirm": "yes"})
    assert deleted.headers["location"] == f"/admin/products/{product.id}#admin-images"
    assert [i.alt for i in ProductImage.select()] == ["Rot"]
    assert "Das Bild ist gelöscht." in panel_of(client.get(deleted.headers["location"]).text)
    htmx = admin.post(f"/admin/products/{product.id}/images/{red.id}/delete", {"confirm": "yes"},
                      headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and "Das Bild ist gelöscht." in htmx.text and ProductImage.select().count() == 0


def test_the_arrow_of_a_moved_picture_keeps_the_focus(admin, product):
    for alt in ("Rot", "Grün", "Blau"):
        assert upload(admin, product, picture(), alt=alt).status_code == 303
    red, green, blue = ProductImage.select().order_by(ProductImage.position)
    htmx = {"HX-Request": "true"}

    def focused(response) -> str:
        """The picture (alternative text) and the button htmx focuses (autofocus)."""
        assert response.status_code == 200 and response.text.count("autofocus") == 1
        item = re.search(r'<li class="image-item"(?:(?!</li>).)*autofocus(?:(?!</li>).)*</li>', response.text, re.S)
        button = re.search(r'<button[^>]*autofocus[^>]*>([^<]+)</button>', item.group(0)).group(1)
        return re.search(r'name="alt" type="text" value="([^"]*)"', item.group(0)).group(1) + ": " + button.strip()

    move = f"/admin/products/{product.id}/images/{green.id}/move"
    assert focused(admin.post(move, {"direction": "up"}, headers=htmx)) == "Grün: ↓ Runter"  # first: no way up
    assert focused(admin.post(move, {"direction": "down"}, headers=htmx)) == "Grün: ↓ Runter"
    assert focused(admin.post(move, {"direction": "down"}, headers=htmx)) == "Grün: ↑ Hoch"  # last: no way down
    assert focused(admin.post(move, {"direction": "up"}, headers=htmx)) == "Grün: ↑ Hoch"


def test_a_picture_two_products_share_stays_until_both_let_go(admin, settings, product, make_product):
    other = make_product("Teekanne Rot")
    assert upload(admin, product, picture()).status_code == 303
    assert upload(admin, other, picture()).status_code == 303
    first, second = ProductImage.select().order_by(ProductImage.id)
    assert first.filename == second.filename
    assert admin.post(f"/admin/products/{product.id}/images/{first.id}/delete", {"confirm": "yes"}).status_code == 303
    assert (settings.media_dir / second.filename).exists()
    assert admin.post(f"/admin/products/{other.id}/delete").status_code == 303
    assert stored_files(settings) == []


def test_the_shop_shows_renditions_with_srcset_and_caches_them_for_good(admin, client, settings, product):
    assert upload(admin, product, picture(size=(1000, 1000))).status_code == 303
    image = ProductImage.get()
    stem = "/media/" + image.filename.rsplit("-", 1)[0]
    srcset = f'srcset="{stem}-320.webp 320w, {stem}-640.webp 640w, {stem}-1000.webp 1000w"'
    page = client.get("/products/teekanne-blau")
    assert srcset in page.text and 'alt="Blaue Teekanne"' in page.text
    assert srcset in client.get("/products").text  # the product's card
    served = client.get(f"{stem}-640.webp")
    assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_a_single_picture_file_still_shows_without_srcset(client, settings, make_product):
    (settings.media_dir / "products").mkdir(parents=True)
    (settings.media_dir / "products" / "kanne.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    make_product("Kanne", slug="kanne", image="products/kanne.svg")
    page = client.get("/products/kanne")
    assert 'src="/media/products/kanne.svg"' in page.text and "srcset" not in page.text.split('class="product"')[1].split("</div>")[0]
    assert client.get("/media/products/kanne.svg").headers["cache-control"] == "public, max-age=3600"

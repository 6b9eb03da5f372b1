"""A product's pictures in the back office: upload (a plain multipart form), alternative
text, order in the gallery, delete. The first picture is the product's main one (its
card and the top of its page). The pictures themselves are made in shop.catalog.images.

Each change answers htmx with the pictures' panel, a plain form with a redirect back to
the product's page at the panel, which shows the outcome (or the page with the message,
when something is refused). A delete asks first: with htmx by hx-confirm, without it on
the product's page, at the picture.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from shop.audit.service import Actor, changes, record
from shop.catalog.images import ImageRefused, StoredImage, remove, store
from shop.catalog.models import Product, ProductImage
from shop.db import locked, run_db, write
from shop.i18n import _
from shop.security import BodyTooLarge
from shop.web import flash, form_data, is_htmx, see_other, url_path

from . import product_form
from .actor import actor

PANEL = "fragments/admin/images.html"
MAX_IMAGES = 24
MAX_ALT = 200
# The upload route's path (for its own request body limit) and what a multipart form
# adds to the file: its boundaries, headers, the token and the alternative text.
UPLOAD_PATH = r"/admin/products/[0-9]{1,9}/images"
FORM_HEADROOM = 64 * 1024
CONFIRMED = "yes"  # a delete's `confirm` field: asked (hx-confirm, or the confirmation step) and answered


@dataclass
class PanelState:
    """What the pictures' panel says after a change: a notice, an error, what was typed."""

    notice: str = ""
    error: str = ""
    alt: str = ""  # typed for the upload
    alt_errors: dict[int, tuple[str, str]] = field(default_factory=dict)  # image id: (typed, error)
    moved: tuple[int, str] | None = None  # (image id, "up" or "down"): its arrow keeps the focus
    confirm_delete: int | None = None  # the image id whose delete asks first


class Refused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# -- changes ----------------------------------------------------------------------

def _alt_problem(alt: str) -> str | None:
    if not alt:
        return _("Please describe the picture for people who cannot see it (alternative text).")
    if len(alt) > MAX_ALT:
        return _("At most %(max)d characters, please.", max=MAX_ALT)
    if any(ord(c) < 32 or 127 <= ord(c) < 160 or c in "\u2028\u2029" for c in alt):
        return _("Please use letters, digits and punctuation only.")
    return None


def _product(product_id: int) -> Product:
    product = locked(Product.select().where(Product.id == product_id)).get_or_none()
    if product is None:
        raise LookupError(product_id)
    return product


def _gallery(product_id: int) -> list[ProductImage]:
    return list(ProductImage.select().where(ProductImage.product == product_id)
                .order_by(ProductImage.position, ProductImage.id))


def _image(product_id: int, image_id: int) -> ProductImage:
    image = ProductImage.get_or_none((ProductImage.id == image_id) & (ProductImage.product == product_id))
    if image is None:
        raise LookupError(image_id)
    return image


def _mirror(product_id: int, gallery: list[ProductImage]) -> None:
    """The first picture is the product's own (its card, the top of its page)."""
    first = gallery[0] if gallery else None
    Product.update(image=first.filename if first else "", image_widths=first.widths if first else "").where(
        Product.id == product_id).execute()


def _renumber(gallery: list[ProductImage]) -> None:
    for position, image in enumerate(gallery):
        if image.position != position:
            ProductImage.update(position=position).where(ProductImage.id == image.id).execute()
            image.position = position


def _label(product: Product, image: ProductImage) -> str:
    return f"{product.sku} {product.name}: {image.alt}"


def add_image(product_id: int, stored: StoredImage, alt: str, who: Actor) -> ProductImage:
    with write():
        product = _product(product_id)
        gallery = _gallery(product_id)
        if len(gallery) >= MAX_IMAGES:
            raise Refused(_("A product has at most %(max)d pictures. Please delete one first.", max=MAX_IMAGES))
        image = ProductImage.create(product=product_id, filename=stored.filename, widths=stored.widths, alt=alt,
                                    position=len(gallery))
        gallery.append(image)
        _renumber(gallery)
        _mirror(product_id, gallery)
        record(who, "create", "product_image", image.id, _label(product, image), changes(
            {}, {"product": product_id, "filename": image.filename, "widths": image.widths, "alt": alt,
                 "position": image.position}))
        return image


def set_alt(product_id: int, image_id: int, alt: str, who: Actor) -> None:
    with write():
        product = _product(product_id)
        image = _image(product_id, image_id)
        changed = changes({"alt": image.alt}, {"alt": alt})
        if changed:
            ProductImage.update(alt=alt).where(ProductImage.id == image_id).execute()
            image.alt = alt
            record(who, "update", "product_image", image_id, _label(product, image), changed)


def move_image(product_id: int, image_id: int, step: int, who: Actor) -> None:
    """One place up (-1) or down (+1) in the gallery; at the end, it stays."""
    with write():
        product = _product(product_id)
        gallery = _gallery(product_id)
        index = next((i for i, image in enumerate(gallery) if image.id == image_id), None)
        if index is None:
            raise LookupError(image_id)
        target = index + step
        if not 0 <= target < len(gallery):
            return
        before = {image.id: image.position for image in gallery}
        gallery[index], gallery[target] = gallery[target], gallery[index]
        _renumber(gallery)
        _mirror(product_id, gallery)
        moved = gallery[target]
        record(who, "update", "product_image", image_id, _label(product, moved),
               {"position": [before[image_id], moved.position]})


def delete_image(product_id: int, image_id: int, who: Actor) -> list[str]:
    """Delete the picture; returns its files that nothing uses any more (to remove after
    the commit)."""
    with write():
        product = _product(product_id)
        image = _image(product_id, image_id)
        image.delete_instance()
        gallery = _gallery(product_id)
        _renumber(gallery)
        _mirror(product_id, gallery)
        record(who, "delete", "product_image", image_id, _label(product, image),
               {"filename": [image.filename, None], "alt": [image.alt, None]})
        return product_form.unreferenced({image.filename: image.widths})


def forget(stored: StoredImage) -> list[str]:
    """The files of an upload that was not saved, unless another picture uses them."""
    return product_form.unreferenced({stored.filename: stored.widths})


# -- answers ----------------------------------------------------------------------

async def _answer(request: Request, product_id: int, state: PanelState, status_code: int = 200):
    """htmx: the panel; a plain form: back to the product's page, or the page with the
    refusal."""
    if not is_htmx(request) and status_code < 400:
        if state.notice:
            flash(request, state.notice, "success", place="images")
        return see_other(product_form.edit_url(request, product_id) + "#admin-images")
    data = await product_form.load(product_id)
    return await product_form.page(request, data, status_code=status_code, fragment=PANEL, image_state=state)


def _path_ids(request: Request) -> tuple[int, int | None]:
    return request.path_params["id"], request.path_params.get("image_id")


def _not_found() -> HTTPException:
    return HTTPException(404, "No such product or picture.")


async def upload(request: Request):
    product_id, _unused = _path_ids(request)
    settings = request.app.state.settings
    form = await request.form()  # read (and the file spooled to disk) by the CSRF check
    alt = str(form.get("alt") or "").strip()
    file = form.get("image")
    state = PanelState(alt=alt)
    if not isinstance(file, UploadFile) or not file.filename or not file.size:
        state.error = _("Please choose a picture file (JPEG, PNG or WebP).")
    elif any(c in file.filename for c in "/\\\x00") or ".." in file.filename:
        state.error = _("The file name must not contain a folder. Please upload the picture itself.")
    elif file.size > settings.image_max_bytes:
        state.error = too_large_message(settings.image_max_bytes)
    elif problem := _alt_problem(alt):
        state.error = problem
    if state.error:
        status = 413 if isinstance(file, UploadFile) and (file.size or 0) > settings.image_max_bytes else 422
        return await _answer(request, product_id, state, status)
    assert isinstance(file, UploadFile)
    try:
        stored = await run_in_threadpool(store, file.file, settings.media_dir, settings.image_max_pixels)
    except ImageRefused as refused:
        return await _answer(request, product_id, PanelState(error=str(refused), alt=alt), 422)
    try:
        await run_db(add_image, product_id, stored, alt, actor(request))
    except (LookupError, Refused) as failed:
        remove(settings.media_dir, await run_db(forget, stored))
        if isinstance(failed, LookupError):
            raise _not_found() from None
        return await _answer(request, product_id, PanelState(error=failed.message, alt=alt), 422)
    except BaseException:
        remove(settings.media_dir, await run_db(forget, stored))
        raise
    return await _answer(request, product_id, PanelState(notice=_("The picture is added.")))


async def update_alt(request: Request):
    product_id, image_id = _path_ids(request)
    assert image_id is not None
    alt = str((await request.form()).get("alt") or "").strip()
    if problem := _alt_problem(alt):
        return await _answer(request, product_id, PanelState(alt_errors={image_id: (alt, problem)}), 422)
    try:
        await run_db(set_alt, product_id, image_id, alt, actor(request))
    except LookupError:
        raise _not_found() from None
    return await _answer(request, product_id, PanelState(notice=_("The alternative text is saved.")))


async def move(request: Request):
    product_id, image_id = _path_ids(request)
    assert image_id is not None
    direction = (await request.form()).get("direction")
    if direction not in ("up", "down"):
        return await _answer(request, product_id, PanelState(error=_("Please move a picture up or down.")), 422)
    try:
        await run_db(move_image, product_id, image_id, -1 if direction == "up" else 1, actor(request))
    except LookupError:
        raise _not_found() from None
    return await _answer(request, product_id, PanelState(notice=_("The order of the pictures is saved."),
                                                         moved=(image_id, direction)))


async def confirm_delete(request: Request):
    """The question a delete asks without JavaScript: the product's page with the
    picture's panel asking it."""
    product_id, image_id = _path_ids(request)
    data = await product_form.load(product_id)
    if not any(image.id == image_id for image in data.images):
        raise _not_found()
    return await product_form.page(request, data, image_state=PanelState(confirm_delete=image_id))


async def delete(request: Request):
    product_id, image_id = _path_ids(request)
    assert image_id is not None
    if (await form_data(request)).get("confirm") != CONFIRMED:  # not asked yet: ask first
        return see_other(url_path(request, "admin:product_image_delete_confirm", id=product_id, image_id=image_id)
                         + f"#image-{image_id}")
    try:
        files = await run_db(delete_image, product_id, image_id, actor(request))
    except LookupError:
        raise _not_found() from None
    remove(request.app.state.settings.media_dir, files)
    return await _answer(request, product_id, PanelState(notice=_("The picture is deleted.")))


def too_large_message(limit: int) -> str:
    size = f"{limit / (1024 * 1024):.3g}".replace(".", ",")
    return _("This file is too large: at most %(size)s MB, please.", size=size)


async def upload_too_large(request: Request, exc: BodyTooLarge):
    """An upload over the limit, stopped before it was read: the product's page says so.
    None where this is no admin's upload (the caller answers as for any 413)."""
    found = re.fullmatch(UPLOAD_PATH.replace("[0-9]{1,9}", "([0-9]{1,9})"), request.url.path)
    user = getattr(request.state, "user", None)
    if found is None or user is None or not user.is_admin:
        return None
    state = PanelState(error=too_large_message(request.app.state.settings.image_max_bytes))
    try:
        response = await _answer(request, int(found.group(1)), state, 413)
    except HTTPException:  # the product is gone
        return None
    response.headers["Cache-Control"] = "private, no-store"
    return response


routes = [
    Route("/products/{id:id}/images", upload, methods=["POST"], name="product_image_add"),
    Route("/products/{id:id}/images/{image_id:id}", update_alt, methods=["POST"], name="product_image_update"),
    Route("/products/{id:id}/images/{image_id:id}/move", move, methods=["POST"], name="product_image_move"),
    Route("/products/{id:id}/images/{image_id:id}/delete", confirm_delete, name="product_image_delete_confirm"),
    Route("/products/{id:id}/images/{image_id:id}/delete", delete, methods=["POST"], name="product_image_delete"),
]

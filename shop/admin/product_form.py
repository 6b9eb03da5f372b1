"""A product's own page in the back office: every field in one form, a new product,
deleting one (or deactivating it, when orders name it).

Two admins may edit the same product: the form carries the version and the values it
was loaded with, and a save writes only the fields changed here. What someone else saved
meanwhile in other fields stays; a field both changed differently is refused (409) with
the value saved now next to it, and nothing is written.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from peewee import IntegrityError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route
from wtforms import BooleanField, HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from shop.audit.service import Actor, changes, record
from shop.catalog import stock
from shop.catalog.gtin import valid_gtin
from shop.catalog.images import remove, renditions
from shop.catalog.importer import MAX_PRICE_CENTS, slugify
from shop.catalog.models import (
    CONTENT_UNITS, SLUG, VAT_RATES, Category, PriceChange, Product, ProductImage, SlugRedirect,
)
from shop.catalog.search import index_products
from shop.db import locked, now, run_db, write
from shop.forms import EuroField, ShopForm, WholeNumberField, decimal_number, printable_text, strip, text, whole_number
from shop.i18n import _, format_money, format_number
from shop.i18n import lazy_gettext as _l
from shop.orders.models import OrderLine
from shop.web import flash, form_data, render, see_other, url_path

from .actor import actor

PAGE = "admin/product_form.html"
MAX_QUANTITY = Decimal(1_000_000)
# The product's fields this form edits, by their column names (the audit trail's keys).
EDITABLE = (
    "sku", "name", "slug", "category", "description", "price_cents", "vat_rate", "active",
    "featured", "ean", "content_quantity", "content_unit", "low_stock_threshold",
    "manufacturer", "responsible_person", "product_identifier", "warnings",
)
# The form field of each column, where the names differ.
FORM_FIELD = {"price_cents": "price"}
SKU = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
WHOLE_NUMBER = _l("Please enter a whole number, 0 or more, e.g. 5.")


# -- fields ------------------------------------------------------------------------

def at_most(limit: int):
    def check(form, field):
        if field.data is not None and field.data > limit:
            raise ValidationError(_("At most %(max)s.", max=format_number(limit)))
    return check


def _lines(value):
    return value.replace("\r\n", "\n").replace("\r", "\n").strip() if isinstance(value, str) else value


def long_text(label, max_length: int):
    return TextAreaField(label, validators=[Optional(), Length(max=max_length), printable_text], filters=[_lines])


class PriceField(EuroField):
    def process_formdata(self, valuelist):
        if valuelist and valuelist[0].strip().startswith("-"):
            self.data = None
            raise ValueError(_l("A price cannot be negative."))
        super().process_formdata(valuelist)


class QuantityField(StringField):
    """A decimal number like 0,5 or 250 (a content quantity); `data` is a Decimal or None."""

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if text:
            self.data = decimal_number(text)
            if self.data is None:
                raise ValueError(_l("Please enter a number above 0, e.g. 250 or 0,75."))

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else format(Decimal(self.data).normalize(), "f").replace(".", ",")


def _choice(values, message):
    def check(form, field):
        if field.data not in values:
            raise ValidationError(message)
    return check


class ProductForm(ShopForm):
    sku = StringField(_l("SKU"), filters=[strip], validators=[
        DataRequired(_l("Please enter the SKU.")),
        Regexp(f"^{SKU}$", message=_l("Please use only letters A–Z and a–z (no umlauts or ß), digits 0–9, “.”, "
                                      "“_” and “-”, without spaces, beginning with a letter or digit; at most 64 "
                                      "characters."))])
    name = text(_l("Name"), max_length=200, message=_l("Please enter the product’s name."))
    slug = StringField(_l("Web address (slug)"), filters=[strip], validators=[Length(max=200)])
    category = SelectField(_l("Category"), validate_choice=False)
    description = long_text(_l("Description"), 20_000)
    price = PriceField(_l("Price incl. VAT"))
    vat_rate = SelectField(_l("VAT rate"), choices=[SelectChoice(str(r), f"{r} %") for r in VAT_RATES],
                           validate_choice=False, default=str(VAT_RATES[0]))
    active = BooleanField(_l("Active: shown in the shop"))
    featured = BooleanField(_l("Featured on the home page"))
    ean = StringField(_l("EAN (GTIN-13 or GTIN-8)"), filters=[lambda v: v.replace(" ", "") if isinstance(v, str) else v],
                      validators=[Optional(), Length(max=13, message=_l("An EAN has 8 or 13 digits."))])
    content_quantity = QuantityField(_l("Content"))
    content_unit = SelectField(_l("Unit"), choices=[SelectChoice("", "–"), *(SelectChoice(u, u) for u in CONTENT_UNITS)],
                               validate_choice=False, default="")
    low_stock_threshold = WholeNumberField(_l("Reorder level"), message=WHOLE_NUMBER,
                                           validators=[Optional(), at_most(stock.MAX_STOCK)])
    manufacturer = long_text(_l("Manufacturer (name, postal and electronic address)"), 2000)
    responsible_person = long_text(_l("Responsible person in the EU"), 2000)
    product_identifier = text(_l("Product identifier (type, batch or serial number)"), max_length=64,
                              required=False)
    warnings = long_text(_l("Warnings and safety information"), 5000)
    version = HiddenField()
    original = HiddenField()  # the values the form was loaded with (JSON), to tell what was changed here

    def __init__(self, formdata=None, categories: list[Category] = (), **kwargs):  # type: ignore[assignment]
        super().__init__(formdata, **kwargs)
        self.category_ids = {c.id for c in categories}
        self.category.choices = [SelectChoice("", _("Please choose"))] + [
            SelectChoice(str(c.id), category_label(c, categories)) for c in categories]

    def validate_category(self, field):
        if whole_number(field.data) not in self.category_ids:
            raise ValidationError(_l("Please choose a category from the list."))

    def validate_vat_rate(self, field):
        _choice([str(r) for r in VAT_RATES], _l("Please choose 19 % or 7 %."))(self, field)

    def validate_content_unit(self, field):
        _choice(["", *CONTENT_UNITS], _l("Please choose a unit from the list."))(self, field)
        if field.data and self.content_quantity.data is None and not self.content_quantity.errors:
            raise ValidationError(_l("Please enter the content as well, or no unit."))

    def validate_content_quantity(self, field):
        if field.errors:
            return  # not a number: that says it all
        quantity = field.data
        if quantity is None:
            if self.content_unit.data:
                raise ValidationError(_l("Please enter the content for this unit."))
            return
        if quantity <= 0 or quantity > MAX_QUANTITY:
            raise ValidationError(_l("Please enter a number above 0 and at most 1.000.000."))
        if quantity != quantity.quantize(Decimal("0.001")):
            raise ValidationError(_l("At most three decimal places, please."))
        if not self.content_unit.data:
            raise ValidationError(_l("Please choose the unit as well."))

    def validate_price(self, field):
        if field.errors:
            return
        if field.data is None:
            raise ValidationError(_l("Please enter the price."))
        if field.cents is not None and field.cents > MAX_PRICE_CENTS:
            raise ValidationError(_l("At most %(amount)s.", amount=format_money(MAX_PRICE_CENTS)))
        if field.cents == 0 and self.active.data:
            raise ValidationError(_l("An active product needs a price above 0 €."))

    def validate_slug(self, field):
        if not field.data and self.name.errors:
            return  # made from the name, whose message says what to correct
        slug = field.data or slugify(self.name.data or "")
        if not slug and self.name.data:
            raise ValidationError(_l("Please enter a web address: lowercase letters, digits and hyphens."))
        if slug and (not SLUG.fullmatch(slug) or len(slug) > 200):
            raise ValidationError(_l("Lowercase letters (a–z), digits and single hyphens between them only, "
                                     "e.g. %(example)s.", example=slugify(field.data) or "teekanne-blau"))

    def validate_ean(self, field):
        if field.data and not valid_gtin(field.data):
            raise ValidationError(_l("This is not a valid EAN: it needs 8 or 13 digits with the right check digit."))

    def values(self) -> dict[str, Any]:
        """The product's columns as typed (after validation)."""
        return {
            "sku": self.sku.data, "name": self.name.data,
            "slug": self.slug.data or slugify(self.name.data),
            "category": whole_number(self.category.data), "description": self.description.data or "",
            "price_cents": self.price.cents, "vat_rate": int(self.vat_rate.data),
            "active": bool(self.active.data), "featured": bool(self.featured.data),
            "ean": self.ean.data or "", "content_quantity": self.content_quantity.data,
            "content_unit": self.content_unit.data or None,
            "low_stock_threshold": self.low_stock_threshold.data,
            "manufacturer": self.manufacturer.data or "", "responsible_person": self.responsible_person.data or "",
            "product_identifier": self.product_identifier.data or "", "warnings": self.warnings.data or "",
        }

    def set_errors(self, problems: dict[str, str]) -> None:
        for column, message in problems.items():
            self[FORM_FIELD.get(column, column)].errors = [*self[FORM_FIELD.get(column, column)].errors, message]


class NewProductForm(ProductForm):
    stock = WholeNumberField(_l("Opening stock"), default=0, message=WHOLE_NUMBER,
                             validators=[Optional(), at_most(stock.MAX_STOCK)])


def category_label(category: Category, categories: list[Category]) -> str:
    """"Küche › Tee" for a subcategory; hidden ones say so."""
    parents = {c.id: c for c in categories}
    parent = parents.get(category.parent_id)
    label = f"{parent.name} › {category.name}" if parent else category.name
    return label if category.active else _("%(category)s (hidden)", category=label)


# -- values -----------------------------------------------------------------------

def stored_values(product: Product) -> dict[str, Any]:
    values = {key: getattr(product, key) for key in EDITABLE if key != "category"}
    values["category"] = product.category_id
    quantity = values["content_quantity"]
    values["content_quantity"] = None if quantity is None else Decimal(str(quantity)).normalize()
    return values


def _plain(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return "" if value is None else str(value)


def plain_values(values: dict[str, Any]) -> dict[str, str]:
    return {key: _plain(values[key]) for key in EDITABLE}


def form_data_of(values: dict[str, Any], version: int, loaded: dict[str, Any]) -> dict[str, Any]:
    """The form filled with these column values, as loaded at `version` with `loaded`."""
    return {
        **values, "category": str(values["category"]), "vat_rate": str(values["vat_rate"]),
        "price": Decimal(values["price_cents"]) / 100, "content_unit": values["content_unit"] or "",
        "version": str(version), "original": json.dumps(plain_values(loaded)),
    }


def loaded_values(original: str) -> dict[str, str] | None:
    """The values a form was loaded with (its `original`); None when they cannot be read."""
    try:
        loaded = json.loads(original)
    except (ValueError, RecursionError):
        return None
    if isinstance(loaded, dict) and all(isinstance(loaded.get(key), str) for key in EDITABLE):
        return loaded
    return None


# -- writing ----------------------------------------------------------------------

class Invalid(Exception):
    """Values the form alone cannot check (a SKU or address in use); nothing was written."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(problems)
        self.problems = problems


class Conflict(Exception):
    """Someone saved the product since the form was loaded, changing columns changed here
    to other values (`fields`); nothing was written. `yours`: the columns changed here."""

    def __init__(self, product: Product, fields: list[str], yours: dict[str, Any]):
        super().__init__(product.id)
        self.product, self.fields, self.yours = product, fields, yours


def _check_unique(values: dict[str, Any], product_id: int | None) -> None:
    problems = {}
    others = Product.select(Product.id, Product.sku, Product.slug, Product.name).where(
        (Product.sku == values["sku"]) | (Product.slug == values["slug"]))
    if product_id is not None:
        others = others.where(Product.id != product_id)
    for other in others:
        if other.sku == values["sku"]:
            problems["sku"] = _("The SKU %(sku)s is already used by “%(name)s”.", sku=other.sku, name=other.name)
        if other.slug == values["slug"]:
            problems["slug"] = _("The address %(slug)s is already used by “%(name)s”. Please choose another one.",
                                 slug=other.slug, name=other.name)
    if not Category.select().where(Category.id == values["category"]).exists():
        problems["category"] = _("Please choose a category from the list.")
    if problems:
        raise Invalid(problems)


def _label(values: dict[str, Any]) -> str:
    return f"{values['sku']} {values['name']}"


def create_product(values: dict[str, Any], count: int, who: Actor) -> Product:
    """A new product with its opening stock (the first entry in its ledger)."""
    try:
        with write():
            _check_unique(values, None)
            product = Product.create(**values, stock=0)
            if count:
                stock.move(product.id, count, stock.STOCKTAKING, who.email)
            # The address now belongs to this product, not as an old one to another.
            SlugRedirect.delete().where(SlugRedirect.old_slug == values["slug"]).execute()
            index_products([product])
            record(who, "create", "product", product.id, _label(values), changes({}, {**values, "stock": count}))
            return product
    except IntegrityError:  # a second admin took the SKU or address a moment ago
        raise Invalid({"sku": _("This SKU or web address is already used by another product.")}) from None


def update_product(product_id: int, values: dict[str, Any], version: int | None,
                   loaded: dict[str, str] | None, who: Actor) -> list[str]:
    """Save the columns of `values` changed from what the form was `loaded` with (None:
    not known) and keep what someone else saved meanwhile in the others. Returns the
    columns kept so. Raises Conflict when someone else changed a column changed here to
    another value, Invalid for a SKU or address in use, LookupError when the product is
    gone; nothing is written then."""
    try:
        with write():
            product = locked(Product.select().where(Product.id == product_id)).get_or_none()
            if product is None:
                raise LookupError(product_id)
            before = stored_values(product)
            if version == product.version:  # nobody saved since the form was loaded
                loaded = plain_values(before)
            yours = {key: values[key] for key in EDITABLE
                     if _plain(values[key]) != (loaded or plain_values(before))[key]}
            theirs = [key for key in EDITABLE if loaded is None or _plain(before[key]) != loaded[key]]
            clashes = [key for key in theirs if key in yours and _plain(yours[key]) != _plain(before[key])]
            if clashes:
                raise Conflict(product, clashes, yours)
            after = {**before, **yours}
            _check_unique(after, product_id)
            changed = changes(before, after)
            if changed:
                _save(product_id, before, after, changed, who)
            return [key for key in theirs if key not in yours]
    except IntegrityError:
        raise Invalid({"sku": _("This SKU or web address is already used by another product.")}) from None


def _save(product_id: int, before: dict[str, Any], after: dict[str, Any], changed: dict[str, list],
          who: Actor) -> None:
    stamp = now()
    Product.update(**{key: after[key] for key in changed}, version=Product.version + 1,
                   updated_at=stamp).where(Product.id == product_id).execute()
    if "price_cents" in changed:  # the price history (PAngV §11), as Product.save keeps it
        PriceChange.create(product=product_id, price_cents=after["price_cents"], changed_at=stamp)
    if "slug" in changed:
        # The old address answers with a redirect; the new one is nobody's old one.
        SlugRedirect.delete().where(SlugRedirect.old_slug.in_([before["slug"], after["slug"]])).execute()
        SlugRedirect.create(old_slug=before["slug"], product=product_id, created_at=stamp)
    index_products([Product.get_by_id(product_id)])
    record(who, "update", "product", product_id, _label(after), changed)


DELETED, DEACTIVATED = "deleted", "deactivated"


def delete_product(product_id: int, who: Actor) -> tuple[str, Product, list[str]]:
    """Delete the product, or only deactivate it when an order names it (the order keeps
    its link). Returns what was done, the product as it was, and the media files that
    nothing refers to any more (for the caller to remove after the commit)."""
    with write():
        product = locked(Product.select().where(Product.id == product_id)).get_or_none()
        if product is None:
            raise LookupError(product_id)
        label = f"{product.sku} {product.name}"
        if OrderLine.select().where(OrderLine.product == product_id).exists():
            if product.active:
                Product.update(active=False, version=Product.version + 1, updated_at=now()).where(
                    Product.id == product_id).execute()
            record(who, "deactivate", "product", product_id, label, changes({"active": product.active},
                                                                             {"active": False}))
            return DEACTIVATED, product, []
        images = list(ProductImage.select().where(ProductImage.product == product_id))
        files = {product.image: product.image_widths, **{i.filename: i.widths for i in images}}
        before = stored_values(product)
        product.delete_instance()  # images, prices, ledger and old addresses go with it
        record(who, "delete", "product", product_id, label,
               {key: [pair[1], None] for key, pair in changes({}, before).items()})
        return DELETED, product, unreferenced(files)


def unreferenced(files: dict[str, str]) -> list[str]:
    """The files of these images (filename: widths) that no product or picture uses."""
    names = [name for name in files if name]
    if not names:
        return []
    used = set(ProductImage.select(ProductImage.filename).where(ProductImage.filename.in_(names))
               .scalars())
    used |= set(Product.select(Product.image).where(Product.image.in_(names)).scalars())
    return [path for name in names if name not in used for path in renditions(name, files[name])]


# -- the page ---------------------------------------------------------------------

@dataclass
class EditData:
    product: Product | None
    categories: list[Category]
    images: list[ProductImage] = field(default_factory=list)
    movements: list = field(default_factory=list)


def edit_data(product_id: int | None) -> EditData:
    categories = Category.tree(with_hidden=True)
    if product_id is None:
        return EditData(None, categories)
    product = Product.get_or_none(Product.id == product_id)
    if product is None:
        raise LookupError(product_id)
    images = list(ProductImage.select().where(ProductImage.product == product_id)
                  .order_by(ProductImage.position, ProductImage.id))
    return EditData(product, categories, images, stock.movements(product_id, 20))


async def load(product_id: int | None) -> EditData:
    try:
        return await run_db(edit_data, product_id)
    except LookupError:
        raise HTTPException(404, "No such product.") from None


def _shown(key: str, value: Any, categories: list[Category]) -> str:
    if value is None or value == "":
        return "–"
    if key == "price_cents":
        return format_money(value)
    if key == "category":
        category = next((c for c in categories if c.id == value), None)
        return category_label(category, categories) if category else str(value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f").replace(".", ",")
    if key == "vat_rate":
        return f"{value} %"
    text = str(value)
    return text if len(text) <= 160 else text[:159] + "…"


def conflict_form(conflict: Conflict, categories: list[Category]) -> ProductForm:
    """The form on the product as saved now: the fields changed here keep their entries,
    the others show the saved values, and each field changed by both says what is saved.
    Saving it again keeps these entries on purpose."""
    current = stored_values(conflict.product)
    form = ProductForm(data=form_data_of({**current, **conflict.yours}, conflict.product.version, current),
                       categories=categories)
    for key in conflict.fields:
        form[FORM_FIELD.get(key, key)].errors = [
            _("Saved by someone else in the meantime: %(value)s", value=_shown(key, current[key], categories))]
    return form


async def page(request: Request, data: EditData, form: ProductForm | None = None, *,
               status_code: int = 200, fragment: str | None = None, **extra):
    """The product's page (or a new product's); `extra` adds to its context (a conflict,
    the state of the pictures' forms)."""
    if form is None:
        product = data.product
        if product:
            values = stored_values(product)
            form = ProductForm(data=form_data_of(values, product.version, values), categories=data.categories)
        else:
            form = NewProductForm(data={"active": True}, categories=data.categories)
    context = {"form": form, "product": data.product, "images": data.images, "movements": data.movements,
               "max_image_mb": request.app.state.settings.image_max_bytes / (1024 * 1024),
               **extra}
    return render(request, PAGE, context, fragment=fragment, status_code=status_code)


def edit_url(request: Request, product_id: int) -> str:
    return url_path(request, "admin:product_edit", id=product_id)


async def new_product(request: Request):
    data = await load(None)
    if request.method == "GET":
        return await page(request, data)
    form = NewProductForm(await form_data(request), categories=data.categories)
    if not form.validate():
        return await page(request, data, form, status_code=422)
    try:
        product = await run_db(create_product, form.values(), form.stock.data or 0, actor(request))
    except Invalid as refused:
        form.set_errors(refused.problems)
        return await page(request, data, form, status_code=422)
    flash(request, _("The product “%(name)s” is created.", name=product.name), "success")
    return see_other(edit_url(request, product.id))


async def edit_product(request: Request):
    product_id = request.path_params["id"]
    data = await load(product_id)
    if request.method == "GET":
        return await page(request, data)
    form = ProductForm(await form_data(request), categories=data.categories)
    if not form.validate():
        return await page(request, data, form, status_code=422)
    try:
        kept = await run_db(update_product, product_id, form.values(), whole_number(form.version.data),
                            loaded_values(form.original.data or ""), actor(request))
    except LookupError:
        raise HTTPException(404, "No such product.") from None
    except Invalid as refused:
        form.set_errors(refused.problems)
        return await page(request, data, form, status_code=422)
    except Conflict as conflict:
        data.product = conflict.product
        form = conflict_form(conflict, data.categories)
        return await page(request, data, form, status_code=409,
                          conflict=[form[FORM_FIELD.get(key, key)] for key in conflict.fields])
    if kept:
        labels = ", ".join(str(form[FORM_FIELD.get(key, key)].label.text) for key in kept)
        flash(request, _("The changes are saved. Someone else had changed %(fields)s in the meantime; "
                         "those changes are kept.", fields=labels), "success")
    else:
        flash(request, _("The changes are saved."), "success")
    return see_other(edit_url(request, product_id))


async def delete(request: Request):
    product_id = request.path_params["id"]
    try:
        done, product, files = await run_db(delete_product, product_id, actor(request))
    except LookupError:
        raise HTTPException(404, "No such product.") from None
    if done == DEACTIVATED:
        flash(request, _("“%(name)s” appears in orders, so it cannot be deleted. It is deactivated instead: "
                         "the shop no longer shows it.", name=product.name), "info")
        return see_other(edit_url(request, product_id))
    remove(request.app.state.settings.media_dir, files)
    flash(request, _("The product “%(name)s” is deleted.", name=product.name), "success")
    return see_other(url_path(request, "admin:products"))


routes = [
    Route("/products/new", new_product, methods=["GET", "POST"], name="product_new"),
    Route("/products/{id:id}", edit_product, methods=["GET", "POST"], name="product_edit"),
    Route("/products/{id:id}/delete", delete, methods=["POST"], name="product_delete"),
]

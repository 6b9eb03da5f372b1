"""Categories in the back office: the two-level tree as one table with the number of
products in each; create, rename (the edit row), move under another top level, reorder,
show or hide in the shop, delete an empty one. Every change is audited in its own
transaction; a change of the tree bumps the catalogue version (by trigger), so the
shop's navigation follows by itself."""
from __future__ import annotations

import unicodedata
from typing import Iterable, cast
from dataclasses import dataclass, field

from peewee import IntegrityError, fn
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route
from wtforms import StringField
from wtforms.validators import DataRequired, Length, ValidationError

from shop.audit.service import Actor, changes, record
from shop.catalog.importer import slugify
from shop.catalog.models import SLUG, Category, Product
from shop.db import locked, run_db, write
from shop.forms import ShopForm, strip, whole_number
from shop.i18n import _, ngettext
from shop.i18n import lazy_gettext as _l
from shop.web import flash, form_data, is_htmx, render, see_other, url_path

from .actor import actor

PAGE = "admin/categories.html"
TABLE = "fragments/admin/category_table.html"
ROW = "fragments/admin/category_row.html"
FORM = "fragments/admin/category_form.html"
SLUG_FIELD = "fragments/admin/category_slug.html"
MAX_NAME = 120
MAX_SLUG = 200
TOP_LEVEL = ""  # the parent choice for a top-level category
CONFIRMED = "yes"  # a delete's `confirm` field: asked (hx-confirm, or the confirmation page) and answered


# -- forms ------------------------------------------------------------------------------

def one_line(form, field):
    """No control characters, line or paragraph separators (a name ends up in the
    navigation, page titles and mail)."""
    if field.data and any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in field.data):
        raise ValidationError(_l("Please use letters, digits and punctuation only."))


class CategoryForm(ShopForm):
    name = StringField(_l("Name"), filters=[strip], validators=[
        DataRequired(_l("Please enter a name.")),
        Length(max=MAX_NAME, message=_l("At most %(max)d characters, please.")),
        one_line,
    ])
    parent = StringField(_l("Parent category"), filters=[strip])

    def parent_id(self) -> int | None:
        """The chosen parent's id; None for the top level (a value that is no id, as from
        a tampered form, is checked by the service and refused)."""
        return None if self.parent.data == TOP_LEVEL else whole_number(self.parent.data) or -1


class NewCategoryForm(CategoryForm):
    slug = StringField(_l("Web address (slug)"), filters=[strip, lambda s: s.lower() if s else s])

    @property
    def proposal(self) -> str:
        """The slug made from the typed name."""
        return slugify(self.name.data or "")

    def validate_slug(self, field):
        slug = field.data or self.proposal
        if field.data and (not SLUG.fullmatch(field.data) or len(field.data) > MAX_SLUG):
            raise ValidationError(_l("Use lowercase letters a-z, digits and hyphens only, e.g. kitchen-tools."))
        if not slug and self.name.data:
            raise ValidationError(_l("Please enter a web address: lowercase letters a-z, digits and hyphens."))


# -- the tree as the table shows it ---------------------------------------------------

@dataclass
class Row:
    category: Category
    products: int
    children: int
    first: bool  # among its siblings
    last: bool
    shown: bool  # active, and so is its parent
    parent: Category | None

    @property
    def child(self) -> bool:
        return self.category.parent_id is not None


@dataclass
class Tree:
    rows: list[Row]
    tops: list[Category] = field(default_factory=list)

    def row(self, category_id: int) -> Row | None:
        return next((r for r in self.rows if r.category.id == category_id), None)


def tree() -> Tree:
    """Every category (shown or hidden) in display order, in two queries."""
    categories = Category.arrange(list(Category.select().order_by(Category.position, Category.name)),
                                  with_hidden=True)
    per_category = Product.select(Product.category, fn.COUNT(Product.id)).group_by(Product.category).tuples()
    counts = dict(cast(Iterable[tuple[int, int]], per_category))
    by_id = {c.id: c for c in categories}
    siblings: dict[int | None, list[int]] = {}
    for c in categories:
        siblings.setdefault(c.parent_id, []).append(c.id)
    rows = []
    for c in categories:
        mine = siblings[c.parent_id]
        parent = by_id.get(c.parent_id)
        rows.append(Row(c, counts.get(c.id, 0), len(siblings.get(c.id, [])), mine[0] == c.id, mine[-1] == c.id,
                        c.active and (parent is None or parent.active), parent))
    return Tree(rows, [c for c in categories if c.parent_id is None])


# -- changes ----------------------------------------------------------------------------

class Refused(Exception):
    """A change that cannot be made (nothing was written); the message says why, `field`
    names the form field it belongs to."""

    def __init__(self, message: str, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


def _fields(category: Category) -> dict:
    return {"name": category.name, "slug": category.slug, "parent": category.parent_id,
            "position": category.position, "active": category.active}


def _get(category_id: int) -> Category:
    category = locked(Category.select().where(Category.id == category_id)).get_or_none()
    if category is None:
        raise LookupError(category_id)
    return category


def _check_parent(category: Category | None, parent_id: int | None) -> Category | None:
    """The parent for `category` (None: a new one), as long as the tree keeps two levels."""
    if parent_id is None:
        return None
    parent = Category.get_or_none(Category.id == parent_id)
    if parent is None:
        raise Refused(_("The chosen parent category does not exist (any more)."), "parent")
    if category is not None and parent.id == category.id:
        raise Refused(_("A category cannot be its own parent."), "parent")
    if parent.parent_id is not None:
        raise Refused(_("“%(name)s” is a subcategory itself; categories have two levels only.",
                        name=parent.name), "parent")
    if category is not None:
        children = Category.select().where(Category.parent == category.id).count()
        if children:
            raise Refused(ngettext("“%(name)s” has %(num)d subcategory and so stays at the top level.",
                                   "“%(name)s” has %(num)d subcategories and so stays at the top level.",
                                   children, name=category.name), "parent")
    return parent


def _last_position(parent_id: int | None) -> int:
    siblings = Category.select(fn.MAX(Category.position)).where(
        Category.parent.is_null() if parent_id is None else Category.parent == parent_id)
    return (siblings.scalar() or 0) + 1


def create(name: str, slug: str, parent_id: int | None, who: Actor) -> Category:
    """A new category at the end of its level; the slug (if empty) made from the name."""
    slug = slug or slugify(name)
    with write():
        parent = _check_parent(None, parent_id)
        owner = Category.get_or_none(Category.slug == slug)
        if owner is not None:
            raise Refused(_("The web address “%(slug)s” is already used by the category “%(name)s”.",
                            slug=slug, name=owner.name), "slug")
        try:
            with write():  # a savepoint: a slug taken in the meantime fails alone
                category = Category.create(name=name, slug=slug, parent=parent,
                                           position=_last_position(parent_id))
        except IntegrityError:
            raise Refused(_("The web address “%(slug)s” is already used.", slug=slug), "slug") from None
        record(who, "create", "category", category.id, name, changes({}, _fields(category)))
    return category


def update(category_id: int, name: str, parent_id: int | None, who: Actor) -> tuple[Category, bool]:
    """Rename and (or) move a category; returns it and whether it moved."""
    with write():
        category = _get(category_id)
        before = _fields(category)
        moved = parent_id != category.parent_id
        if moved:
            parent = _check_parent(category, parent_id)
            category.parent = parent
            category.position = _last_position(parent_id)
        category.name = name
        after = _fields(category)
        if after != before:
            category.save()
            record(who, "update", "category", category.id, name,
                   changes(before, after))
    return category, moved


def reorder(category_id: int, direction: str, who: Actor) -> bool:
    """Swap a category with its neighbour above ("up") or below ("down") among its
    siblings; False when it is already first (last). Siblings that share a position are
    numbered afresh first, so the swap always shows."""
    with write():
        category = _get(category_id)
        siblings = list(
            Category.select().where(Category.parent.is_null() if category.parent_id is None
                                    else Category.parent == category.parent_id)
            .order_by(Category.position, Category.name, Category.id)
        )
        index = next(i for i, c in enumerate(siblings) if c.id == category.id)
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(siblings):
            return False
        positions = [c.position for c in siblings]
        slots = sorted(positions) if len(set(positions)) == len(positions) else list(range(1, len(siblings) + 1))
        siblings[index], siblings[other] = siblings[other], siblings[index]
        for c, position in zip(siblings, slots):
            if c.position != position:
                Category.update(position=position).where(Category.id == c.id).execute()
                record(who, "reorder", "category", c.id, c.name,
                       {"position": [c.position, position]})
    return True


def set_active(category_id: int, active: bool, who: Actor) -> Category:
    with write():
        category = _get(category_id)
        if category.active != active:
            Category.update(active=active).where(Category.id == category.id).execute()
            record(who, "activate" if active else "deactivate", "category", category.id,
                   category.name, {"active": [category.active, active]})
            category.active = active
    return category


def delete(category_id: int, who: Actor) -> str:
    """Delete an empty category (no products, no subcategories); returns its name."""
    with write():
        category = _get(category_id)
        products = Product.select().where(Product.category == category.id).count()
        if products:
            raise Refused(ngettext(
                "“%(name)s” still holds %(num)d product and cannot be deleted. Move it to another "
                "category first.",
                "“%(name)s” still holds %(num)d products and cannot be deleted. Move them to another "
                "category first.", products, name=category.name), status=409)
        children = Category.select().where(Category.parent == category.id).count()
        if children:
            raise Refused(ngettext(
                "“%(name)s” has %(num)d subcategory and cannot be deleted. Delete or move it first.",
                "“%(name)s” has %(num)d subcategories and cannot be deleted. Delete or move them first.",
                children, name=category.name), status=409)
        before = _fields(category)
        category.delete_instance()
        record(who, "delete", "category", category_id, category.name,
               {key: [value, None] for key, value in before.items()})
    return category.name


# -- routes -----------------------------------------------------------------------------

async def _render(request: Request, fragment: str | None = None, *, status_code: int = 200,
                  headers: dict | None = None, **context):
    """The categories page, or one of its parts for htmx."""
    context = {"tree": await run_db(tree), "editing": None, "edit_form": None, "create_form": None,
               "notice": None, "focus": None, "confirm_delete": None, **context}
    context["create_form"] = context["create_form"] or NewCategoryForm()
    return render(request, PAGE, context, fragment=fragment, status_code=status_code, headers=headers)


async def categories(request: Request):
    editing = whole_number(request.query_params.get("edit", ""))
    return await _render(request, TABLE, editing=editing)


async def category_row(request: Request):
    """One row (in edit mode with `?edit=1`), for htmx; a plain visit gets the page."""
    category_id = request.path_params["id"]
    edit = request.query_params.get("edit") == "1"
    if not is_htmx(request):
        return see_other(url_path(request, "admin:categories", query={"edit": category_id if edit else ""}))
    return await _row(request, category_id, edit)


async def _row(request: Request, category_id: int, edit: bool, *, status_code: int = 200,
               form: CategoryForm | None = None, notice: str | None = None):
    data = await run_db(tree)
    row = data.row(category_id)
    if row is None:
        raise HTTPException(404)
    # Back from the edit row, the keyboard goes on from the row's Edit link.
    return render(request, PAGE, {"tree": data, "row": row, "editing": category_id if edit else None,
                                  "edit_form": form, "row_notice": notice,
                                  "focus": None if edit else f"category-{category_id}-edit"},
                  fragment=ROW, status_code=status_code)


async def proposed_slug(request: Request):
    """The slug field of the new-category form, proposing a slug for the typed name."""
    if not is_htmx(request):  # a piece of the categories page: without htmx, the page
        return see_other(url_path(request, "admin:categories"))
    form = NewCategoryForm(request.query_params)
    return render(request, PAGE, {"create_form": form}, fragment=SLUG_FIELD)


def _refused_on(form: ShopForm, refused: Refused) -> None:
    target = getattr(form, refused.field or "name")
    target.errors = [*target.errors, str(refused)]


async def create_category(request: Request):
    form = NewCategoryForm(await form_data(request))
    if form.validate():
        try:
            category = await run_db(create, form.name.data, form.slug.data or "", form.parent_id(),
                                    actor(request))
        except Refused as refused:
            _refused_on(form, refused)
        else:
            message = _("The category “%(name)s” is created.", name=category.name)
            if not is_htmx(request):
                flash(request, message, "success")
                return see_other(url_path(request, "admin:categories") + f"#category-{category.id}")
            return await _render(request, FORM, created=message, refresh_table=True)
    return await _render(request, FORM, status_code=422, create_form=form)


async def update_category(request: Request):
    category_id = request.path_params["id"]
    form = CategoryForm(await form_data(request))
    if form.validate():
        try:
            category, moved = await run_db(update, category_id, form.name.data, form.parent_id(), actor(request))
        except LookupError:
            raise HTTPException(404)
        except Refused as refused:
            _refused_on(form, refused)
        else:
            message = _("The category “%(name)s” is saved.", name=category.name)
            if not is_htmx(request):
                flash(request, message, "success")
                return see_other(url_path(request, "admin:categories") + f"#category-{category_id}")
            if moved:  # its place in the table changes: the whole table
                return await _render(request, TABLE, notice={"text": message, "category": "success"},
                                     focus=f"category-{category_id}-edit",
                                     headers={"HX-Retarget": "#admin-category-table", "HX-Reswap": "outerHTML"})
            return await _row(request, category_id, False, notice=message)
    if not is_htmx(request):
        if await run_db(Category.get_or_none, Category.id == category_id) is None:
            raise HTTPException(404)
        return await _render(request, status_code=422, editing=category_id, edit_form=form)
    return await _row(request, category_id, True, status_code=422, form=form)


async def _table_action(request: Request, change, *args, focus: str | None = None) -> object:
    """Run a change of one category from a button in the table: for htmx the table with
    the outcome (and the keyboard on the element `focus` names), else back to the page
    (or the page with the refusal)."""
    try:
        message = await run_db(change, request.path_params["id"], *args, actor(request))
    except LookupError:
        raise HTTPException(404)
    except Refused as refused:
        return await _render(request, TABLE, status_code=refused.status,
                             notice={"text": str(refused), "category": "error"})
    if not is_htmx(request):
        if message:
            flash(request, message, "success")
        return see_other(url_path(request, "admin:categories") + f"#category-{request.path_params['id']}")
    return await _render(request, TABLE, notice=message and {"text": message, "category": "success"}, focus=focus)


async def reorder_category(request: Request):
    direction = (await form_data(request)).get("direction")
    if direction not in ("up", "down"):
        raise HTTPException(400)

    def change(category_id: int, who: Actor) -> str:
        reorder(category_id, direction, who)
        return ""

    return await _table_action(request, change, focus=f"category-{request.path_params['id']}-{direction}")


async def toggle_category(request: Request):
    wanted = (await form_data(request)).get("active")
    if wanted not in ("0", "1"):
        raise HTTPException(400)

    def change(category_id: int, who: Actor) -> str:
        category = set_active(category_id, wanted == "1", who)
        if category.active:
            return _("“%(name)s” is shown in the shop again.", name=category.name)
        return _("“%(name)s” is hidden in the shop now, with its subcategories and their products.",
                 name=category.name)

    return await _table_action(request, change, focus=f"category-{request.path_params['id']}-active")


async def confirm_delete_category(request: Request):
    """The question a delete asks without JavaScript: a page of its own."""
    data = await run_db(tree)
    row = data.row(request.path_params["id"])
    if row is None:
        raise HTTPException(404)
    return render(request, PAGE, {"tree": data, "confirm_delete": row})


async def delete_category(request: Request):
    if (await form_data(request)).get("confirm") != CONFIRMED:  # not asked yet: ask first
        return see_other(url_path(request, "admin:category_delete_confirm", id=request.path_params["id"]))

    def change(category_id: int, who: Actor) -> str:
        return _("The category “%(name)s” is deleted.", name=delete(category_id, who))

    return await _table_action(request, change)


routes = [
    Route("/categories", categories, name="categories"),
    Route("/categories", create_category, methods=["POST"], name="category_create"),
    Route("/categories/slug", proposed_slug, name="category_slug"),
    Route("/categories/{id:id}/row", category_row, name="category_row"),
    Route("/categories/{id:id}", update_category, methods=["POST"], name="category_update"),
    Route("/categories/{id:id}/position", reorder_category, methods=["POST"], name="category_reorder"),
    Route("/categories/{id:id}/active", toggle_category, methods=["POST"], name="category_toggle"),
    Route("/categories/{id:id}/delete", confirm_delete_category, name="category_delete_confirm"),
    Route("/categories/{id:id}/delete", delete_category, methods=["POST"], name="category_delete"),
]

"""Catalogue pages: home, the product listing with search and filters, the product page."""
from __future__ import annotations

from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from shop.db import run_db
from shop.web import Area, is_htmx, render, url_path

from . import queries
from .forms import FilterForm
from .models import SLUG


async def _wished(request: Request, products) -> set[int]:
    """Which of these products the signed-in shopper keeps on the wishlist (the hearts on
    the cards); the wishlist area answers, through the hook `create_app` installs."""
    return await request.app.state.wished_ids(request, products)


async def home(request: Request):
    page = await run_db(queries.home_page)
    wished = await _wished(request, page.featured + page.newest)
    return render(request, "catalog/home.html", {"page": page, "wished": wished})


async def product_list(request: Request):
    form = FilterForm(request.query_params)
    form.validate()
    filters = form.cleaned()
    page_size = request.app.state.settings.page_size
    try:
        listing = await run_db(queries.listing, filters, page_size)
    except queries.CategoryNotFound:
        raise HTTPException(404, "No such category.")
    except queries.PageNotFound as gone:
        # An old link past the end, after products went: show the last page there is.
        last = url_path(request, "catalog:product_list", query=queries.query_params(filters, page=gone.last_page))
        return RedirectResponse(last, status_code=302)
    return render(
        request,
        "catalog/list.html",
        # After a click on a page or category link, focus moves to the new heading.
        {"form": form, "listing": listing, "wished": await _wished(request, listing.products),
         "focus_heading": request.headers.get("hx-trigger") != "catalog-filters"},
        fragment="fragments/catalog/results.html",
        status_code=400 if form.errors else 200,
        headers=_history(request, url_path(request, "catalog:product_list", query=listing.query())),
    )


def _history(request: Request, address: str) -> dict | None:
    """For htmx: the address bar shows the filters in use, not every empty form field;
    the same address again (Enter after typing, leaving the field) adds no history entry."""
    if not is_htmx(request):
        return None
    current = urlsplit(request.headers.get("hx-current-url", ""))
    here = current.path + (f"?{current.query}" if current.query else "")
    return {"HX-Push-Url": "false" if here == address else address}


async def product_detail(request: Request):
    slug = request.path_params["slug"]
    page = await run_db(queries.product_page, slug) if SLUG.fullmatch(slug) else None
    if page is None:
        # A product's former address leads to where it is now, for good.
        moved = await run_db(queries.current_slug, slug) if SLUG.fullmatch(slug) else None
        if moved is None:
            raise HTTPException(404, "No such product.")
        return RedirectResponse(url_path(request, "catalog:product_detail", slug=moved), status_code=301)
    wished = await _wished(request, [page.product, *page.related])
    return render(request, "catalog/product.html", {"page": page, "wished": wished})


routes = [
    Area("catalog", [
        Route("/", home, name="home"),
        Route("/products", product_list, name="product_list"),
        Route("/products/{slug}", product_detail, name="product_detail"),
    ]),
]

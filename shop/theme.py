"""The light/dark switch: a plain form that stores the choice in a cookie."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from shop.security import safe_next
from shop.web import THEMES, Area, form_data, see_other, url_path

ONE_YEAR = 365 * 24 * 3600


async def set_theme(request: Request):
    form = await form_data(request)
    theme = form.get("theme")
    response = see_other(safe_next(form.get("next"), url_path(request, "catalog:home")))
    if theme in THEMES:
        response.set_cookie(
            "theme", theme, max_age=ONE_YEAR, httponly=True, samesite="lax",
            secure=request.app.state.settings.https,
        )
    return response


routes = [
    Area("theme", [Route("/theme", set_theme, methods=["POST"], name="set")]),
]

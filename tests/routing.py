"""Every route of the app, found through its areas' mounts."""
from __future__ import annotations

import datetime as dt
import re

from starlette.routing import Mount, Route

# The first order placed in a test: what `{number}` stands for in sample paths.
FIRST_ORDER = f"{dt.date.today().year}-000001"


def all_routes(routes, prefix: str = ""):
    """(full path with sample ids, route) for every route, inside mounts too."""
    for route in routes:
        if isinstance(route, Mount):
            yield from all_routes(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            path = (prefix + route.path).replace("{number}", FIRST_ORDER)
            yield re.sub(r"\{[^}]+\}", "1", path), route


def requests_to(app, methods: set[str], under: str = "/"):
    """(method, path) of every route under `under` that accepts one of `methods`."""
    return [(method, path) for path, route in all_routes(app.routes) if path.startswith(under)
            for method in sorted(set(route.methods or ()) & methods)]

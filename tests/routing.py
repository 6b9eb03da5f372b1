"""Every route of the app, found through its areas' mounts."""
from __future__ import annotations

import re

from starlette.routing import Mount, Route


def all_routes(routes, prefix: str = ""):
    """(full path with sample ids, route) for every route, inside mounts too."""
    for route in routes:
        if isinstance(route, Mount):
            yield from all_routes(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            yield re.sub(r"\{[^}]+\}", "1", prefix + route.path), route


def requests_to(app, methods: set[str], under: str = "/"):
    """(method, path) of every route under `under` that accepts one of `methods`."""
    return [(method, path) for path, route in all_routes(app.routes) if path.startswith(under)
            for method in sorted(set(route.methods or ()) & methods)]

"""Liveness and database check for load balancers and monitoring."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shop.db import ping
from shop.web import Area


async def healthz(request: Request):
    if await run_in_threadpool(ping):
        return JSONResponse({"status": "ok", "database": "ok"})
    return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)


routes = [
    Area("health", [Route("/healthz", healthz, name="check")]),
]

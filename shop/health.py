"""Liveness and database check for load balancers and monitoring."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shop.db import ping, writable
from shop.web import Area


async def healthz(request: Request):
    """200 while the database answers and takes writes; 503 with what is wrong otherwise."""
    if not await run_in_threadpool(ping):
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    if not await run_in_threadpool(writable):
        return JSONResponse({"status": "error", "database": "ok", "writable": False}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "writable": True})


routes = [
    Area("health", [Route("/healthz", healthz, name="check")]),
]

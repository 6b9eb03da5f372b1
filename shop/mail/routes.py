"""The outbox as pages, for the demo and local development (only with DEBUG): every
mail the shop wrote, with its links to click, as a shopper would find it in their inbox."""
from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shop.db import run_db
from shop.forms import whole_number
from shop.web import Area, PrivatePages, render

from .models import OutboxMessage

PAGE_SIZE = 50
_LINK = re.compile(r"(https?://[^\s<>\"]+)")


def outbox_page(page: int) -> tuple[list[OutboxMessage], int]:
    query = OutboxMessage.select().order_by(OutboxMessage.id.desc())
    return list(query.paginate(page, PAGE_SIZE)), query.count()


async def outbox(request: Request):
    page = whole_number(request.query_params.get("page", "1")) or 1
    messages, total = await run_db(outbox_page, page)
    pages = max(1, -(-total // PAGE_SIZE))
    # `mails`, not `messages`: that name holds the page's flash notices.
    return render(request, "dev/outbox.html", {"mails": messages, "page": min(page, pages), "pages": pages,
                                               "total": total})


def _parsed(message_id: int) -> tuple[OutboxMessage, EmailMessage | None]:
    row = OutboxMessage.get_or_none(OutboxMessage.id == message_id)
    if row is None:
        raise HTTPException(404, "No such mail.")
    parsed = email.message_from_string(row.message, policy=policy.default) if row.message else None
    return row, parsed  # type: ignore[return-value]


async def message(request: Request):
    row, parsed = await run_db(_parsed, request.path_params["message_id"])
    text = parsed.get_body(("plain",)) if parsed else None
    body = text.get_content() if text else ""
    attachments = [part.get_filename() for part in parsed.iter_attachments()] if parsed else []
    return render(request, "dev/message.html", {
        "row": row, "mail": parsed, "parts": _LINK.split(body), "attachments": attachments,
        "has_html": bool(parsed and parsed.get_body(("html",))),
    })


async def message_html(request: Request):
    """The HTML version as the recipient's mail program shows it, sandboxed."""
    _, parsed = await run_db(_parsed, request.path_params["message_id"])
    html = parsed.get_body(("html",)) if parsed else None
    if html is None:
        raise HTTPException(404, "This mail has no HTML version.")
    return Response(html.get_content(), media_type="text/html",
                    headers={"Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'"})


async def message_file(request: Request):
    row, _ = await run_db(_parsed, request.path_params["message_id"])
    return Response(row.message.encode(), media_type="message/rfc822",
                    headers={"Content-Disposition": f'attachment; filename="mail-{row.id}.eml"'})


routes = [
    Area("mail", [
        Route("/dev/mail", outbox, name="outbox"),
        Route("/dev/mail/{message_id:id}", message, name="message"),
        Route("/dev/mail/{message_id:id}/html", message_html, name="message_html"),
        Route("/dev/mail/{message_id:id}.eml", message_file, name="message_file"),
    ], middleware=[Middleware(PrivatePages)]),
]

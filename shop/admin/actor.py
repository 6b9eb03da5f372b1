"""Who is writing in the back office, for the audit trail."""
from __future__ import annotations

from starlette.requests import Request

from shop.audit.service import Actor
from shop.security import client_address


def actor(request: Request) -> Actor:
    """The signed-in admin of this request (the guard has looked them up) and their address."""
    user = request.state.user
    return Actor(email=user.email, user_id=user.id, address=client_address(request))

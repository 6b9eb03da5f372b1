"""The payment providers' stand-ins, served on a free port for a test."""
from __future__ import annotations

import contextlib
import socket
import threading
import time

import uvicorn

from shop.orders.models import Order


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(app, port: int | None = None):
    """`app` served by uvicorn in a thread; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the stand-in did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def order_paying_online(shopper, product, payment: str, quantity: int = 1):
    """Through the checkout to the provider's page: the order and the page's address."""
    assert shopper.add(product, quantity).status_code == 303
    assert shopper.address().status_code == 303
    assert shopper.delivery(payment=payment).status_code == 303
    response = shopper.place()
    assert response.status_code == 303, response.text
    return Order.select().order_by(Order.id.desc()).get(), response.headers["location"]

"""Rate limits count in memory, or in Redis so that several app servers share them."""
from __future__ import annotations

import os
import uuid

import pytest

from shop.ratelimit import Limit, MemoryCounter, RateLimiter, RedisCounter, TooMany

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Clock:
    now = 1_000_000.0

    def __call__(self):
        return self.now


def redis_or_skip():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")


@pytest.fixture(params=["memory", "redis"])
def counter_factory(request):
    if request.param == "memory":
        shared = {}
        return lambda clock: shared.setdefault("counter", MemoryCounter(clock))
    redis_or_skip()
    return lambda clock: RedisCounter(REDIS_URL, clock)


def test_a_limit_refuses_beyond_its_count_until_the_window_passes(counter_factory):
    clock = Clock()
    limiter = RateLimiter(counter_factory(clock))
    limit, key = Limit("test", 3, 60), uuid.uuid4().hex
    for _ in range(3):
        limiter.hit(limit, key)
    with pytest.raises(TooMany) as refused:
        limiter.hit(limit, key)
    assert 1 <= refused.value.retry_after <= 60
    clock.now += 61
    limiter.hit(limit, key)


def test_two_app_servers_share_counts_in_redis():
    redis_or_skip()
    clock = Clock()
    first, second = (RateLimiter(RedisCounter(REDIS_URL, clock)) for _ in range(2))
    limit, key = Limit("shared", 2, 60), uuid.uuid4().hex
    first.hit(limit, key)
    second.hit(limit, key)
    with pytest.raises(TooMany):
        first.check(limit, key)
    first.reset(limit, key)
    second.check(limit, key)

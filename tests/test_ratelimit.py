"""Rate limits count in memory, or in Redis so that several app servers share them."""
from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

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
    assert refused.value.retry_after == 60  # the whole window: all three came just now
    clock.now += 45
    with pytest.raises(TooMany) as refused:
        limiter.hit(limit, key)
    assert refused.value.retry_after == 15  # until the oldest leaves the window
    clock.now += 16
    limiter.hit(limit, key)


def test_two_app_servers_share_counts_in_redis():
    redis_or_skip()
    clock = Clock()
    first, second = (RateLimiter(RedisCounter(REDIS_URL, clock)) for _ in range(2))
    limit, key = Limit("shared", 2, 60), uuid.uuid4().hex
    first.hit(limit, key)
    second.hit(limit, key)
    with pytest.raises(TooMany):
        first.hit(limit, key)
    first.reset(limit, key)
    second.hit(limit, key)


def test_an_attempt_that_succeeded_is_taken_back(counter_factory):
    limiter = RateLimiter(counter_factory(Clock()))
    limit, key = Limit("test", 2, 60), uuid.uuid4().hex
    limiter.hit(limit, key).succeeded()
    limiter.hit(limit, key)
    limiter.hit(limit, key)
    with pytest.raises(TooMany):
        limiter.hit(limit, key)


def test_a_refused_attempt_is_not_counted_and_one_refusal_counts_nothing(counter_factory):
    clock = Clock()
    limiter = RateLimiter(counter_factory(clock))
    tight, loose, key = Limit("tight", 1, 60), Limit("loose", 5, 60), uuid.uuid4().hex
    limiter.hit(tight, key)
    for _ in range(3):
        with pytest.raises(TooMany):
            limiter.hit_all((loose, key), (tight, key))
    for _ in range(5):
        limiter.hit(loose, key)  # the refused ones took nothing from `loose`
    clock.now += 61
    limiter.hit(tight, key)  # and did not stretch `tight`'s window


def test_parallel_attempts_get_no_further_than_the_limit(counter_factory):
    limiter = RateLimiter(counter_factory(Clock()))
    limit, key = Limit("burst", 5, 60), uuid.uuid4().hex

    def attempt(_):
        try:
            limiter.hit(limit, key)
            return True
        except TooMany:
            return False

    with ThreadPoolExecutor(30) as pool:
        assert sum(pool.map(attempt, range(30))) == 5


def test_memory_forgets_clients_whose_window_has_passed():
    clock = Clock()
    counter = MemoryCounter(clock)
    limiter = RateLimiter(counter)
    for n in range(10_000):
        limiter.hit(Limit("flood", 5, 60), f"203.0.{n // 256}.{n % 256}")
    assert len(counter) == 10_000
    clock.now += 61 + MemoryCounter.SWEEP_EVERY
    limiter.hit(Limit("flood", 5, 60), "198.51.100.1")
    assert len(counter) == 1

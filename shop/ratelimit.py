"""Rate limits for sign-in, registration and mail sending.

A limit allows `count` events per `window` seconds for one key (an account, a
client address). Counts live in memory by default, or in Redis when REDIS_URL is
set, so several app servers share them. The clock is injectable for tests.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    window: int  # seconds


class TooMany(Exception):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


class MemoryCounter:
    """Sliding-window counts in this process."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._events: dict[str, deque] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window: int) -> tuple[int, float]:
        """Record an event; returns (events in the window, oldest event's time)."""
        moment = self.clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= moment - window:
                events.popleft()
            events.append(moment)
            return len(events), events[0]

    def count(self, key: str, window: int) -> tuple[int, float]:
        moment = self.clock()
        with self._lock:
            events = self._events.get(key, deque())
            while events and events[0] <= moment - window:
                events.popleft()
            return len(events), (events[0] if events else moment)

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)


class RedisCounter:
    """Sliding-window counts in a Redis sorted set per key, shared by all app servers."""

    def __init__(self, url: str, clock: Callable[[], float] = time.time):
        import redis

        self.redis = redis.Redis.from_url(url)
        self.clock = clock

    def hit(self, key: str, window: int) -> tuple[int, float]:
        moment = self.clock()
        key = f"shop:rate:{key}"
        with self.redis.pipeline() as pipe:
            pipe.zremrangebyscore(key, 0, moment - window)
            pipe.zadd(key, {f"{moment}:{threading.get_ident()}:{time.perf_counter_ns()}": moment})
            pipe.zcard(key)
            pipe.zrange(key, 0, 0, withscores=True)
            pipe.expire(key, window)
            _, _, count, oldest, _ = pipe.execute()
        return count, oldest[0][1] if oldest else moment

    def count(self, key: str, window: int) -> tuple[int, float]:
        moment = self.clock()
        key = f"shop:rate:{key}"
        with self.redis.pipeline() as pipe:
            pipe.zremrangebyscore(key, 0, moment - window)
            pipe.zcard(key)
            pipe.zrange(key, 0, 0, withscores=True)
            _, count, oldest = pipe.execute()
        return count, oldest[0][1] if oldest else moment

    def reset(self, key: str) -> None:
        self.redis.delete(f"shop:rate:{key}")


class RateLimiter:
    def __init__(self, counter):
        self.counter = counter

    def hit(self, limit: Limit, key: str) -> None:
        """Count an event; raises TooMany once more than `limit.count` fall in the window."""
        count, oldest = self.counter.hit(f"{limit.name}:{key}", limit.window)
        if count > limit.count:
            raise TooMany(self._retry_after(limit, oldest))

    def check(self, limit: Limit, key: str) -> None:
        """Raise TooMany if the limit is already used up, without counting."""
        count, oldest = self.counter.count(f"{limit.name}:{key}", limit.window)
        if count >= limit.count:
            raise TooMany(self._retry_after(limit, oldest))

    def reset(self, limit: Limit, key: str) -> None:
        self.counter.reset(f"{limit.name}:{key}")

    def _retry_after(self, limit: Limit, oldest: float) -> int:
        return max(1, math.ceil(oldest + limit.window - self.counter.clock()))


def limiter_for(redis_url: str, clock: Callable[[], float] = time.time) -> RateLimiter:
    return RateLimiter(RedisCounter(redis_url, clock) if redis_url else MemoryCounter(clock))

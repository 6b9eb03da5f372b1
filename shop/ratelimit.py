"""Rate limits for sign-in, registration and mail sending.

A limit allows `count` events per `window` seconds for one key (an account, a
client address). Counting an attempt and checking it against the limit is one
atomic step, so a burst of parallel requests gets no more than the limit through.
Counts live in memory by default, or in Redis when REDIS_URL is set, so several app
servers share them. The clock is injectable for tests.
"""
from __future__ import annotations

import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Protocol


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    window: int  # seconds


class TooMany(Exception):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


class Counter(Protocol):
    clock: Callable[[], float]

    def take(self, key: str, window: int, limit: int) -> tuple[str | None, float]: ...
    def give_back(self, key: str, event: str) -> None: ...
    def reset(self, key: str) -> None: ...


class MemoryCounter:
    """Sliding-window counts in this process. Keys whose events have all expired are
    swept out now and then, so a flood of distinct clients cannot grow memory."""

    SWEEP_EVERY = 60.0  # seconds

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._events: dict[str, tuple[int, deque]] = {}  # key -> (window, [(time, id)])
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def take(self, key: str, window: int, limit: int) -> tuple[str | None, float]:
        """Count an event unless `limit` events already fall in the window; returns
        (the event's id, or None when refused; the oldest event's time)."""
        moment = self.clock()
        with self._lock:
            self._sweep(moment)
            _, events = self._events.setdefault(key, (window, deque()))
            _expire(events, moment - window)
            if len(events) >= limit:
                return None, events[0][0]
            event = secrets.token_hex(8)
            events.append((moment, event))
            return event, events[0][0]

    def give_back(self, key: str, event: str) -> None:
        with self._lock:
            if key in self._events:
                events = self._events[key][1]
                for item in events:
                    if item[1] == event:
                        events.remove(item)
                        break

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)

    def __len__(self) -> int:
        return len(self._events)

    def _sweep(self, moment: float) -> None:
        if moment - self._last_sweep < self.SWEEP_EVERY:
            return
        self._last_sweep = moment
        for key in [key for key, (window, events) in self._events.items()
                    if not events or events[-1][0] <= moment - window]:
            del self._events[key]


def _expire(events: deque, before: float) -> None:
    while events and events[0][0] <= before:
        events.popleft()


# Drop expired events, count, and add the new one only if there is room: atomic in Redis.
_TAKE = """
local key, now, window, limit, event = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2] or ARGV[1]
if redis.call('ZCARD', key) >= limit then
  return {0, oldest}
end
redis.call('ZADD', key, now, event)
redis.call('EXPIRE', key, math.ceil(window))
return {1, oldest}
"""


class RedisCounter:
    """Sliding-window counts in a Redis sorted set per key, shared by all app servers."""

    def __init__(self, url: str, clock: Callable[[], float] = time.time):
        import redis

        self.redis = redis.Redis.from_url(url)
        self.clock = clock
        self._take = self.redis.register_script(_TAKE)

    def take(self, key: str, window: int, limit: int) -> tuple[str | None, float]:
        event = secrets.token_hex(8)
        taken, oldest = self._take(keys=[f"shop:rate:{key}"],
                                   args=[repr(self.clock()), window, limit, event])
        return (event if taken else None), float(oldest)

    def give_back(self, key: str, event: str) -> None:
        self.redis.zrem(f"shop:rate:{key}", event)

    def reset(self, key: str) -> None:
        self.redis.delete(f"shop:rate:{key}")


@dataclass
class Attempt:
    """A counted attempt; `succeeded()` takes it back (a right password is no guess)."""

    counter: Counter
    key: str
    event: str

    def succeeded(self) -> None:
        self.counter.give_back(self.key, self.event)


class RateLimiter:
    def __init__(self, counter: Counter):
        self.counter = counter

    def hit(self, limit: Limit, key: str) -> Attempt:
        """Count an attempt, or raise TooMany (counting nothing) once the limit is used up."""
        full_key = f"{limit.name}:{key}"
        event, oldest = self.counter.take(full_key, limit.window, limit.count)
        if event is None:
            raise TooMany(max(1, math.ceil(oldest + limit.window - self.counter.clock())))
        return Attempt(self.counter, full_key, event)

    def hit_all(self, *limits: tuple[Limit, str]) -> list[Attempt]:
        """Count one attempt against several limits; if one refuses, none is counted."""
        attempts: list[Attempt] = []
        try:
            for limit, key in limits:
                attempts.append(self.hit(limit, key))
        except TooMany:
            for attempt in attempts:
                attempt.succeeded()
            raise
        return attempts

    def reset(self, limit: Limit, key: str) -> None:
        self.counter.reset(f"{limit.name}:{key}")


def limiter_for(redis_url: str, clock: Callable[[], float] = time.time) -> RateLimiter:
    return RateLimiter(RedisCounter(redis_url, clock) if redis_url else MemoryCounter(clock))

"""What gateway replicas share: web rate limits, WebSocket fan-out, redelivered updates; built by connectors.app.

One gateway keeps all of it in its own memory (``LocalState``, the default). Several gateways behind a load
balancer (``make run-cluster``, Kubernetes) share it through Redis (``RedisState``, when ``GATEWAY_REDIS_URL`` is
set):

* rate limits: the ``limits`` library's moving window in Redis, so a conversation or an address gets the same
  allowance however the balancer spreads its requests;
* fan-out: a message pushed to a web conversation (a person's reply in a hand-off, order news) is published on a
  Redis channel; every gateway delivers it to the sockets of that conversation it holds;
* redeliveries: ``first_time`` is a ``SET NX`` with an expiry, so a Telegram update or a Slack retry that reaches
  another gateway is still processed once;
* small facts about a conversation (``remember``/``recall``, e.g. the buttons it was offered,
  ``connectors.offers``), so the next message may reach another gateway.

Redis trouble never silences a customer: a failed publish is delivered to this gateway's own sockets, a failed
rate-limit check lets the message through, a failed dedupe treats the update as new, a failed ``recall`` answers
from this gateway's own copy; each is counted (``errors``) and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from connectors.keys import SHARED_KEY

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]
CHANNEL_PREFIX = "gateway:"
#: Deletes a lease only if it still holds this holder's token (a lease that expired may belong to another now).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
#: How long a redelivered update or event id is remembered across gateways (Telegram and Slack retry within minutes).
DEDUPE_SECONDS = 24 * 3600
#: Most values ``LocalState.remember`` keeps (the oldest go first): memory stays bounded whatever the traffic.
MAX_REMEMBERED = 100_000


class LocalState:
    """Everything in this process: one gateway needs nothing else (channels keep their own dedupe memory)."""

    #: whether other gateways see what this one records
    distributed = False

    def __init__(self) -> None:
        """No handlers yet."""
        self._handlers: dict[str, list[Handler]] = {}
        self.errors: Counter[str] = Counter()
        self._remembered: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def remember(self, scope: str, key: str, value: str, ttl: float) -> None:
        """Keep ``value`` under ``scope``/``key`` for ``ttl`` seconds (here: in this process, bounded)."""
        self._keep(f"{scope}:{key}", value, ttl)

    async def recall(self, scope: str, key: str) -> str | None:
        """The value remembered under ``scope``/``key``, or None once it expired (or was never set)."""
        return self._kept(f"{scope}:{key}")

    def _keep(self, name: str, value: str, ttl: float) -> None:
        self._remembered[name] = (time.monotonic() + ttl, value)
        self._remembered.move_to_end(name)
        while len(self._remembered) > MAX_REMEMBERED:
            self._remembered.popitem(last=False)

    def _kept(self, name: str) -> str | None:
        found = self._remembered.get(name)
        if found is None:
            return None
        if found[0] < time.monotonic():
            del self._remembered[name]
            return None
        return found[1]

    def on(self, topic: str, handler: Handler) -> None:
        """Call ``handler(payload)`` for every message published on ``topic`` (by any gateway)."""
        self._handlers.setdefault(topic, []).append(handler)

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Deliver ``payload`` to the handlers of ``topic`` (here: this process's)."""
        await self._deliver(topic, payload)

    async def _deliver(self, topic: str, payload: dict[str, Any]) -> None:
        for handler in self._handlers.get(topic, ()):
            try:
                await handler(payload)
            except Exception:  # one handler's failure must not stop the others; counted and logged
                self.errors["handler"] += 1
                log.exception("handler for %s failed", topic)

    async def first_time(self, scope: str, key: str, ttl: float = DEDUPE_SECONDS) -> bool:
        """True: nothing is shared, so the channel's own memory decides whether it saw ``key``."""
        return True

    async def retry_after(self, name: str, key: str, limit: int, window: float) -> float:
        """0.0: without shared state the channel's own limiter decides."""
        return 0.0

    async def healthy(self) -> bool:
        """Always: nothing outside the process to reach."""
        return True

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str, seconds: float) -> AsyncIterator[bool]:
        """Yield True when this gateway may do ``name``'s work now (always, alone); see ``RedisState``."""
        yield True

    async def run(self, app: web.Application) -> AsyncIterator[None]:
        """``cleanup_ctx`` hook: nothing to start or stop."""
        yield


class RedisState(LocalState):
    """Rate limits, fan-out and dedupe in Redis, shared by every gateway using the same URL."""

    distributed = True

    def __init__(self, url: str, *, prefix: str = "shop") -> None:
        """Connect lazily to ``url`` (``redis://host:port/db``); nothing is opened until the app starts.

        Args:
            url: the Redis URL (``GATEWAY_REDIS_URL``).
            prefix: namespace of every key and channel.
        """
        super().__init__()
        self.url = url
        self.prefix = prefix
        self._redis: Any = None
        self._limiter: Any = None
        self._limits: dict[tuple[int, float], Any] = {}
        self._listener: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    def __repr__(self) -> str:
        """The URL without a password."""
        return f"RedisState({self.url.split('@')[-1]!r})"

    def _client(self) -> Any:
        if self._redis is None:
            import redis.asyncio as redis

            self._redis = redis.from_url(self.url, socket_timeout=2.0, socket_connect_timeout=2.0)
        return self._redis

    def _channel(self, topic: str) -> str:
        return f"{self.prefix}:{CHANNEL_PREFIX}{topic}"

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Publish ``payload`` to every gateway; if Redis cannot take it, deliver it here at least."""
        try:
            await self._client().publish(self._channel(topic), json.dumps({"topic": topic, "payload": payload}))
        except Exception as exc:  # redis.RedisError, OSError, timeouts: fall back to this gateway's sockets
            self.errors["publish"] += 1
            log.warning("could not publish %s to Redis (%s); delivering on this gateway only", topic, exc)
            await self._deliver(topic, payload)

    async def first_time(self, scope: str, key: str, ttl: float = DEDUPE_SECONDS) -> bool:
        """Record ``key`` for every gateway; True the first time any of them sees it (or when Redis is down)."""
        try:
            created = await self._client().set(f"{self.prefix}:seen:{scope}:{key}", "1", nx=True, ex=int(ttl))
        except Exception as exc:  # better twice than never: the channel's own memory still catches most repeats
            self.errors["dedupe"] += 1
            log.warning("Redis dedupe unavailable (%s); treating %s %s as new", exc, scope, key)
            return True
        return bool(created)

    async def remember(self, scope: str, key: str, value: str, ttl: float) -> None:
        """Keep ``value`` for every gateway (``SET ... EX``), and a copy here for when Redis is away."""
        self._keep(f"{scope}:{key}", value, ttl)
        try:
            await self._client().set(f"{self.prefix}:kv:{scope}:{key}", value, ex=max(1, int(ttl)))
        except Exception as exc:  # this gateway still knows it; another one will answer without it
            self.errors["remember"] += 1
            log.warning("Redis could not keep a %s value (%s); kept on this gateway only", scope, exc)

    async def recall(self, scope: str, key: str) -> str | None:
        """The value any gateway remembered; this gateway's own copy when Redis cannot be read."""
        try:
            value = await self._client().get(f"{self.prefix}:kv:{scope}:{key}")
        except Exception as exc:
            self.errors["recall"] += 1
            log.warning("Redis could not recall a %s value (%s); using this gateway's copy", scope, exc)
            return self._kept(f"{scope}:{key}")
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def retry_after(self, name: str, key: str, limit: int, window: float) -> float:
        """Count one event for ``key`` against ``limit`` per ``window`` seconds (moving window, all gateways).

        Returns:
            0.0 when it was allowed and counted; otherwise the seconds until it would be (nothing counted).
            Also 0.0 when Redis cannot be reached: a rate limit is not worth a customer's message.
        """
        from limits import RateLimitItemPerSecond

        try:
            limiter = self._moving_window()
            item = self._limits.get((limit, window))
            if item is None:
                item = self._limits[(limit, window)] = RateLimitItemPerSecond(limit, max(1, round(window)))
            if await limiter.hit(item, self.prefix, name, key):
                return 0.0
            reset, _remaining = await limiter.get_window_stats(item, self.prefix, name, key)
            return max(0.001, float(reset) - time.time())
        except Exception as exc:
            self.errors["rate_limit"] += 1
            log.warning("Redis rate limits unavailable (%s); letting the message through", exc)
            return 0.0

    def _moving_window(self) -> Any:
        if self._limiter is None:
            from limits.aio.storage import RedisStorage
            from limits.aio.strategies import MovingWindowRateLimiter

            storage = RedisStorage(self.url.replace("redis://", "async+redis://", 1), implementation="redispy")
            self._limiter = MovingWindowRateLimiter(storage)
        return self._limiter

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str, seconds: float) -> AsyncIterator[bool]:
        """Yield True when no other gateway is doing ``name``'s work (a Redis lease of ``seconds``), else False.

        The lease is released at the end of the block, by its holder only. When Redis cannot be reached the work is
        done anyway (True): a background job delayed forever is worse than one done twice.
        """
        key, token = f"{self.prefix}:lease:{name}", uuid.uuid4().hex
        try:
            mine = bool(await self._client().set(key, token, nx=True, px=int(seconds * 1000)))
        except Exception as exc:
            self.errors["lease"] += 1
            log.warning("Redis lease for %s unavailable (%s); doing the work here", name, exc)
            yield True
            return
        try:
            yield mine
        finally:
            if mine:
                with contextlib.suppress(Exception):
                    await self._client().eval(_RELEASE, 1, key, token)

    async def healthy(self) -> bool:
        """Whether Redis answers a PING within its timeout."""
        try:
            return bool(await self._client().ping())
        except Exception:
            return False

    async def run(self, app: web.Application) -> AsyncIterator[None]:
        """``cleanup_ctx`` hook: listen for published messages until the app stops."""
        self._listener = asyncio.create_task(self._listen())
        try:
            yield
        finally:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            if self._redis is not None:
                with contextlib.suppress(Exception):
                    await self._redis.aclose()

    async def _listen(self) -> None:
        """Subscribe to every topic with a handler and dispatch; reconnect with backoff when Redis goes away."""
        delay = 0.2
        while True:
            pubsub = self._client().pubsub()
            try:
                await pubsub.subscribe(*(self._channel(topic) for topic in self._handlers or {"none": []}))
                self.subscribed.set()
                delay = 0.2
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        envelope = json.loads(message["data"])
                        await self._deliver(str(envelope["topic"]), dict(envelope["payload"]))
                    except (ValueError, KeyError, TypeError):
                        self.errors["malformed"] += 1
                        log.warning("ignored a malformed message on %s", message.get("channel"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.subscribed.clear()
                self.errors["subscribe"] += 1
                log.warning("Redis subscription lost (%s); resubscribing in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()


def shared_state_from_env(env: dict[str, str] | Any) -> LocalState:
    """``RedisState`` when ``GATEWAY_REDIS_URL`` is set, else ``LocalState``.

    Args:
        env: the environment (``os.environ`` or a dict).
    """
    url = str(env.get("GATEWAY_REDIS_URL", "") or "").strip()
    return RedisState(url) if url else LocalState()


def shared_state(app: web.Application) -> LocalState:
    """The app's shared state; a ``LocalState`` for apps built without ``create_app`` (tests of one channel)."""
    state = app.get(SHARED_KEY)
    if state is None:
        state = LocalState()
        app[SHARED_KEY] = state
    return state

"""The gateway's own origins and host names, from configuration; used by the Host guard and the web origin check.

A browser page may use the chat API when its origin is the gateway's own or listed in
``GATEWAY_ALLOWED_ORIGINS``. "The gateway's own" used to be whatever ``Host`` the request named, so a page
on ``http://evil.example:8000`` whose name was rebound to 127.0.0.1 (DNS rebinding) passed as the gateway
itself, and ``https://`` was taken for ``http://``. Now it comes from configuration:

* ``GATEWAY_PUBLIC_URL``: how browsers reach the gateway, comma-separated (``https://chat.shop.example``);
* always: ``http://127.0.0.1:P``, ``http://localhost:P`` and ``http://[::1]:P``, where ``P`` is the port the
  request arrived on (the listening socket's, not anything the client wrote). As ``Host`` names, these three
  pass with any port (a local proxy or port mapping); as origins, only with ``P``.

Origins are compared whole: scheme, host and port (default ports dropped). Requests whose ``Host`` is none of
these names are refused (``host_guard``, 421) except on the machine-to-machine routes that prove themselves
by signature or secret and that no browser uses (``HOST_EXEMPT_PATHS``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from connectors.errors import SettingsError

if TYPE_CHECKING:
    from aiohttp import web

PUBLIC_URL_VAR = "GATEWAY_PUBLIC_URL"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_LOOPBACK_HOST = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?")
#: Routes that authenticate every request themselves and are never called by a browser page: health and
#: metrics scrapes (Host is the target's address), the Telegram and Slack webhooks (secret token, signature)
#: and the carrier webhook (signature). Everything else answers only the gateway's own host names.
HOST_EXEMPT_PATHS = frozenset({"/healthz", "/metrics", "/telegram/webhook", "/slack/events", "/api/carrier/events"})


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in lower case with the scheme's default port dropped, or None if not an origin.

    ``HTTPS://Shop.Example:443/`` -> ``https://shop.example``; ``null`` and paths-only values -> None.
    """
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def public_urls_from_env(env: Mapping[str, str]) -> tuple[str, ...]:
    """``GATEWAY_PUBLIC_URL``, each entry normalised to its origin.

    Raises:
        SettingsError: an entry is not an http(s) URL (the message names it).
    """
    urls: list[str] = []
    for entry in (part.strip() for part in env.get(PUBLIC_URL_VAR, "").split(",")):
        if not entry:
            continue
        origin = normalize_origin(entry)
        if origin is None:
            raise SettingsError(
                f"{PUBLIC_URL_VAR}: {entry!r} is not an http(s) URL such as https://chat.shop.example"
            )
        urls.append(origin)
    return tuple(urls)


def own_origins(public_urls: Iterable[str], local_port: int | None) -> frozenset[str]:
    """The gateway's own origins: the configured public URLs and loopback on the port the request came in on."""
    own = {o for o in (normalize_origin(u) for u in public_urls) if o}
    if local_port:
        own |= {o for o in (normalize_origin(f"http://{h}:{local_port}") for h in _LOOPBACK_HOSTS) if o}
    return frozenset(own)


def own_hosts(public_urls: Iterable[str], local_port: int | None) -> frozenset[str]:
    """``Host`` values the gateway answers: each own origin's host, with and without its default port."""
    hosts: set[str] = set()
    for origin in own_origins(public_urls, local_port):
        parts = urlsplit(origin)
        netloc = parts.netloc
        hosts.add(netloc)
        if parts.port is None:
            hosts.add(f"{netloc}:{_DEFAULT_PORTS[parts.scheme]}")
    return frozenset(hosts)


def local_port(request: web.BaseRequest) -> int | None:
    """The port the request arrived on (the listening socket's)."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if isinstance(sockname, tuple) and len(sockname) >= 2 and isinstance(sockname[1], int):
        return sockname[1]
    return None


def host_allowed(request: web.BaseRequest, public_urls: Iterable[str]) -> bool:
    """Whether the request's ``Host`` names this gateway (a missing Host, which no browser sends, passes)."""
    host = request.headers.get("Host")
    if host is None:
        return True
    name = host.strip().lower()
    if name.endswith("."):
        name = name[:-1]
    elif ".:" in name:  # "chat.shop.example.:443"
        name = name.replace(".:", ":")
    if _LOOPBACK_HOST.fullmatch(name):
        # A loopback name with any port (a local proxy, a port mapping): a rebinding page's Host is its own
        # name, never these. Whether a browser origin is ours is still compared whole
        # (`connectors.web.translate.origin_allowed`).
        return True
    return name in own_hosts(public_urls, local_port(request))

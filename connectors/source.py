"""Where a request comes from, as far as the gateway can tell: client addresses and per-channel sources.

The order store counts failed proofs per *source* (`store.proofs`), and web rate limits are per client
address, so both must come from something a client cannot choose. A web client is its TCP peer address,
unless that peer is a reverse proxy listed in ``GATEWAY_TRUSTED_PROXIES``: only then is ``X-Forwarded-For``
read, right to left, skipping the trusted proxies, and the first other address is the client. Without
trusted proxies the header is ignored, whatever it says. IPv6 clients count per /64 (one household's
prefix), since anyone with IPv6 can pick any address inside theirs. For the same reason every loopback address
(127.0.0.0/8: any local process can connect from 127.x.y.z) is one source, and so is IPv4 link-local
(169.254.0.0/16: any host on the segment picks its own).

Sources of the other channels come from what the platform vouches for: the tablet's device (its token),
the Telegram user, the Slack workspace and user. Used by the web and tablet channels and by
`connectors.rasa_client.RasaClient`, which signs each message's source into its claim.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from connectors.errors import SettingsError

if TYPE_CHECKING:
    from aiohttp import web

    from connectors.models import InboundMessage

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Environment variable listing the reverse proxies whose ``X-Forwarded-For`` is believed.
TRUSTED_PROXIES_VAR = "GATEWAY_TRUSTED_PROXIES"
UNKNOWN = "unknown"
#: IPv4 networks whose addresses anyone inside can choose freely: each is counted as one client.
_ONE_SOURCE_NETWORKS = (ipaddress.IPv4Network("127.0.0.0/8"), ipaddress.IPv4Network("169.254.0.0/16"))


def parse_trusted_proxies(raw: str, name: str = TRUSTED_PROXIES_VAR) -> tuple[Network, ...]:
    """Read a comma-separated list of addresses or networks (``127.0.0.1, 10.0.0.0/8, ::1``).

    Raises:
        SettingsError: naming the variable and the entry that is not an address or network.
    """
    networks: list[Network] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise SettingsError(f"{name}: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
    return tuple(networks)


def trusted_proxies_from_env(env: Mapping[str, str]) -> tuple[Network, ...]:
    """``GATEWAY_TRUSTED_PROXIES`` from ``env``; refuses the old ``GATEWAY_WEB_TRUST_FORWARDED_FOR``.

    Raises:
        SettingsError: the list is malformed, or the old switch (which believed any client's header) is on.
    """
    old = env.get("GATEWAY_WEB_TRUST_FORWARDED_FOR", "").strip().lower()
    if old not in ("", "0", "false", "no", "off"):
        raise SettingsError(
            "GATEWAY_WEB_TRUST_FORWARDED_FOR is no longer read (it believed X-Forwarded-For from anyone): set "
            f"{TRUSTED_PROXIES_VAR} to your reverse proxy's address instead, e.g. {TRUSTED_PROXIES_VAR}=127.0.0.1"
        )
    return parse_trusted_proxies(env.get(TRUSTED_PROXIES_VAR, ""))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = text.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: tuple[Network, ...]) -> str:
    """The client's address, as a string; ``X-Forwarded-For`` is read only when ``peer`` is a trusted proxy.

    Args:
        peer: The TCP peer (``request.remote``).
        forwarded_for: The ``X-Forwarded-For`` header(s), comma-joined, or None.
        trusted_proxies: ``GATEWAY_TRUSTED_PROXIES``.

    Returns:
        The address (IPv4, or IPv6 in its /64 as ``2001:db8:1:2::/64``; every loopback address as
        ``127.0.0.0/8``, IPv4 link-local as ``169.254.0.0/16``), or ``unknown``.
    """
    current = _address(peer or "")
    if current is None:
        return UNKNOWN
    if trusted_proxies and _trusted(current, trusted_proxies) and forwarded_for:
        # Each proxy appends the address it received the request from: the last untrusted hop is the client.
        for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
            address = _address(hop)
            if address is None:
                break  # garbage from the client's side of the chain: stop at the last proxy we trust
            current = address
            if not _trusted(address, trusted_proxies):
                break
    if isinstance(current, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{current}/64", strict=False))
    for network in _ONE_SOURCE_NETWORKS:
        if current in network:
            return str(network)
    return str(current)


def request_address(request: web.BaseRequest, trusted_proxies: tuple[Network, ...]) -> str:
    """`client_address` of an aiohttp request (every ``X-Forwarded-For`` header joined)."""
    forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
    return client_address(request.remote, forwarded or None, trusted_proxies)


def web_source(address: str) -> str:
    """The source of a web message from ``address``."""
    return f"web:ip:{address}"


def tablet_source(device_id: int) -> str:
    """The source of a message from the registered tablet ``device_id``."""
    return f"tablet:device:{device_id}"


def slack_source(team: str, user: str) -> str:
    """The source of a Slack message: the user in their workspace (not the thread)."""
    return f"slack:user:{team}-{user}"


def source_of(inbound: InboundMessage) -> str:
    """The source the gateway vouches for: the channel's own, else one derived from the sender.

    Telegram senders are private chats, whose id is the user's id. Other channels set their source
    explicitly; a message of theirs without one is counted with every other unattributed message of
    that channel rather than per conversation (a new conversation id must not be a new source).
    """
    if inbound.source:
        return inbound.source
    if inbound.channel == "telegram":
        return f"telegram:user:{inbound.sender_id}"
    return f"{inbound.channel}:unattributed"

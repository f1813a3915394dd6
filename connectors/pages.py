"""Pages with inline script and style served under a hash-based CSP: the shop page, the kiosk and the console.

Each page keeps its script and style inline (one request, no build step) and allows exactly those blocks by
their SHA-256, so an injected ``<script>`` never runs. Called by ``connectors.web.channel``,
``connectors.tablet.channel`` and ``console.web`` when they load their page.
"""

from __future__ import annotations

import base64
import hashlib
import re

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def hashed_csp(html: str, *, script_src: str = "", img_src: str, connect_src: str, frame_ancestors: str) -> str:
    """A Content-Security-Policy allowing the page's own inline ``<script>`` and ``<style>`` blocks by hash.

    Args:
        html: the page, exactly as it is served (a changed byte changes the hash).
        script_src: sources allowed besides the inline scripts (e.g. ``'self'`` for the widget's script).
        img_src: the ``img-src`` sources.
        connect_src: the ``connect-src`` sources.
        frame_ancestors: who may frame the page (``'none'``, ``'self'``).

    Returns:
        The policy: nothing by default, no ``<base>``, no form posts.
    """
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for tag, body in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        hashes[tag].append(f"'sha256-{digest}'")
    scripts = " ".join([script_src, *hashes["script"]] if script_src else hashes["script"])
    return (
        "default-src 'none'; "
        f"script-src {scripts}; "
        f"style-src {' '.join(hashes['style'])}; "
        f"img-src {img_src}; connect-src {connect_src}; "
        f"base-uri 'none'; form-action 'none'; frame-ancestors {frame_ancestors}"
    )


__all__ = ["hashed_csp"]

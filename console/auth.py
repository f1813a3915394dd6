"""Console accounts and sign-in: scrypt password hashes, server-side sessions, CSRF tokens and login throttling."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from console.errors import BadInput, NotSignedIn, TooManyAttempts, UserExists
from console.models import ROLES, ConsoleLoginFailure, ConsoleSession, ConsoleUser
from console.settings import ConsoleSettings
from store.core import naive_utc_now

# scrypt cost: ~16 MiB and ~50 ms per hash on these machines; stored with the hash so it can be raised later.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024
EMAIL_RE = re.compile(r"^[^@\s]{1,100}@[^@\s]{1,100}\.[^@\s]{2,}$")
# What a role may do; each API route names the permission it needs.
PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": frozenset({"read", "annotate"}),
    # resolve_any: resolve a hand-off ticket someone else claimed (an agent resolves only their own);
    # assign_any: take or release a conversation someone else looks after (an agent: free ones and their own)
    "lead": frozenset({"read", "annotate", "correct", "export", "metrics", "resolve_any", "assign_any"}),
    "admin": frozenset({"read", "annotate", "correct", "export", "metrics", "raw_text", "resolve_any", "assign_any"}),
}


def hash_password(password: str) -> str:
    """Hash a password with scrypt and a fresh 16-byte salt.

    Returns:
        ``"scrypt$N$r$p$salt$hash"`` (base64 parts).
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password` (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _next_try(session: Session, which: Any, free: int, cap: int) -> datetime | None:
    """When the next attempt matching ``which`` may come: the latest failure plus 2^(n - free) s (capped).

    Returns:
        None while fewer than ``free`` failures match.
    """
    count, latest = session.execute(select(func.count(), func.max(ConsoleLoginFailure.at)).where(which)).one()
    if not count or count < free or latest is None:
        return None
    return latest + timedelta(seconds=min(cap, 2 ** min(count - free, 30)))


_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _now() -> datetime:
    return naive_utc_now()


def add_user(sessions: sessionmaker[Session], email: str, role: str, password: str) -> ConsoleUser:
    """Create an account.

    Args:
        sessions: gateway database sessions.
        email: sign-in name (stored lower-case).
        role: ``agent``, ``lead`` or ``admin``.
        password: at least 10 characters.

    Raises:
        BadInput: malformed email, unknown role or weak password.
        UserExists: the email already has an account.
    """
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise BadInput(f"{email!r} is not an email address", field="email")
    if role not in ROLES:
        raise BadInput(f"role must be one of {', '.join(ROLES)}", field="role")
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise BadInput(
            f"the password must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters", field="password"
        )
    with sessions() as session, session.begin():
        if session.scalar(select(ConsoleUser.id).where(ConsoleUser.email == email)) is not None:
            raise UserExists(f"{email} already has an account", field="email")
        user = ConsoleUser(
            email=email, role=role, password_hash=hash_password(password), active=True, created_at=_now()
        )
        session.add(user)
    return user


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a request."""

    user_id: int
    email: str
    role: str
    csrf_token: str

    def may(self, permission: str) -> bool:
        """Whether the role grants ``permission``."""
        return permission in PERMISSIONS.get(self.role, frozenset())


@dataclass(frozen=True)
class SignIn:
    """A new session: the cookie value (shown once, stored hashed) and the viewer."""

    token: str
    viewer: Viewer


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Auth:
    """Sign-in, sessions and the rate limit, on the gateway database."""

    def __init__(
        self, sessions: sessionmaker[Session], settings: ConsoleSettings, clock: Callable[[], datetime] = _now
    ) -> None:
        """Keep the database, the settings and a clock (naive UTC; tests move it forward)."""
        self.sessions = sessions
        self.settings = settings
        self.clock = clock

    def sign_in(self, email: str, password: str, client: str) -> SignIn:
        """Check a password and open a session, throttling guessers with growing delays (never a lockout).

        Failures are counted per (account, client address) and per client address across accounts. After
        ``login_free_failures`` failures of a pair, its next attempt must wait 1 s, then 2, 4, 8 ... up to
        ``login_max_delay_seconds``; an address trying many accounts is slowed the same way after 4x that.
        Failures from other addresses never delay an account: the correct password is refused while a delay
        runs, so any account-wide delay let anyone who knows a staff email keep that person out (a
        per-account lockout once locked any known email for 15 minutes after five wrong passwords; a 30 s
        account-wide cap still kept them out as long as the stranger kept failing). A success clears its
        own pair only, so the real user signing in does not reset a guesser's delay.

        Args:
            email: the account's email.
            password: its password.
            client: the caller's source: its address as `connectors.source.client_address` gives it (an IPv6
                /64, all of loopback as one), so a guesser cannot pick a fresh source per attempt.

        Raises:
            TooManyAttempts: this attempt came before the current delay ran out (it is not counted, and
                the password is not checked); ``retry_after`` says when to try again.
            NotSignedIn: wrong email or password (the same answer for both).
        """
        email = email.strip().lower()[:200]
        client = client[:64]
        now = self.clock()
        settings = self.settings
        # Failures are committed before the error is raised: a rolled-back failure would not count.
        with self.sessions() as session, session.begin():
            forget = now - timedelta(hours=settings.login_forget_hours)
            session.execute(delete(ConsoleLoginFailure).where(ConsoleLoginFailure.at < forget))
            # Sessions nobody came back to are purged here, so the table does not grow forever.
            idle_start = now - timedelta(minutes=settings.session_idle_minutes)
            session.execute(
                delete(ConsoleSession).where(
                    (ConsoleSession.expires_at <= now) | (ConsoleSession.last_seen <= idle_start)
                )
            )
            F = ConsoleLoginFailure
            free, cap = settings.login_free_failures, settings.login_max_delay_seconds
            next_tries = [
                _next_try(session, (F.email == email) & (F.client == client), free, cap),
                _next_try(session, F.client == client, free * 4, cap),
            ]
            wait = max([(at - now).total_seconds() for at in next_tries if at is not None], default=0.0)
            signed_in: SignIn | None = None
            if wait <= 0:
                user = session.scalar(select(ConsoleUser).where(ConsoleUser.email == email))
                # Hash even for unknown emails so the answer time does not tell which accounts exist.
                ok = verify_password(password, user.password_hash if user else _DUMMY_HASH)
                if user is None or not ok or not user.active:
                    session.add(ConsoleLoginFailure(email=email, client=client, at=now))
                else:
                    session.execute(delete(F).where((F.email == email) & (F.client == client)))
                    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
                    session.add(
                        ConsoleSession(
                            token_hash=_token_hash(token),
                            user_id=user.id,
                            csrf_token=csrf,
                            created_at=now,
                            last_seen=now,
                            expires_at=now + timedelta(hours=settings.session_max_hours),
                        )
                    )
                    signed_in = SignIn(token, Viewer(user.id, user.email, user.role, csrf))
        if wait > 0:
            seconds = math.ceil(wait)
            raise TooManyAttempts(
                f"too many failed sign-ins; try again in {seconds} second{'s' if seconds != 1 else ''}",
                retry_after=seconds,
            )
        if signed_in is None:
            raise NotSignedIn("wrong email or password")
        return signed_in

    def viewer(self, token: str | None) -> Viewer:
        """The viewer of a session cookie; extends the idle timeout.

        Raises:
            NotSignedIn: no cookie, an unknown one, or an expired session (which is deleted).
        """
        if not token or len(token) > 200:
            raise NotSignedIn("sign in first")
        now = self.clock()
        with self.sessions() as session, session.begin():
            row = session.get(ConsoleSession, _token_hash(token))
            if row is None:
                raise NotSignedIn("sign in first")
            idle_deadline = row.last_seen + timedelta(minutes=self.settings.session_idle_minutes)
            user = session.get(ConsoleUser, row.user_id)
            expired = now >= row.expires_at or now >= idle_deadline or user is None or not user.active
            if expired or user is None:
                session.delete(row)  # committed on leaving the block, then refused below
            else:
                row.last_seen = now
                viewer = Viewer(user.id, user.email, user.role, row.csrf_token)
        if expired:
            raise NotSignedIn("your session has expired; sign in again")
        return viewer

    def sign_out(self, token: str) -> None:
        """End a session (no error if it is already gone)."""
        with self.sessions() as session, session.begin():
            session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _token_hash(token)))

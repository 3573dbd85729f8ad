"""ORM models of organisations (tenants), sites, users, sessions, API tokens and e-signatures."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vein2vein.auth.lockout import is_paused
from vein2vein.core.clock import utcnow
from vein2vein.store.base import Base, UTCDateTime


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # CDMO | SPONSOR
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    sites: Mapped[list[Site]] = relationship(back_populates="organisation", order_by="Site.name")

    def public(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "kind": self.kind}


class Site(Base):
    """A place where the organisation works: a manufacturing site, a treatment site."""

    __tablename__ = "site"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(120), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    purpose: Mapped[str] = mapped_column(String(32), default="MANUFACTURING")

    organisation: Mapped[Organisation] = relationship(back_populates="sites")

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "organisation_id": self.organisation_id,
            "name": self.name,
            "city": self.city,
            "country": self.country,
            "purpose": self.purpose,
        }


class User(Base):
    __tablename__ = "app_user"
    #: names are unique whatever their case ("Admin" is taken when "admin" exists): the database
    #: says so too, so that two administrators creating "Alice" and "alice" at once get one user
    __table_args__ = (Index("uq_app_user_username_lower", func.lower("username"), unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200), default="")
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: consecutive wrong passwords since the password was last used successfully
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    #: when the latest password pause began, and when it ends (``auth/lockout.py``)
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: set when an administrator chose the password (new user, reset): the user must replace it
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)

    organisation: Mapped[Organisation] = relationship()

    @property
    def enabled(self) -> bool:
        """Not disabled: sessions and API tokens of the user work (even while the password is
        paused: those are other credentials)."""
        return self.disabled_at is None

    @property
    def password_locked(self) -> bool:
        """The password is paused after repeated wrong guesses (``auth/lockout.py``)."""
        return is_paused(self.locked_until, utcnow())

    @property
    def status(self) -> str:
        if self.disabled_at is not None:
            return "disabled"
        if self.password_locked:
            return "locked"
        return "active"

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "full_name": self.full_name,
            "organisation_id": self.organisation_id,
            "organisation": self.organisation.name if self.organisation else None,
            "role": self.role,
            "status": self.status,
        }


class PasswordHistory(Base):
    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebSession(Base):
    """A signed-in browser session; only the SHA-256 of its cookie value is stored."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))

    user: Mapped[User] = relationship()


class ApiToken(Base):
    """A per-user token for scripts: only its SHA-256 is stored; the prefix tells tokens apart."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked": self.revoked_at is not None,
        }


class Signature(Base):
    """An electronic signature (21 CFR 11.50, 11.70): printed name, time, meaning, content hash."""

    __tablename__ = "signature"
    __table_args__ = (UniqueConstraint("record_type", "record_id", "meaning", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    record_type: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    printed_name: Mapped[str] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(String(64))
    meaning: Mapped[str] = mapped_column(String(16))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    content_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    locks_record: Mapped[bool] = mapped_column(Boolean, default=True)
    #: SHA-256 over the content's hash and the signer's identity, meaning and time: what the
    #: signature is (``signatures.signature_hash``); ``v2v audit verify`` checks it
    hash: Mapped[str] = mapped_column(String(64))

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "record_type": self.record_type,
            "record_id": self.record_id,
            "printed_name": self.printed_name,
            "username": self.username,
            "meaning": self.meaning,
            "signed_at": self.signed_at.isoformat(),
            "content_hash": self.content_hash,
            "reason": self.reason,
            "hash": self.hash,
        }

"""Pydantic schemas at the API edge of the CTD tables (``ctd_api.py``)."""

from __future__ import annotations

from pydantic import BaseModel


class CtdSectionPublic(BaseModel):
    code: str
    title: str
    available: bool
    unavailable: str

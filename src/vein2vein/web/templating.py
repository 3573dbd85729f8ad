"""Jinja2 environment over the layout and the ``templates/`` folders the app is given."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from vein2vein import __version__
from vein2vein.web import display

LAYOUT = Path(__file__).resolve().parent / "templates"


def make_templates(folders: Sequence[Path] = (), display_zone: str = "UTC") -> Jinja2Templates:
    """The layout's templates first, then each feature's folder in the order given; times shown
    in ``display_zone`` (``web.display``)."""
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(p)) for p in (LAYOUT, *folders) if p.is_dir()]),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["version"] = __version__
    display.register(env, display_zone)
    return Jinja2Templates(env=env)


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    auth = getattr(request.state, "auth", None)
    ctx = {
        "auth": auth,
        "scope": auth.scope if auth else None,
        "csrf_token": auth.csrf_token if auth else None,
        "nav": request.app.state.nav.for_scope(auth.scope if auth else None),
        "path": request.url.path,
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)

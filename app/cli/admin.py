"""`curator migrate` and `curator createuser`: an installation's first steps."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError

from app.auth.models import Role
from app.cli_common import console, err_console, load_settings_or_exit, migrate_database
from app.validation import Password, Username


def migrate() -> None:
    """Apply the database migrations (also done by `serve`)."""
    migrate_database(load_settings_or_exit())
    console.print("Database is up to date.")


def createuser(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="8+ chars.")
    ],
    role: Annotated[Role, typer.Option(help="admin, manager or labeler.")] = Role.labeler,
) -> None:
    """Create a user non-interactively; works before the server has ever run."""
    from app.auth import service
    from app.db import make_engine, make_sessionmaker
    from app.errors import DomainError

    try:
        name = TypeAdapter(Username).validate_python(username)
        secret = TypeAdapter(Password).validate_python(password)
    except ValidationError as exc:
        err_console.print(f"[bold red]Invalid input:[/] {exc.errors()[0]['msg']}")
        raise typer.Exit(1) from None
    settings = load_settings_or_exit()
    migrate_database(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session, session.begin():
            user = service.create_user(session, name, secret, role)
    except DomainError as exc:
        err_console.print(f"[bold red]Error:[/] {exc.detail}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    console.print(f"Created {user.role} [bold]{user.username}[/].")

"""`smartcourse users` and `smartcourse keys`: the operator's side of identity."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from smartcourse.settings import Settings

users = typer.Typer(help="Accounts the operator manages (the first admin).",
                    no_args_is_help=True)
keys = typer.Typer(help="Token signing keys: list, rotate, retire.", no_args_is_help=True)


def _fail(reason: str) -> typer.Exit:
    typer.echo(f"error: {reason}", err=True)
    return typer.Exit(1)


@users.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="The admin's email (their login).")],
    display_name: Annotated[str, typer.Option(help="Name shown to others.")] = "Administrator",
    password_stdin: Annotated[bool, typer.Option(
        help="Read the password from standard input (scripts) instead of a prompt.")] = False,
) -> None:
    """Create an admin account (the first one; admins then grant roles through the API)."""
    from commands.domain.errors import SmartCourseError
    from identity.operators import create_account

    password = (sys.stdin.readline().rstrip("\n") if password_stdin
                else typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    try:
        created = asyncio.run(create_account(Settings(), email, password, display_name))
    except SmartCourseError as error:
        raise _fail(f"{error.code}: {error.message}") from None
    typer.echo(f"admin {created.user_id} created (position {created.position})")


def _folder(folder: Path | None) -> Path:
    settings = Settings()
    chosen = folder or settings.jwt_keys_dir
    if chosen is None:
        if not settings.is_dev:
            raise _fail("give --folder or set SMARTCOURSE_JWT_KEYS_DIR")
        chosen = settings.data_dir / "identity" / "keys"
    return chosen


FolderOption = Annotated[Path | None, typer.Option(
    help="The key folder (default: SMARTCOURSE_JWT_KEYS_DIR, in dev the data folder's).")]


@keys.command("list")
def list_keys(folder: FolderOption = None) -> None:
    """Every key's kid; the newest signs, all verify."""
    from identity.adapters.keys import SUFFIX

    for path in sorted(_folder(folder).glob(f"*{SUFFIX}")):
        typer.echo(path.name.removesuffix(SUFFIX))


@keys.command("rotate")
def rotate(folder: FolderOption = None) -> None:
    """Add a new signing key; running servers sign with it within a second. Nobody is
    logged out: tokens of the older keys verify until they expire."""
    from identity.operators import rotate_key

    typer.echo(rotate_key(_folder(folder)))


@keys.command("retire")
def retire(folder: FolderOption = None, after: Annotated[float | None, typer.Option(
        help="Seconds since a key was superseded (default: the access token lifetime).")]
        = None) -> None:
    """Delete superseded keys no valid access token can still need."""
    from identity.operators import retire_keys

    wait = after if after is not None else Settings().access_token_ttl_seconds
    for kid in retire_keys(_folder(folder), wait):
        typer.echo(f"retired {kid}")

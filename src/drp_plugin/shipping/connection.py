"""Where DRP is and who asks: the connection options of the ``drp-plugin`` command.

Read once, here, for every command that talks to a DRP endpoint (``upload``,
``providers``, ``plugins``, ``system``/``machines runaction``), as drpcli reads
them:

- ``-E/--endpoint`` or ``RS_ENDPOINT`` (default ``https://127.0.0.1:8092``);
- ``-T/--token`` or ``RS_TOKEN``: a bearer token;
- else ``-U/--username`` and ``-P/--password``, ``RS_USERNAME`` / ``RS_PASSWORD``,
  or ``RS_KEY=user:password``; else drpcli's default user ``rocketskates``;
- ``--ca-file`` or ``RS_CA_FILE``: verify DRP's certificate with that CA bundle;
  ``--verify``: with the system's CAs; neither: not verified (DRP's are self-signed).

Options beat the environment, and explicit ``-U``/``-P`` beat ``RS_TOKEN``.  A
malformed ``RS_KEY`` or endpoint is refused with a
:class:`~drp_plugin.errors.ToolError` naming it.
"""

from __future__ import annotations

import base64
import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import ToolError

if TYPE_CHECKING:
    from drp_plugin.api import Client

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_ENDPOINT = "https://127.0.0.1:8092"
DEFAULT_USERNAME = "rocketskates"
DEFAULT_PASSWORD = "r0cketsk8ts"  # noqa: S105 - drpcli's documented default, not a secret


@dataclass(frozen=True)
class Connection:
    """Where the DRP API is and how to authenticate."""

    endpoint: str
    token: str | None = None
    username: str | None = None
    password: str | None = None
    verify: bool | str = False  # a str: the CA bundle to verify with

    @classmethod
    def resolve(
        cls,
        endpoint: str | None = None,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify: bool = False,
        ca_file: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Connection:
        """Options first, then the ``RS_*`` variables of ``env`` (default: the
        process environment), then drpcli's defaults.  ``ca_file`` (else
        ``RS_CA_FILE``) wins over ``verify``."""
        env = os.environ if env is None else env
        endpoint = (endpoint or env.get("RS_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        if not endpoint.startswith(("http://", "https://")):
            raise ToolError(f"the endpoint {endpoint!r} must start with https:// or http://")
        ca_file = ca_file or env.get("RS_CA_FILE", "").strip() or None
        checked: bool | str = ca_file or verify
        if token:
            return cls(endpoint, token=token, verify=checked)
        if username or password:
            user, pw = _credentials(env)
            return cls(endpoint, username=username or user, password=password or pw,
                       verify=checked)
        if env.get("RS_TOKEN"):
            return cls(endpoint, token=env["RS_TOKEN"], verify=checked)
        user, pw = _credentials(env)
        return cls(endpoint, username=user, password=pw, verify=checked)

    @property
    def who(self) -> str:
        """Who is asking, for error messages: ``a token`` or ``user <name>`` (never a secret)."""
        return "a token" if self.token else f"user {self.username}"

    def auth_headers(self) -> dict[str, str]:
        """The ``Authorization`` header: ``Bearer`` with a token, else ``Basic`` user:password."""
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        pair = f"{self.username or ''}:{self.password or ''}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    def client(self, **options: Any) -> Client:
        """A :class:`drp_plugin.api.Client` for this endpoint and these credentials;
        ``options`` are more of its keyword arguments (``timeout``, ``retry``, ...).
        An unreadable CA file is a :class:`~drp_plugin.errors.ToolError`."""
        from drp_plugin.api import Client

        credentials: dict[str, Any] = (
            {"token": self.token} if self.token
            else {"username": self.username, "password": self.password or ""})
        try:
            return Client(self.endpoint, verify=self.verify, **credentials, **options)
        except ValueError as exc:  # an unreadable CA file (--ca-file, RS_CA_FILE)
            raise ToolError(str(exc)) from None


def _credentials(env: Mapping[str, str]) -> tuple[str, str]:
    user, password = DEFAULT_USERNAME, DEFAULT_PASSWORD
    key = env.get("RS_KEY", "")
    if key:
        k_user, sep, k_password = key.partition(":")
        if not sep or not k_user or not k_password:
            raise ToolError("RS_KEY must be username:password")
        user, password = k_user, k_password
    return env.get("RS_USERNAME") or user, env.get("RS_PASSWORD") or password


def connection_options(fn: F) -> F:
    """drpcli's ``-E/-T/-U/-P`` and ``--verify/--ca-file`` for a click command: the
    command gets one ``connection`` argument, a :class:`Connection` (a malformed
    option or variable fails the command with a message naming it)."""

    @click.option("-E", "--endpoint", help="DRP API URL [env RS_ENDPOINT; "
                                           f"{DEFAULT_ENDPOINT}].")
    @click.option("-T", "--token", help="Bearer token [env RS_TOKEN].")
    @click.option("-U", "--username", help="User [env RS_USERNAME or RS_KEY=user:pass].")
    @click.option("-P", "--password", help="Password [env RS_PASSWORD or RS_KEY].")
    @click.option("--verify/--no-verify", default=False, show_default=True,
                  help="Verify the server's TLS certificate (DRP's are self-signed).")
    @click.option("--ca-file", type=click.Path(dir_okay=False),
                  help="Verify the server's certificate with this CA bundle (PEM) "
                       "[env RS_CA_FILE].")
    @functools.wraps(fn)
    def wrapper(*args: Any, endpoint: str | None, token: str | None, username: str | None,
                password: str | None, verify: bool, ca_file: str | None, **kwargs: Any) -> Any:
        try:
            connection = Connection.resolve(endpoint, token, username, password, verify,
                                            ca_file)
        except ToolError as exc:
            raise click.ClickException(str(exc)) from None
        return fn(*args, connection=connection, **kwargs)

    return wrapper  # type: ignore[return-value]

"""Every exception drp-plugin raises, and the one way to build a ``models.Error`` body.

The exception tree (like httpx's ``_exceptions.py``): catch :class:`DRPPluginError`
for anything drp-plugin raised on purpose.  Where a class used to derive from a
builtin (``ValueError``, ``RuntimeError``, ``ConnectionError``), it still does, so
``except ValueError`` written for an older version keeps working::

    DRPPluginError                      root of everything below
    ├── PluginError                     a DRP ``models.Error``: raise it to answer DRP
    │   └── APIError                    (drp_plugin.api) an error answer of the DRP API
    │       └── APIConnectionError      (+ ConnectionError) the API could not be reached
    ├── InvalidInputError (+ ValueError) a file or folder of the provider is unusable
    │   ├── ContentError                a content directory that cannot be bundled
    │   └── AssetError                  an asset that cannot be read or escapes its folder
    ├── ProtocolError                   the peer on a plugin socket broke the protocol
    │   └── ClientError                 DRP's from-plugin socket answered something not HTTP
    ├── StreamClosed                    an event subscription has ended (not a failure)
    └── ToolError                       the ``drp-plugin`` command (build, upload, new)
        ├── BuildError (+ RuntimeError) the build cannot go on
        ├── DependencyError (+ RuntimeError) a dependency that cannot be bundled
        ├── ProjectError (+ ValueError) a ``pyproject.toml`` that cannot be read
        ├── ScaffoldError (+ ValueError) ``drp-plugin new`` cannot create the project
        └── UploadError (+ RuntimeError) a failed call to DRP's ``plugin_providers`` API

The classes are defined here (except :class:`~drp_plugin.api.APIError` and its
subclass, which need the API client's request type) and imported from here only.

Bodies: :func:`error_body` is the only place a ``models.Error`` JSON object is
built; :func:`plugin_error` makes the plugin-tagged error (``Model: plugin``,
``Key: <name>``, ``Type: plugin``) the Go ``plugin`` package answers with, and
:func:`panic_body` is the one ``Panic recovered`` answer for a handler that raised
something else than :class:`PluginError`.

Go's error shapes, by name (classmethods of :class:`PluginError`; each gives the very
``Model``/``Key``/``Type`` the Go code writes):

- ``utils.MakeError(code, msg)``: ``PluginError.rpc(code, msg, key=ctx.plugin)``
- ``utils.ConvertError(code, err)``: ``PluginError.convert(code, err, key=ctx.plugin)``
- a refused ``Config``, ``&models.Error{Type: "plugin", Model: "plugins", Key: name}``:
  ``PluginError.config(name, msg, code=400)``
- the Go ``plugin`` package's ``Model: plugin``, ``Type: plugin``:
  ``PluginError.plugin(name, msg, code=400)``
- ``models.NewError(t, code, msg)``: ``PluginError.new(t, code, msg)``

This module is imported by ``define``: it imports nothing but :mod:`json`.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing is not imported: define must stay fast
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "AssetError",
    "BuildError",
    "ClientError",
    "ContentError",
    "DRPPluginError",
    "DependencyError",
    "InvalidInputError",
    "PluginError",
    "ProjectError",
    "ProtocolError",
    "ScaffoldError",
    "StreamClosed",
    "ToolError",
    "UploadError",
    "error_body",
    "panic_body",
    "panic_message",
    "plugin_error",
]


def error_body(code: int, *messages: str | None, model: str = "", key: str = "",
               type: str = "") -> dict[str, Any]:
    """A ``models.Error`` JSON object, with the Go field names and order.

    ``Messages`` is ``null`` when there is no message (Go's ``nil`` slice); a
    ``None`` message is left out, so ``error_body(404, None, ...)`` has none.
    ``Code`` is written as given (use :attr:`PluginError.status` for a code that
    must be a valid HTTP status).
    """
    texts = [str(m) for m in messages if m is not None]
    return {
        "Model": model,
        "Key": key,
        "Type": type,
        "Messages": texts or None,
        "Code": code,
    }


class DRPPluginError(Exception):
    """The root of every exception drp-plugin raises on purpose."""


class PluginError(DRPPluginError):
    """A DRP ``models.Error``: raise it from a handler to answer with its ``code``.

    The JSON form has the exact Go field names: ``Model``, ``Key``, ``Type``,
    ``Messages`` and ``Code``.  A code outside 100..599 is answered as 500.
    """

    def __init__(
        self,
        *messages: str,
        code: int = 400,
        model: str = "",
        key: str = "",
        type: str = "",
    ) -> None:
        self.messages: list[str] = [str(m) for m in messages]
        self.code = code
        self.model = model
        self.key = key
        self.type = type
        super().__init__(self.__str__())

    @property
    def status(self) -> int:
        """The HTTP status this error is answered with (never 0 or invalid)."""
        return self.code if isinstance(self.code, int) and 100 <= self.code <= 599 else 500

    def to_dict(self) -> dict[str, Any]:
        """The ``models.Error`` JSON object (``Messages`` is ``null`` when empty)."""
        return error_body(self.status, *self.messages, model=self.model, key=self.key,
                          type=self.type)

    def to_json(self) -> str:
        """:meth:`to_dict` as compact JSON (how Go nests an error in ``Messages``)."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def add_error(self, err: BaseException | None) -> PluginError:
        """Go's ``models.Error.AddError``: append the messages of ``err`` and return self.

        A :class:`PluginError` (an API error included) gives its ``Messages``, DRP's
        own words, not its ``str()`` (which carries the ``Type: Model/Key:`` head, e.g.
        ``DELETE: machines/<uuid>:``); any other exception gives its text.
        """
        if err is None:
            return self
        if isinstance(err, PluginError):
            self.messages.extend(err.messages)
        else:
            self.messages.append(str(err) or type(err).__name__)
        self.args = (self.__str__(),)
        return self

    @classmethod
    def from_dict(cls, data: Any, status: int = 0) -> PluginError:
        """Build from a decoded ``models.Error`` body; ``status`` fills a missing code."""
        if not isinstance(data, dict):
            return cls(str(data), code=status or 500)
        messages = data.get("Messages") or []
        if not isinstance(messages, list):
            messages = [str(messages)]
        code = data.get("Code")
        if not isinstance(code, int) or isinstance(code, bool) or code == 0:
            code = status or 500
        return cls(
            *[str(m) for m in messages],
            code=code,
            model=str(data.get("Model") or ""),
            key=str(data.get("Key") or ""),
            type=str(data.get("Type") or ""),
        )

    # -- Go's error shapes, by name ------------------------------------------------------
    @classmethod
    def rpc(cls, code: int, message: str, *, key: str = "unknown") -> PluginError:
        """Go's ``utils.MakeError(code, msg)`` (provision-plugins ``utils/error_helpers.go``),
        the error most Go providers answer a failed action with::

            {"Model": "plugin", "Key": <key>, "Type": "rpc", "Messages": [message], "Code": code}

        ``key`` is the Plugin's name: Go sets it with ``utils.SetErrorName(config["Name"])``
        in ``Config`` (``"unknown"`` until then); in a handler pass ``key=ctx.plugin``.
        Go builds the message with ``fmt.Sprintf``: use an f-string::

            raise PluginError.rpc(409, f"Command failed {action.command}: {err}",
                                  key=ctx.plugin)
        """
        return cls(message, code=code, model="plugin", key=key or "unknown", type="rpc")

    @classmethod
    def convert(cls, code: int, err: BaseException, *, key: str = "unknown") -> PluginError:
        """Go's ``utils.ConvertError(code, err)``: a :class:`PluginError` (an API error
        included) is given ``code`` and returned as it is, the same object with its own
        ``Model``/``Key``/``Type`` and messages; any other exception becomes
        :meth:`rpc` with the message ``Err: <err>``::

            try:
                machine = ctx.api.get("machines", uuid)
            except Exception as exc:
                raise PluginError.convert(400, exc, key=ctx.plugin) from exc

        (Go returns ``nil`` for a ``nil`` error; in Python there is no error to convert
        outside an ``except`` block.)
        """
        if isinstance(err, PluginError):
            err.code = code
            return err
        return cls.rpc(code, f"Err: {err}", key=key)

    @classmethod
    def config(cls, key: str, *messages: str, code: int = 400) -> PluginError:
        """The error Go providers refuse a ``Config`` with (provision-plugins ``tower``,
        ``callback``, ``endpoint-exec``: ``&models.Error{Type: "plugin", Model:
        "plugins", Key: name}`` then ``Errorf`` per problem)::

            {"Model": "plugins", "Key": <key>, "Type": "plugin", "Messages": [...], "Code": code}

        ``key`` is the Plugin's name (``params["Name"]`` in the config handler).  Raised
        from a config handler, it is answered as Go's ``configHandler`` does: status
        ``code``, with this error's JSON as the one message of an outer error.  Collect
        the problems first, then raise once::

            err = PluginError.config(params["Name"])
            if "tower/login" not in params:
                err.messages.append(f"Plugin {params['Name']} is missing tower/login")
            if err.messages:
                raise err
        """
        return cls(*messages, code=code, model="plugins", key=key, type="plugin")

    @classmethod
    def plugin(cls, key: str, *messages: str, code: int = 400) -> PluginError:
        """The error of the Go ``plugin`` package (``plugin/plugin.go``): ``Model: plugin``,
        ``Key: <key>``, ``Type: plugin``.  The same as :func:`plugin_error` and
        ``provider.error(...)`` (which gives the provider's name as ``key``)."""
        return cls(*messages, code=code, model="plugin", key=key, type="plugin")

    @classmethod
    def new(cls, type: str, code: int, message: str) -> PluginError:
        """Go's ``models.NewError(t, code, msg)`` (``models/errors.go``): ``Type: t``, one
        message, no ``Model`` or ``Key`` (the Go ``plugin`` package answers a failed
        event stream with ``models.NewError("plugins", 500, ...)``)."""
        return cls(message, code=code, type=type)

    def __str__(self) -> str:
        # Go's models.Error.Error() (models/errors.go): "<Type>: <Model>/<Key>" (path.Join,
        # so an empty Model leaves the Key alone), then ": <msg>" for one message or
        # "\n  <msg>" per message for several.  One departure: without a Type, Go starts
        # with ": "; we leave that empty part out.
        where = "/".join(part for part in (self.model, self.key) if part)
        head = ": ".join(part for part in (self.type, where) if part)
        if not self.messages:
            return head or f"error {self.code}"
        if len(self.messages) == 1:
            return f"{head}: {self.messages[0]}" if head else self.messages[0]
        return head + "".join("\n  " + m for m in self.messages)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, model={self.model!r}, "
            f"key={self.key!r}, type={self.type!r}, messages={self.messages!r})"
        )


def plugin_error(name: str, *messages: str, code: int = 400, model: str = "plugin",
                 type: str = "plugin") -> PluginError:
    """The error the Go ``plugin`` package answers with: ``Model: plugin``,
    ``Key: <name>`` (the provider or Plugin name), ``Type: plugin``.

    ``model`` and ``type`` can be changed for the Go providers that use others
    (``plugins`` for a refused config, ``rpc`` for a failed call).
    """
    return PluginError(*messages, code=code, model=model, key=name, type=type)


def panic_message(exc: BaseException) -> str:
    """``Panic recovered: <Type>: <message>`` (or ``Panic recovered: <Type>``).

    The Go ``mux`` answers ``Panic recovered: <value>`` followed by the Go stack;
    the stack of a Python handler goes to the provider's log instead.
    """
    name = type(exc).__name__
    text = str(exc)
    return f"Panic recovered: {name}: {text}" if text else f"Panic recovered: {name}"


def panic_body(exc: BaseException, method: str, path: str) -> dict[str, Any]:
    """The 500 ``models.Error`` for a handler that raised something else than
    :class:`PluginError` (``Type`` = HTTP method, ``Key`` = path, as Go's ``mux``)."""
    return error_body(500, panic_message(exc), type=method, key=path)


class InvalidInputError(DRPPluginError, ValueError):
    """A file or folder of the provider cannot be used (the message says which)."""


class ContentError(InvalidInputError):
    """A content directory that cannot be bundled (the message says which file)."""


class AssetError(InvalidInputError):
    """An asset that would escape the unpack directory, or that cannot be read."""


class ProtocolError(DRPPluginError):
    """The peer on one of the plugin's sockets did not follow the protocol."""


class ClientError(ProtocolError):
    """The peer answered something that is not HTTP."""


class StreamClosed(DRPPluginError):
    """Raised by ``Subscription.get()`` once the subscription has ended."""


class ToolError(DRPPluginError):
    """A failure of the ``drp-plugin`` command; its message is fit for the command line."""


class BuildError(ToolError, RuntimeError):
    """The build cannot go on; the message says why and what to do."""


class DependencyError(ToolError, RuntimeError):
    """A dependency that cannot be bundled (not installed, compiled-only, clashing)."""


class ProjectError(ToolError, ValueError):
    """A ``pyproject.toml`` that cannot be read."""


class ScaffoldError(ToolError, ValueError):
    """The project cannot be created (bad name, folder not empty)."""


class UploadError(ToolError, RuntimeError):
    """A failed API call, with a message fit for the command line."""

"""The error type of the protocol: a ``models.Error`` that can be raised."""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing is not imported: define must stay fast
if TYPE_CHECKING:
    from typing import Any


class PluginError(Exception):
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
        return {
            "Model": self.model,
            "Key": self.key,
            "Type": self.type,
            "Messages": list(self.messages) if self.messages else None,
            "Code": self.status,
        }

    def to_json(self) -> str:
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

    def __str__(self) -> str:
        # Same shape as the Go models.Error.Error(): "<Type>: <Model>/<Key>: <msg>"
        head = ""
        if self.type:
            head += f"{self.type}: "
        if self.model or self.key:
            head += f"{self.model}/{self.key}: "
        if not self.messages:
            return head.rstrip(": ") or f"error {self.code}"
        if len(self.messages) == 1:
            return head + self.messages[0]
        return head + "\n" + "\n".join("    " + m for m in self.messages)

    def __repr__(self) -> str:
        return (
            f"PluginError(code={self.code!r}, model={self.model!r}, key={self.key!r}, "
            f"type={self.type!r}, messages={self.messages!r})"
        )

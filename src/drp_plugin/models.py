"""The JSON models exchanged with dr-provision (docs/protocol.md section 5).

They are thin, attribute-style views over the decoded JSON: the raw dict is always
kept (``.raw``), so nothing the server sends is lost.  No dataclasses here: this
module is on the ``define`` path, which must stay fast.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported: define must stay fast
if TYPE_CHECKING:
    from typing import Any

#: ``PluginVersion`` every v4 provider declares.
PLUGIN_VERSION = 4

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "panic", "audit")


def _mapping(data: Any, what: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TypeError(f"{what} must be a JSON object, not {type(data).__name__}")
    return data


def _opt_str(data: dict[str, Any], field: str, what: str) -> str:
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{what}.{field} must be a string, not {type(value).__name__}")
    return value


class Action:
    """A ``models.Action``: what DRP sends to ``/api-plugin/v4/action``."""

    __slots__ = ("raw", "model", "plugin", "command", "command_set", "params", "job", "received")

    def __init__(self, data: Any) -> None:
        data = _mapping(data, "Action")
        self.raw: dict[str, Any] = data
        self.command: str = _opt_str(data, "Command", "Action")
        self.plugin: str = _opt_str(data, "Plugin", "Action")
        self.command_set: str = _opt_str(data, "CommandSet", "Action")
        model = data.get("Model")
        self.model: Any = model
        params = data.get("Params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise TypeError(f"Action.Params must be a JSON object, not {type(params).__name__}")
        self.params: dict[str, Any] = params
        self.job: Any = data.get("Job")
        #: Arrival number given by the runtime (increasing in the order actions arrive).
        self.received = 0

    @property
    def uuid(self) -> str | None:
        """The target object's ``Uuid`` (machines), or ``None``."""
        if isinstance(self.model, dict):
            value = self.model.get("Uuid")
            return value if isinstance(value, str) else None
        return None

    def __repr__(self) -> str:
        return f"Action(command={self.command!r}, plugin={self.plugin!r})"


class Event:
    """A ``models.Event`` from DRP's event stream or ``/publish``."""

    __slots__ = ("raw", "time", "type", "action", "key", "principal", "object", "original")

    def __init__(self, data: Any) -> None:
        data = _mapping(data, "Event")
        self.raw: dict[str, Any] = data
        self.time: str = _opt_str(data, "Time", "Event")
        self.type: str = _opt_str(data, "Type", "Event")
        self.action: str = _opt_str(data, "Action", "Event")
        self.key: str = _opt_str(data, "Key", "Event")
        self.principal: str = _opt_str(data, "Principal", "Event")
        self.object: Any = data.get("Object")
        self.original: Any = data.get("Original")

    @property
    def topic(self) -> str:
        """``type.action.key``, the form event selections match against."""
        return f"{self.type}.{self.action}.{self.key}"

    def __repr__(self) -> str:
        return f"Event({self.topic!r})"


def now_rfc3339() -> str:
    """UTC time in RFC 3339 with nanoseconds, like Go's ``time.Time`` JSON."""
    import time

    secs, frac = divmod(time.time_ns(), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def make_event(type: str, action: str, key: str, obj: Any = None) -> dict[str, Any]:
    """The JSON of a ``models.Event`` as the Go ``Publish`` sends it."""
    return {"Time": now_rfc3339(), "Type": type, "Action": action, "Key": key, "Object": obj}


def available_action(
    command: str,
    model: str = "",
    required: list[str] | None = None,
    optional: list[str] | None = None,
) -> dict[str, Any]:
    """One ``AvailableAction`` in Go field order (empty lists become ``null``)."""
    return {
        "Provider": "",
        "Model": model,
        "Command": command,
        "RequiredParams": list(required) if required else None,
        "OptionalParams": list(optional) if optional else None,
    }

"""Secure param values as the stand-in shows them.

DRP stores the value of a ``Secure`` param as a ``models.SecureData`` envelope
(``Key`` 32 bytes, ``Nonce`` 24 bytes, ``Payload``; base64 in JSON) and reveals the
value only with ``decode=true``.  The stand-in keeps values in clear in memory and
renders them as envelopes of the same shape, sealed with AES-GCM under a key of
this process, so an envelope read from the stand-in and written back (GET then
PUT) still decodes.  Envelopes sealed by a real DRP (NaCl box) cannot be opened.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FIELDS = {"Key", "Nonce", "Payload"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def is_envelope(value: Any) -> bool:
    """True when ``value`` has the shape of a ``models.SecureData``."""
    if not isinstance(value, dict) or set(value) != _FIELDS:
        return False
    key, nonce, payload = (_unb64(value[f]) for f in ("Key", "Nonce", "Payload"))
    return (
        key is not None
        and nonce is not None
        and payload is not None
        and len(key) == 32
        and len(nonce) == 24
        and len(payload) >= 16
    )


class SecureBox:
    """Seals values into SecureData-shaped envelopes and opens its own envelopes."""

    def __init__(self) -> None:
        self._key = AESGCM.generate_key(bit_length=256)
        self._aead = AESGCM(self._key)

    def seal(self, value: Any) -> dict[str, str]:
        """The envelope of ``value`` (deterministic: same value, same envelope)."""
        data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        digest = hmac.new(self._key, data, hashlib.sha512).digest()
        peer, nonce = digest[:32], digest[32:56]
        payload = self._aead.encrypt(nonce[:12], data, peer)
        return {"Key": _b64(peer), "Nonce": _b64(nonce), "Payload": _b64(payload)}

    def open(self, envelope: Any) -> Any:
        """The value inside an envelope made by :meth:`seal`; ``ValueError`` otherwise."""
        if not is_envelope(envelope):
            raise ValueError("not a SecureData envelope")
        peer, nonce, payload = (_unb64(envelope[f]) for f in ("Key", "Nonce", "Payload"))
        assert peer is not None and nonce is not None and payload is not None
        try:
            data = self._aead.decrypt(nonce[:12], payload, peer)
        except InvalidTag:
            raise ValueError("SecureData was not sealed by this stand-in") from None
        return json.loads(data)

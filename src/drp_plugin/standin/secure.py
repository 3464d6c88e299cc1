"""Secure param values as the stand-in keeps and shows them: NaCl box, as DRP does.

DRP stores the value of a ``Secure`` param as a ``models.SecureData`` envelope
(``Key`` 32 bytes: the sender's public key, ``Nonce`` 24 bytes, ``Payload``: the
NaCl box of the JSON value; base64 in JSON) and reveals the value only with
``decode=true``.  Clients seal a value for an object with the public key read from
``GET /<prefix>/<key>/pubkey`` (``models/secureData.go`` ``SecureData.Marshal``/
``Seal``; drppy-client ``custom_overrides.SecureData.seal``).

The stand-in keeps values in clear in memory, with one X25519 key pair for every
object (DRP's per-object keys are not modelled: any envelope sealed to the served
public key opens).  It renders values as envelopes sealed to its own public key with
a key pair and nonce derived from the value (same value, same envelope), so an
envelope read from the stand-in and written back (GET then PUT) still opens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import Box, PrivateKey, PublicKey

_FIELDS = {"Key", "Nonce", "Payload"}
_OVERHEAD = Box.MACBYTES if hasattr(Box, "MACBYTES") else 16


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
    """True when ``value`` passes ``SecureData.Validate`` (models/secureData.go)."""
    if not isinstance(value, dict) or set(value) != _FIELDS:
        return False
    key, nonce, payload = (_unb64(value[f]) for f in ("Key", "Nonce", "Payload"))
    return (
        key is not None
        and nonce is not None
        and payload is not None
        and len(key) == 32
        and len(nonce) == 24
        and len(payload) >= _OVERHEAD
    )


class SecureBox:
    """The stand-in's key pair: seals values for display and opens sealed writes."""

    def __init__(self) -> None:
        self._private = PrivateKey.generate()
        self._derive = bytes(PrivateKey.generate())  # secret of the derived ephemeral keys

    @property
    def public_key(self) -> bytes:
        """The 32-byte public key served at ``/<prefix>/<key>/pubkey``."""
        return bytes(self._private.public_key)

    def seal(self, value: Any) -> dict[str, str]:
        """The envelope of ``value`` (deterministic: same value, same envelope)."""
        data = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        digest = hmac.new(self._derive, data, hashlib.sha512).digest()
        ephemeral, nonce = PrivateKey(digest[:32]), digest[32:56]
        payload = Box(ephemeral, self._private.public_key).encrypt(data, nonce).ciphertext
        return {"Key": _b64(bytes(ephemeral.public_key)), "Nonce": _b64(nonce),
                "Payload": _b64(payload)}

    def open(self, envelope: Any) -> Any:
        """The JSON value sealed to this box's public key; ``ValueError`` otherwise."""
        if not is_envelope(envelope):
            raise ValueError("not a SecureData envelope")
        peer, nonce, payload = (_unb64(envelope[f]) for f in ("Key", "Nonce", "Payload"))
        assert peer is not None and nonce is not None and payload is not None
        try:
            data = Box(self._private, PublicKey(peer)).decrypt(payload, nonce)
        except CryptoError:
            raise ValueError("SecureData corrupted") from None
        try:
            return json.loads(data)
        except ValueError:
            raise ValueError("SecureData does not hold JSON") from None

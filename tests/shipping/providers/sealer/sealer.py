"""Seals and opens a message with a secret box (PyNaCl, compiled: built with --native)."""

from __future__ import annotations

import nacl.secret
import nacl.utils

from drp_plugin import Action, Provider, SyncContext

provider = Provider("sealer")


@provider.action("seal", optional=["sealer/message"])
def seal(ctx: SyncContext, action: Action) -> dict[str, object]:
    message = str(action.params.get("sealer/message", "hello")).encode()
    box = nacl.secret.SecretBox(nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE))
    sealed = box.encrypt(message)
    return {"opened": box.decrypt(sealed).decode(), "sealed_bytes": len(sealed)}


if __name__ == "__main__":
    provider.main()

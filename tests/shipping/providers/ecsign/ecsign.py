"""Signs a message with a fresh EC key (cryptography, compiled: built with --native)."""

from __future__ import annotations

from drp_plugin import Action, Provider, SyncContext

provider = Provider("ecsign")


@provider.action("sign", optional=["ecsign/message"])
def sign(ctx: SyncContext, action: Action) -> dict[str, object]:
    # Imported in the handler, the way a lazy import hides compiled code from a top-level check.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    message = str(action.params.get("ecsign/message", "hello")).encode()
    key = ec.generate_private_key(ec.SECP256R1())
    signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    key.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))  # raises if bad
    return {"curve": key.curve.name, "verified": True, "signature_bytes": len(signature)}


if __name__ == "__main__":
    provider.main()

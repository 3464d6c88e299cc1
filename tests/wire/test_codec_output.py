"""Every byte string :mod:`drp_plugin.protocol.http1` writes equals what h11 writes."""

from __future__ import annotations

import h11
import pytest

from drp_plugin.protocol import http1

DATE = b"Mon, 30 Nov 2026 04:00:00 GMT"


def _h11_response(status: int, payload: bytes, close: bool, head_only: bool) -> bytes:
    conn = h11.Connection(h11.SERVER)
    method = b"HEAD" if head_only else b"POST"
    conn.receive_data(b"%s / HTTP/1.1\r\nHost: unix\r\nContent-Length: 0\r\n\r\n" % method)
    assert isinstance(conn.next_event(), h11.Request)
    headers = [(b"Content-Type", b"application/json"), (b"Date", DATE),
               (b"Content-Length", b"%d" % len(payload))]
    if close:
        headers.append((b"Connection", b"close"))
    out = conn.send(h11.Response(status_code=status, headers=headers, reason=http1.reason(status)))
    assert out is not None
    if not head_only:
        out += conn.send(h11.Data(data=payload)) or b""
    return out + (conn.send(h11.EndOfMessage()) or b"")


@pytest.mark.parametrize("status", [200, 204, 400, 404, 408, 413, 431, 500, 503, 599])
@pytest.mark.parametrize("close", [False, True])
@pytest.mark.parametrize("head_only", [False, True])
def test_codec_output_matches_h11(status: int, close: bool, head_only: bool) -> None:
    """Responses (the normal writer and the refusal writer are one function), the
    ``100 Continue`` interim response, and the requests to DRP, byte for byte."""
    payload = b'{"Code":%d}\n' % status if status != 204 else b""
    ours = http1.encode_response(status, payload, DATE, close=close, head_only=head_only)
    assert ours == _h11_response(status, payload, close, head_only)

    conn = h11.Connection(h11.SERVER)
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: unix\r\nExpect: 100-continue\r\n"
                      b"Content-Length: 1\r\n\r\n")
    conn.next_event()
    assert http1.CONTINUE == conn.send(h11.InformationalResponse(status_code=100, headers=[],
                                                                  reason=b"Continue"))

    body = b'{"Level":"info","Message":"\xc3\xa9"}'
    client = h11.Connection(h11.CLIENT)
    expected = client.send(h11.Request(method="POST", target="/api-server-plugin/v4/log", headers=[
        ("Host", "unix"), ("Content-Type", "application/json"), ("User-Agent", "drp-plugin"),
        ("Content-Length", str(len(body)))])) or b""
    expected += (client.send(h11.Data(data=body)) or b"") + (client.send(h11.EndOfMessage()) or b"")
    assert http1.encode_request("/api-server-plugin/v4/log", body) == expected

"""The HTTP/1.1 codec of the two plugin sockets: parse and write messages, nothing else.

The only peer of these sockets is DRP's Go ``net/http`` over a 0600 unix socket,
so this codec is narrow: ``Content-Length`` and ``chunked`` bodies, keep-alive and
pipelining, no upgrades.  Its grammar is h11's (``h11._abnf``, ``h11._readers``,
``h11._headers.normalize_and_validate``): ``tests/wire/test_codec_differential.py``
feeds the same byte streams, split at random points, to this parser and to h11 and
requires that both read the same messages or both refuse.  Where it is stricter
than h11 on purpose, it says so:

- the head limit (``max_head`` bytes, request line + headers + blank line) holds
  however the bytes arrive (h11 only checks it while a head is incomplete);
- a request with both ``Transfer-Encoding`` and ``Content-Length`` is read like h11
  reads it (chunked wins) and then the connection is closed (RFC 9112 section 6.3).

Every byte string this package writes on those sockets (responses, ``100 Continue``,
requests to DRP) is built here; ``tests/wire/test_codec_output.py`` checks them
against what h11 writes for the same message.
"""

from __future__ import annotations

import json
import math
import re
import time
from http import HTTPStatus
from typing import Any

#: Default bound on one message head (request or status line, headers, blank line).
DEFAULT_MAX_HEAD = 64 * 1024

_TOKEN = rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+"
_REQUEST_LINE = re.compile(
    rb"(" + _TOKEN + rb") ([\x21-\x7e]+) HTTP/([0-9]\.[0-9])")
_STATUS_LINE = re.compile(rb"HTTP/([0-9]\.[0-9]) ([0-9]{3})(?: ((?:[ \t]|[^\x00\s])*))?")
_FIELD = rb"(" + _TOKEN + rb"):[ \t]*((?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?)[ \t]*"
_HEADER_FIELD = re.compile(_FIELD)
# The common head, checked whole in one pass: CRLF lines only, nothing folded.  A
# field line here is a token, ":", then bytes other than NUL, CR, LF, VT and FF: the
# same set _HEADER_FIELD accepts (OWS, then field-content of h11's ``[^\x00\s]``
# runs joined by spaces and tabs, then OWS), so the value is the rest stripped of
# spaces and tabs.  A head it does not match takes the line-by-line path.
_PLAIN_FIELDS = rb"((?:" + _TOKEN + rb":[^\x00\n\r\x0b\x0c]*\r\n)*)\r\n"
_PLAIN_REQUEST = re.compile(
    rb"(" + _TOKEN + rb") ([\x21-\x7e]+) HTTP/([0-9]\.[0-9])\r\n" + _PLAIN_FIELDS)
_PLAIN_RESPONSE = re.compile(
    rb"HTTP/([0-9]\.[0-9]) ([0-9]{3})(?: (?:[ \t]|[^\x00\s])*)?\r\n" + _PLAIN_FIELDS)
_FOLD = re.compile(rb"[ \t]+")
_HEAD_END = re.compile(rb"\n\r?\n")
_DIGITS = re.compile(rb"[0-9]+")
_CHUNK_HEADER = re.compile(rb"([0-9A-Fa-f]{1,20})(;.*)?[ \t]*\r\n")

Headers = list[tuple[bytes, bytes]]


class HTTPError(Exception):
    """A message that cannot be read; ``status`` is the HTTP status to refuse it with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Head:
    """One parsed message head (a request's, or a response's when ``status`` is set)."""

    __slots__ = ("method", "target", "status", "version", "headers", "length", "chunked",
                 "keep_alive", "expect_continue", "upgrade", "smuggle_risk")

    def __init__(self) -> None:
        self.method = b""
        self.target = b""
        self.status = 0
        self.version = b"1.1"
        #: (lower-case name, value) in arrival order; ``content-length`` normalised.
        self.headers: Headers = []
        #: Body length when framed by Content-Length (0 when there is no body).
        self.length = 0
        self.chunked = False
        self.keep_alive = True
        self.expect_continue = False
        #: CONNECT or an Upgrade header: nothing after this message is read.
        self.upgrade = False
        #: Both Transfer-Encoding and Content-Length: the connection closes after it.
        self.smuggle_risk = False


def _split_lines(block: bytes) -> list[bytes]:
    """The lines of a head block that ends with its blank line (CRLF or bare LF, like h11)."""
    lines = block.split(b"\n")
    out = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    del out[-2:]
    return out


def _header_fields(lines: list[bytes]) -> Headers:
    """Parse header lines (obsolete line folding joined with one space, like h11)."""
    fields: Headers = []
    last: bytes | None = None
    for line in lines:
        fold = _FOLD.match(line)
        if fold:
            if last is None:
                raise HTTPError("continuation line at start of headers")
            last = last + b" " + line[fold.end():]
            continue
        if last is not None:
            fields.append(_field(last))
        last = line
    if last is not None:
        fields.append(_field(last))
    return fields


def _field(line: bytes) -> tuple[bytes, bytes]:
    match = _HEADER_FIELD.fullmatch(line)
    if match is None:
        raise HTTPError(f"illegal header line: {line[:200]!r}")
    return match.group(1).lower(), match.group(2)


def _normalise(headers: Headers) -> Headers:
    """h11's ``normalize_and_validate`` on parsed headers: Content-Length and T-E rules."""
    out: Headers = []
    seen_length: bytes | None = None
    saw_te = False
    for name, value in headers:
        if name == b"content-length":
            lengths = {part.strip() for part in value.split(b",")}
            if len(lengths) != 1:
                raise HTTPError("conflicting Content-Length headers")
            value = lengths.pop()
            if _DIGITS.fullmatch(value) is None or len(value) > 20:
                raise HTTPError("bad Content-Length")
            if seen_length is None:
                seen_length = value
                out.append((name, value))
            elif seen_length != value:
                raise HTTPError("conflicting Content-Length headers")
        elif name == b"transfer-encoding":
            if saw_te:
                raise HTTPError("multiple Transfer-Encoding headers", 501)
            value = value.lower()
            if value != b"chunked":
                raise HTTPError("Only Transfer-Encoding: chunked is supported", 501)
            saw_te = True
            out.append((name, value))
        else:
            out.append((name, value))
    return out


def _head_lines(block: bytes) -> tuple[list[bytes], bool]:
    """The lines of a head block, and whether they may hold folded continuation lines."""
    if block.count(b"\n") == block.count(b"\r\n") and b"\n " not in block \
            and b"\n\t" not in block:
        lines = block.split(b"\r\n")  # the common case: CRLF only, nothing folded
        del lines[-2:]
        return lines, False
    return _split_lines(block), True


def _fields(lines: list[bytes], folded: bool) -> Headers:
    """Header lines to (lower-case name, value), validated like h11 (one pass when plain)."""
    if folded:
        return _normalise(_header_fields(lines))
    fields: Headers = []
    append = fields.append
    match = _HEADER_FIELD.fullmatch
    seen_length = False
    for line in lines:
        m = match(line)
        if m is None:
            raise HTTPError(f"illegal header line: {line[:200]!r}")
        name, value = m.groups()
        name = name.lower()
        if name == b"content-length":
            if seen_length or not value.isdigit() or len(value) > 20:
                return _normalise(_header_fields(lines))  # the rare cases, h11's way
            seen_length = True
        elif name == b"transfer-encoding":
            return _normalise(_header_fields(lines))
        append((name, value))
    return fields


def _frame(head: Head, is_request: bool, request_method: bytes = b"POST") -> None:
    """Framing, keep-alive, upgrade and expectations of ``head`` (h11's rules, one pass)."""
    hosts = 0
    has_length = False
    connection: list[bytes] = []
    upgrade = False
    expect: list[bytes] = []
    for name, value in head.headers:
        if name == b"content-length":
            head.length = int(value)
            has_length = True
        elif name == b"host":
            hosts += 1
        elif name == b"transfer-encoding":
            head.chunked = True
        elif name == b"connection":
            connection += [v.strip() for v in value.lower().split(b",")]
        elif name == b"upgrade":
            upgrade = upgrade or any(v.strip() for v in value.split(b","))
        elif name == b"expect":
            expect += [v.strip() for v in value.lower().split(b",") if v.strip()]
    head.keep_alive = b"close" not in connection and head.version >= b"1.1"
    if is_request:
        if head.version == b"1.1" and hosts == 0:
            raise HTTPError("Missing mandatory Host: header")
        if hosts > 1:
            raise HTTPError("Found multiple Host: headers")
        head.upgrade = upgrade or head.method == b"CONNECT"
        head.expect_continue = head.version >= b"1.1" and expect == [b"100-continue"]
    elif head.status in (204, 304) or request_method == b"HEAD":
        head.length = 0
        head.chunked = False
        return
    if head.chunked:
        head.length = 0
        head.smuggle_risk = has_length
        if has_length:
            head.keep_alive = False
    elif not has_length and not is_request:
        head.length = -1  # a response read until the connection closes


def _plain_fields(section: bytes) -> tuple[Headers, int, int, bool] | None:
    """The fields of a section :data:`_PLAIN_FIELDS` checked, the Content-Length (-1
    without one), how many Host fields, and whether it has no Connection, Upgrade or
    Expect (nothing else for :func:`_frame` to read).  None when a field needs h11's
    fuller rules (a repeated or odd Content-Length, Transfer-Encoding)."""
    fields: Headers = []
    append = fields.append
    hosts = 0
    length = -1
    simple = True
    lines = section.split(b"\r\n")
    lines.pop()
    for line in lines:
        name, _, value = line.partition(b":")
        name = name.lower()
        value = value.strip(b" \t")
        if name == b"content-length":
            if length >= 0 or not value.isdigit() or len(value) > 20:
                return None
            length = int(value)
        elif name == b"host":
            hosts += 1
        elif name == b"transfer-encoding":
            return None
        elif name in (b"connection", b"upgrade", b"expect"):
            simple = False
        append((name, value))
    return fields, length, hosts, simple


def parse_request_head(block: bytes) -> Head:
    """Parse a request head ``block`` (it ends with its blank line)."""
    plain = _PLAIN_REQUEST.fullmatch(block)
    if plain is not None:
        found = _plain_fields(plain.group(4))
        if found is not None:
            head = Head()
            head.method, head.target, head.version = plain.group(1, 2, 3)
            head.headers, length, hosts, simple = found
            if simple and hosts == 1 and head.version == b"1.1" and head.method != b"CONNECT":
                head.length = max(length, 0)
            else:
                _frame(head, True)
            return head
    if block[:1] in (b"\n", b"\r"):
        raise HTTPError("no request line received")
    lines, folded = _head_lines(block)
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        raise HTTPError(f"illegal request line: {lines[0][:200]!r}")
    head = Head()
    head.method, head.target, head.version = match.groups()
    del lines[0]
    head.headers = _fields(lines, folded)
    _frame(head, True)
    return head


def parse_response_head(block: bytes, request_method: bytes = b"POST") -> Head:
    """Parse a response head ``block`` (it ends with its blank line)."""
    plain = _PLAIN_RESPONSE.fullmatch(block)
    if plain is not None:
        found = _plain_fields(plain.group(3))
        if found is not None:
            head = Head()
            head.version = plain.group(1)
            head.status = int(plain.group(2))
            head.headers, length, _, simple = found
            if head.status < 200:
                return head
            if simple and length >= 0 and head.version == b"1.1" \
                    and head.status not in (204, 304) and request_method != b"HEAD":
                head.length = length
            else:
                _frame(head, False, request_method)
            return head
    if block[:1] in (b"\n", b"\r"):
        raise HTTPError("no response line received")
    lines, folded = _head_lines(block)
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise HTTPError(f"illegal status line: {lines[0][:200]!r}")
    head = Head()
    head.version = match.group(1)
    head.status = int(match.group(2))
    del lines[0]
    head.headers = _fields(lines, folded)
    if head.status >= 200:
        _frame(head, False, request_method)
    return head


class Parser:
    """Incremental reader of one direction of one connection.

    ``feed`` bytes as they arrive, then call :meth:`next` until it returns None
    (more bytes needed).  It returns :data:`MESSAGE` once a message is complete
    (:meth:`take` it).  When a head is complete but its body is not all here yet,
    it first returns :data:`HEAD` (look at :attr:`head`, refuse early if you must).  A body is read into one growing buffer: no list of chunks, no second copy.  Errors raise :class:`HTTPError`.
    """

    HEAD = 1
    MESSAGE = 2

    def __init__(self, *, response: bool = False, max_head: int = DEFAULT_MAX_HEAD,
                 max_body: int = 1 << 62) -> None:
        self.response = response
        self.max_head = max_head
        self.max_body = max_body
        self.buf = bytearray()
        self.head: Head | None = None
        self.body: bytes | bytearray = b""
        #: What the current head is a reply to (HEAD answers have no body).
        self.request_method = b"POST"
        self._state = 0  # 0 head, 1 length body, 2 chunk header, 3 chunk data, 4 chunk CRLF, 5 trailer, 6 until EOF
        self._search = 0
        self._chunk_left = 0
        self._eof = False
        #: After an upgrade or a close-delimited body nothing more is read.
        self.stopped = False

    @property
    def buffered(self) -> int:
        """Bytes held: unparsed input plus the body being read."""
        return len(self.buf) + len(self.body)

    def feed(self, data: bytes) -> None:
        """Add bytes read from the connection."""
        if self._state == 1 and not self.buf:
            body = self.body
            assert isinstance(body, bytearray)
            n = self.head.length - len(body) if self.head is not None else 0
            if n >= len(data):
                body += data
            else:
                body += memoryview(data)[:n]
                self.buf += memoryview(data)[n:]
            return
        self.buf += data

    def feed_eof(self) -> None:
        """The peer closed its side: a body read until EOF ends here."""
        self._eof = True

    def next(self) -> int | None:
        """The next event (:data:`HEAD`, :data:`MESSAGE`) or None when more bytes are needed."""
        if self.stopped:
            return None
        state = self._state
        buf = self.buf
        if state == 0:
            if not buf:
                return None
            if buf[0] < 0x21:
                raise HTTPError("illegal request line" if not self.response else
                                "illegal status line")
            match = _HEAD_END.search(buf, self._search)
            if match is None:
                if len(buf) > self.max_head:
                    raise HTTPError(f"Request header too large: the limit is {self.max_head} bytes", 431)
                self._search = max(0, len(buf) - 2)
                return None
            end = match.end()
            if end > self.max_head:
                raise HTTPError(f"Request header too large: the limit is {self.max_head} bytes", 431)
            block = bytes(buf[:end])
            del buf[:end]
            self._search = 0
            if self.response:
                head = parse_response_head(block, self.request_method)
                if head.status < 200:  # 100 Continue and friends: skipped, like h11's clients do
                    return self.next()
            else:
                head = parse_request_head(block)
            if not head.chunked and head.length > self.max_body:
                raise HTTPError(f"Request body too large: the limit is {self.max_body} bytes", 413)
            self.head = head
            if head.chunked:
                self.body = bytearray()
                self._state = 2
            elif head.length < 0:
                self.body = bytearray()
                self._state = 6
            elif len(buf) >= head.length:
                # The whole message is here: no HEAD event (nothing to decide early).
                n = head.length
                self.body = bytes(buf[:n]) if n else b""
                del buf[:n]
                return self._done()
            else:
                # Grown as bytes arrive (realloc, no second copy), so memory follows
                # what was received, not what the head announced.
                self.body = bytearray(buf)
                buf.clear()
                self._state = 1
            return self.HEAD
        if state == 1:
            assert self.head is not None
            if len(self.body) < self.head.length:
                return None
            return self._done()
        if state == 6:
            if buf:
                self._grow(len(buf))
                assert isinstance(self.body, bytearray)
                self.body += buf
                buf.clear()
            return self._done() if self._eof else None
        return self._chunked()

    def _grow(self, n: int) -> None:
        if len(self.body) + n > self.max_body:
            raise HTTPError(f"Request body too large: the limit is {self.max_body} bytes", 413)

    def _chunked(self) -> int | None:
        buf = self.buf
        body = self.body
        assert isinstance(body, bytearray)
        while True:
            state = self._state
            if state == 2:
                idx = buf.find(b"\r\n")
                if idx < 0:
                    if len(buf) > self.max_head:
                        raise HTTPError("chunk header too long", 431)
                    return None
                line = bytes(buf[:idx + 2])
                match = _CHUNK_HEADER.fullmatch(line)
                if match is None:
                    raise HTTPError(f"illegal chunk header: {line[:100]!r}")
                del buf[:idx + 2]
                size = int(match.group(1), 16)
                if size == 0:
                    self._state = 5
                    continue
                self._grow(size)
                self._chunk_left = size
                self._state = 3
            elif state == 3:
                if not buf:
                    return None
                n = min(self._chunk_left, len(buf))
                body += memoryview(buf)[:n]
                del buf[:n]
                self._chunk_left -= n
                if self._chunk_left:
                    return None
                self._state = 4
            elif state == 4:
                if len(buf) < 2:
                    if buf and buf[:1] != b"\r":
                        raise HTTPError(f"malformed chunk footer: {bytes(buf)!r}")
                    return None
                if buf[:2] != b"\r\n":
                    raise HTTPError(f"malformed chunk footer: {bytes(buf[:2])!r}")
                del buf[:2]
                self._state = 2
            else:  # trailer
                if buf[:1] == b"\n":
                    del buf[:1]
                    return self._done()
                if buf[:2] == b"\r\n":
                    del buf[:2]
                    return self._done()
                match = _HEAD_END.search(buf)
                if match is None:
                    if len(buf) > self.max_head:
                        raise HTTPError("trailer too large", 431)
                    return None
                end = match.end()
                block = bytes(buf[:end])
                del buf[:end]
                _normalise(_header_fields(_split_lines(block)))
                return self._done()

    def _done(self) -> int:
        head = self.head
        assert head is not None
        self._state = 0
        if head.upgrade or head.length < 0 or not head.keep_alive:
            self.stopped = True
        return self.MESSAGE

    def take(self) -> tuple[Head, bytes | bytearray]:
        """The complete message (after :data:`MESSAGE`); the parser forgets it."""
        head, body = self.head, self.body
        assert head is not None
        self.head = None
        self.body = b""
        return head, body


# -- writing ---------------------------------------------------------------------------------
def reason(status: int) -> bytes:
    """The standard reason phrase of ``status`` (empty when it has none)."""
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


_REASONS: dict[int, bytes] = {}


def _reason_cached(status: int) -> bytes:
    phrase = _REASONS.get(status)
    if phrase is None:
        phrase = _REASONS[status] = reason(status)
    return phrase


class DateCache:
    """The ``Date`` header value, formatted once per second (RFC 7231 IMF-fixdate)."""

    __slots__ = ("second", "value")

    def __init__(self) -> None:
        self.second = -1
        self.value = b""

    def get(self) -> bytes:
        """Today's IMF-fixdate, e.g. ``Mon, 30 Nov 2026 04:00:00 GMT``."""
        now = int(time.time())
        if now != self.second:
            self.second = now
            # Python never sets LC_TIME, so the day and month names are English.
            self.value = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)).encode()
        return self.value


def encode_response(status: int, payload: bytes, date: bytes, *, close: bool = False,
                    head_only: bool = False) -> bytes:
    """A JSON response, byte for byte what h11 writes for the same headers.

    Headers: ``Content-Type: application/json``, ``Date``, ``Content-Length`` and,
    when ``close``, ``Connection: close``.  ``head_only`` (a reply to HEAD) omits the body.
    """
    out = b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nDate: %s\r\nContent-Length: %d\r\n%s\r\n" % (
        status, _reason_cached(status), date, len(payload),
        b"Connection: close\r\n" if close else b"")
    return out if head_only else out + payload


#: Written when a request says ``Expect: 100-continue`` and its body is wanted.
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

_REQUEST_HEADERS = b"Host: unix\r\nContent-Type: application/json\r\nUser-Agent: drp-plugin\r\n"


def encode_request(path: str, body: bytes) -> bytes:
    """A JSON POST to DRP, byte for byte what h11 writes for the same headers."""
    return b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s" % (
        path.encode("ascii"), _REQUEST_HEADERS, len(body), body)


def request_prefix(path: str) -> bytes:
    """The fixed part of :func:`encode_request` for ``path`` (cached by senders of many)."""
    return b"POST %s HTTP/1.1\r\n%sContent-Length: " % (path.encode("ascii"), _REQUEST_HEADERS)


# -- JSON on the wire --------------------------------------------------------------------------
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_json(body: Any) -> bytes:
    """JSON plus a newline, like Go's ``json.Encoder``; NaN and Infinity raise ValueError
    (Go's encoding/json cannot read them).  A :class:`PreparedJSON` is written as is."""
    if type(body) is PreparedJSON:
        return body.payload
    return (_ENCODER.encode(body) + "\n").encode()


class PreparedJSON:
    """A reply body encoded once (the constant ``models.Error`` of a 200, say): the
    server writes :attr:`payload` without encoding it again, and :attr:`value` is
    what it decodes to."""

    __slots__ = ("value", "payload")

    def __init__(self, value: Any) -> None:
        self.payload = (_ENCODER.encode(value) + "\n").encode()
        self.value = json.loads(self.payload)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


#: First bytes after which ``json.detect_encoding`` can only answer UTF-8 (no BOM, and
#: a second byte that is not NUL rules out UTF-16 and UTF-32).
_JSON_OPENERS = (b"{", b"[", b'"')
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def decode_json(body: bytes | bytearray) -> Any:
    """Parse a request body as Go's encoding/json would: NaN, Infinity and numbers
    that overflow a float64 (``1e999``) are refused with ValueError."""
    if body[:1] in _JSON_OPENERS and body[1:2] != b"\x00":
        text = body.decode("utf-8", "surrogatepass")  # what detect_encoding answers here
    else:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    if text.startswith("\ufeff"):
        raise ValueError("Unexpected UTF-8 BOM")
    return _DECODER.decode(text)


def media_type(content_type: str) -> str:
    """The media type of a Content-Type value, lower case, without parameters."""
    return content_type.partition(";")[0].strip().lower()

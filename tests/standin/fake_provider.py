#!/usr/bin/env python3
"""A plugin provider written with the standard library only: an independent peer
of the stand-in that speaks docs/protocol.md sections 1-3 (define, unpack, listen).

Usage: fake_provider.py [--name NAME] [--variant VARIANT] define | unpack DIR | listen TO FROM

Variants: ok, autostart, publisher (HasPublish), needs-secret, stderr-define,
bad-version, bad-unpack, bad-content, failed, crash-listen, config-403, config-500.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

# define and unpack must stay quick: the HTTP machinery is imported by listen only.

NAME = "fake"
VARIANT = "ok"
FROM_PATH = ""
STATE: dict[str, Any] = {"config": None, "received": []}


def definition() -> dict[str, Any]:
    sections: dict[str, Any] = {
        "params": {
            "fake/step": {"Name": "fake/step", "Schema": {"type": "integer"}},
            "fake/greeting": {"Name": "fake/greeting",
                              "Schema": {"type": "string", "default": "hello"}},
            "fake/secret": {"Name": "fake/secret", "Secure": True,
                            "Schema": {"type": "string"}},
            "fake/code": {"Name": "fake/code", "Schema": {"type": "integer"}},
        },
        "fake-cows": {"daisy": {"Id": "daisy", "Type": "fake-cows", "Spotted": True}},
        "tasks": {"t1": {"Name": "t1"}},
    }
    if VARIANT == "bad-content":
        sections["fake-cows"]["nospots"] = {"Id": "nospots", "Type": "fake-cows"}
    content = {"meta": {"Name": "Unspecified", "Version": "v0.0.0", "Type": "dynamic",
                        "Description": "fake provider"},
               "sections": sections}

    def action(cmd: str, model: str = "machines", req: Any = None, opt: Any = None) -> Any:
        return {"Provider": "", "Model": model, "Command": cmd, "RequiredParams": req,
                "OptionalParams": opt}

    return {
        "Meta": None,
        "Name": NAME,
        "Version": "v1.2.3",
        "PluginVersion": 3 if VARIANT == "bad-version" else 4,
        "AutoStart": VARIANT == "autostart",
        "HasPublish": VARIANT == "publisher",
        "AvailableActions": [
            action("echo", opt=["fake/step", "fake/greeting", "fake/secret"]),
            action("need", req=["fake/step"]),
            action("fail"), action("empty"), action("text"), action("publish"),
            action("log"), action("leave", opt=["fake/code"]), action("api"),
            action("config"), action("received"), action("poke", model="fake-cows"),
            action("plugin-info", model="plugins"), action("status", model=""),
        ],
        "RequiredParams": ["fake/secret"] if VARIANT == "needs-secret" else None,
        "OptionalParams": ["fake/greeting"],
        "StoreObjects": {"fake-cows": {"Spotted": {"type": "boolean", "isrequired": True},
                                       "Location": {"type": "string"}}},
        "Documentation": "",
        "Content": json.dumps(content),
    }


def to_drp(call: str, body: Any) -> int:
    import http.client
    import socket

    conn = http.client.HTTPConnection("unix", timeout=10)
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.connect(FROM_PATH)
    conn.request("POST", f"/api-server-plugin/v4/{call}", json.dumps(body),
                 {"Content-Type": "application/json"})
    status = conn.getresponse().status
    conn.close()
    return status


def log_line(message: str, level: Any = "info", ignore: bool = False) -> int:
    return to_drp("log", {"Group": 1, "Seq": 1, "Time": "2026-01-01T00:00:00Z",
                          "Service": NAME, "Principal": "", "Level": level, "File": "fake",
                          "Line": 1, "Message": message, "Data": [],
                          "IgnorePublish": ignore})


def error(code: int, message: str) -> dict[str, Any]:
    return {"Model": "", "Key": "", "Type": "plugin", "Messages": [message], "Code": code}


OK = {"Model": "", "Key": "", "Type": "", "Messages": None, "Code": 200}


def run_action(action: dict[str, Any]) -> tuple[int, Any]:
    cmd, model, params = action["Command"], action.get("Model"), action.get("Params") or {}
    if cmd in ("echo", "need", "poke", "plugin-info"):
        return 200, action
    if cmd == "fail":
        return 418, {"Model": "machines", "Key": "k", "Type": "plugin",
                     "Messages": ["it failed"], "Code": 418}
    if cmd == "empty":
        return 200, None
    if cmd == "text":
        return 200, b"this is not json"
    if cmd == "publish":
        to_drp("publish", {"Time": "2026-01-01T00:00:00Z", "Type": "fake", "Action": "ping",
                           "Key": model["Uuid"], "Object": {"n": 1}})
        return 200, "published"
    if cmd == "log":
        statuses = [log_line("a warning", "warn"), log_line("numeric error", 4),
                    log_line("quiet line", "debug", ignore=True)]
        return 200, statuses
    if cmd == "leave":
        code = params.get("fake/code", 500)
        to_drp("leaving", error(code, "fake is leaving"))
        threading.Timer(0.2, lambda: os._exit(0)).start()
        return 200, "leaving"
    if cmd == "api":
        import ssl
        import urllib.request

        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        req = urllib.request.Request(
            f"{os.environ['RS_ENDPOINT']}/api/v3/machines/{model['Uuid']}",
            headers={"Authorization": f"Bearer {os.environ['RS_TOKEN']}"})
        with urllib.request.urlopen(req, context=ctx) as resp:  # noqa: S310 - test peer
            return 200, json.load(resp)["Name"]
    if cmd == "config":
        return 200, STATE["config"]
    if cmd == "received":
        return 200, STATE["received"]
    if cmd == "status":
        return 200, f"Running {STATE['config']['Name']}"
    return 404, error(404, f"Unknown command: {cmd}")


def make_server(to_path: str) -> Any:
    import http.server
    import socketserver

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def reply(self, status: int, body: Any) -> None:
            if isinstance(body, bytes):
                data = body
            else:
                data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/api-plugin/v4/stop":
                log_line(f"stop body: {raw.decode()} type: {self.headers.get('Content-Type')}")
                self.reply(200, OK)
                threading.Thread(target=self.server.shutdown).start()
                return
            body = json.loads(raw)
            if self.path == "/api-plugin/v4/config":
                STATE["config"] = body
                log_line(f"config keys: {sorted(body)}")
                if VARIANT == "config-403":
                    self.reply(403, error(403, "not licensed"))
                elif VARIANT == "config-500":
                    self.reply(500, error(500, "config exploded"))
                else:
                    self.reply(200, OK)
                return
            if self.path == "/api-plugin/v4/publish" and VARIANT == "publisher":
                STATE["received"].append(f"{body['Type']}.{body['Action']}.{body['Key']}")
                self.reply(200, OK)
                return
            if self.path == "/api-plugin/v4/action":
                self.reply(*run_action(body))
                return
            self.reply(404, error(404, f"no {self.path}"))

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    return Server(to_path, Handler)


def listen(to_path: str, from_path: str) -> None:
    global FROM_PATH
    FROM_PATH = from_path
    print("fake provider starting", flush=True)
    if VARIANT == "failed":
        print("Failed", flush=True)
        sys.exit(1)
    if VARIANT == "crash-listen":
        print("cannot start", file=sys.stderr, flush=True)
        sys.exit(3)
    if os.path.exists(to_path):
        os.unlink(to_path)
    server = make_server(to_path)
    print("READY!", flush=True)
    print("a line on stderr", file=sys.stderr, flush=True)
    server.serve_forever(poll_interval=0.05)
    os.unlink(to_path)


def main(argv: list[str]) -> None:
    global NAME, VARIANT
    while argv and argv[0].startswith("--"):
        option, value, argv = argv[0], argv[1], argv[2:]
        if option == "--name":
            NAME = value
        elif option == "--variant":
            VARIANT = value
    command = argv[0] if argv else ""
    if command == "define":
        if VARIANT == "stderr-define":
            print("warning: something odd", file=sys.stderr)
        print(json.dumps(definition(), indent=2))
    elif command == "unpack":
        if VARIANT == "bad-unpack":
            print("cannot unpack", file=sys.stderr)
            sys.exit(2)
        os.makedirs(argv[1], exist_ok=True)
        with open(os.path.join(argv[1], "hello.txt"), "w") as f:
            f.write("hello from fake\n")
        print(f"unpacked into {argv[1]}")
    elif command == "listen":
        listen(argv[1], argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])

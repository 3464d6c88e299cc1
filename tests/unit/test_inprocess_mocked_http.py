"""A provider whose external API is faked with ``httpx.MockTransport``, under the
in-process ``TestClient`` (docs/howto/testing.md, "Mocking the provider's external
service"), and the Go error shapes as they are answered over the wire.

The handlers run in the test's process, so the transport the test sets is the one the
provider's lifespan builds its clients with: no fake server, no subprocess.  The error
bodies are compared with what the Go code writes: ``utils.MakeError`` and
``utils.ConvertError`` (provision-plugins ``utils/error_helpers.go``), tower's config
error (``cmds/tower/tower.go``) nested by Go's ``configHandler`` (provision
``plugin/plugin.go``), field for field and in Go's field order.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from drp_plugin.testing.inprocess import TestClient
from tests.unit import towerish

GO_FIELDS = ["Model", "Key", "Type", "Messages", "Code"]
MACHINE = {"Name": "m1", "Uuid": "3f8a8d1e-0c55-4f6e-9c1a-5d7f3f1b2c4d",
           "CurrentJob": "9a1c3a8e-7d7e-4b8a-a2b0-6c1f0e9d8b7a", "Params": {}}
CONFIG = {"Name": "tower1", "towerish/url": "https://tower.example", "towerish/token": "t0k"}


class FakeTower:
    """The tower API the provider talks to, as an ``httpx.MockTransport`` handler."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.threads: set[str] = set()
        self.jobs: dict[int, str] = {7: "successful"}
        self.fail_with: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.threads.add(threading.current_thread().name)
        if self.fail_with is not None:
            return httpx.Response(self.fail_with, text="tower is down")
        path = request.url.path
        if request.method == "POST" and path == "/api/v2/job_templates/12/launch/":
            job = max(self.jobs) + 1
            self.jobs[job] = "pending"
            return httpx.Response(201, json={"job": job})
        if request.method == "GET" and path.startswith("/api/v2/jobs/"):
            job = int(path.split("/")[4])
            if job not in self.jobs:
                return httpx.Response(404, json={"detail": "Not found."})
            return httpx.Response(200, json={"id": job, "status": self.jobs[job]})
        return httpx.Response(404, json={"detail": "Not found."})


@pytest.fixture
def tower(monkeypatch: pytest.MonkeyPatch) -> FakeTower:
    fake = FakeTower()
    monkeypatch.setattr(towerish, "transport", httpx.MockTransport(fake))
    return fake


@pytest.fixture
def client(tower: FakeTower) -> Iterator[TestClient]:
    with TestClient(towerish.provider) as c:
        assert c.config(CONFIG).status == 200
        yield c


def test_a_sync_handler_calls_the_mocked_api(client: TestClient, tower: FakeTower) -> None:
    reply = client.action("launch", {"towerish/template": 12}, model=MACHINE, plugin="tower1")
    assert (reply.status, reply.body) == (200, 8)
    (request,) = tower.requests
    assert request.method == "POST"
    assert str(request.url) == "https://tower.example/api/v2/job_templates/12/launch/"
    assert request.headers["Authorization"] == "Bearer t0k"
    assert json.loads(request.content) == {
        "limit": "m1", "extra_vars": {"drp_job": MACHINE["CurrentJob"]}}
    # the sync handler ran in a worker thread, not on the client's loop
    assert tower.threads and "drp-plugin-testclient" not in tower.threads


def test_an_async_handler_calls_the_mocked_api(client: TestClient, tower: FakeTower) -> None:
    reply = client.action("job_status", {"towerish/job": 7}, plugin="tower1")
    assert (reply.status, reply.body) == (200, "successful")
    (request,) = tower.requests
    assert (request.method, str(request.url)) == ("GET", "https://tower.example/api/v2/jobs/7/")
    assert request.headers["Authorization"] == "Bearer t0k"
    # the async handler ran on the client's loop
    assert tower.threads == {"drp-plugin-testclient"}


def test_each_client_enters_the_lifespan_with_the_transport_of_its_test(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """close() leaves a lifespan that stop did not: the next client (next test) builds
    its state with its own transport, and the clients of the first are closed."""
    seen: list[str] = []

    def answer(status: str) -> Callable[[httpx.Request], httpx.Response]:
        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(status)
            return httpx.Response(200, json={"status": status})
        return handler

    states: list[towerish.State] = []
    for status in ("first", "second"):
        monkeypatch.setattr(towerish, "transport", httpx.MockTransport(answer(status)))
        with TestClient(towerish.provider) as c:
            assert c.state is None
            assert c.config(CONFIG).status == 200
            state = c.state
            assert isinstance(state, towerish.State)
            states.append(state)
            assert c.action("job_status", {"towerish/job": 1}).body == status
        assert c.state is None
    assert seen == ["first", "second"]
    assert states[0] is not states[1]
    assert all(s.http.is_closed and s.ahttp.is_closed for s in states)


def test_stop_leaves_the_lifespan(tower: FakeTower) -> None:
    with TestClient(towerish.provider) as c:
        assert c.config(CONFIG).status == 200
        state = c.state
        assert isinstance(state, towerish.State)
        assert c.stop().status == 200
        assert c.state is None and state.http.is_closed and state.ahttp.is_closed


# -- Go's error shapes over the wire -------------------------------------------------------------

def test_make_error_shape_from_a_sync_handler(client: TestClient, tower: FakeTower) -> None:
    tower.fail_with = 500
    reply = client.action("launch", {"towerish/template": 12}, model=MACHINE, plugin="tower1")
    assert reply.status == 409
    # utils.MakeError(409, msg) after utils.SetErrorName(config["Name"])
    assert list(reply.body) == GO_FIELDS
    assert reply.body == {"Model": "plugin", "Key": "tower1", "Type": "rpc",
                          "Messages": ["Command failed launch: 500 tower is down"], "Code": 409}


def test_make_error_shape_from_an_async_handler(client: TestClient) -> None:
    reply = client.action("job_status", {"towerish/job": 99})
    assert reply.status == 404
    assert list(reply.body) == GO_FIELDS
    assert reply.body == {"Model": "plugin", "Key": "tower1", "Type": "rpc",
                          "Messages": ["Unknown job 99"], "Code": 404}


def test_convert_error_shape_of_a_failed_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """utils.ConvertError(400, err) of an error that is not a models.Error:
    MakeError(400, "Err: " + err.Error())."""
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    monkeypatch.setattr(towerish, "transport", httpx.MockTransport(refuse))
    with TestClient(towerish.provider) as c:
        assert c.config(CONFIG).status == 200
        for command, params in (("launch", {"towerish/template": 12}),
                                ("job_status", {"towerish/job": 7})):
            reply = c.action(command, params, model=MACHINE if command == "launch" else None)
            assert reply.status == 400
            assert list(reply.body) == GO_FIELDS
            assert reply.body == {"Model": "plugin", "Key": "tower1", "Type": "rpc",
                                  "Messages": ["Err: connection refused"], "Code": 400}


def test_config_error_shape_nested_as_go_config_handler_does(tower: FakeTower) -> None:
    """tower's Config: &models.Error{Type: "plugin", Model: "plugins", Key: name} with
    Errorf per problem and Code 400; configHandler answers a models.Error whose one
    message is json.Marshal of it."""
    with TestClient(towerish.provider) as c:
        reply = c.config({"Name": "tower1"})
    assert reply.status == 400
    assert list(reply.body) == GO_FIELDS
    assert reply.body["Model"] == reply.body["Key"] == reply.body["Type"] == ""
    assert reply.body["Code"] == 400
    (inner,) = reply.body["Messages"]
    assert inner == ('{"Model":"plugins","Key":"tower1","Type":"plugin","Messages":'
                     '["Plugin tower1 is missing towerish/url",'
                     '"Plugin tower1 is missing towerish/token"],"Code":400}')
    assert not tower.requests

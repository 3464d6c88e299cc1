"""What DRP's Go client (github.com/digitalrebar/provision/v4 ``api/``, ``cli/``) relies on.

Each test names the Go function or the recorded drpcli output it follows.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import httpx

from drp_plugin.standin import StandIn


def _media_type(resp: httpx.Response) -> str:
    return resp.headers.get("Content-Type", "").split(";")[0].strip()


async def test_every_2xx_reply_is_json(client: httpx.AsyncClient, machine: dict[str, Any]
                                       ) -> None:
    """api/client.go ``R.Do``: a 2xx reply other than HEAD/304 whose media type is not
    application/json is "Cannot handle content-type" (``drpcli events post`` and
    ``drpcli files destroy`` failed on a bare 204)."""
    replies = [
        await client.post("/events", json={"Type": "t", "Action": "a", "Key": "k"}),
        await client.post("/files/x/y", content=b"data"),
        await client.delete("/files/x/y"),
        await client.delete("/files/x"),
        await client.get(f"/machines/{machine['Uuid']}/pubkey"),
        await client.get("/meta/machines/Name:m1"),
        await client.delete(f"/machines/{machine['Uuid']}"),
    ]
    for resp in replies:
        assert resp.is_success, resp.text
        assert _media_type(resp) == "application/json", resp.request.url
        resp.json()


async def test_list_count_headers(client: httpx.AsyncClient) -> None:
    """cli/commandHelper.go ``count`` sends HEAD with the filters and reads
    ``X-Drp-List-Filter-Count`` (it panics without it); drppy's
    ``custom_overrides._list_stats_wrapper`` reads all three headers."""
    for i in range(5):
        await client.post("/machines", json={"Name": f"c{i}", "Address": f"10.0.0.{i}"})
    head = await client.head("/machines", params={"Address": "Gte(10.0.0.2)", "limit": "2"})
    assert head.status_code == 200
    assert head.headers["X-DRP-LIST-FILTER-COUNT"] == "3"   # matched the filter
    assert head.headers["X-DRP-LIST-COUNT"] == "2"          # returned after paging
    assert head.headers["X-DRP-LIST-TOTAL-COUNT"] == "5"    # before any filter
    listed = await client.get("/machines", params={"Name": "c1"})
    assert [m["Name"] for m in listed.json()] == ["c1"]
    assert listed.headers["X-DRP-LIST-FILTER-COUNT"] == "1"
    assert listed.headers["X-DRP-LIST-TOTAL-COUNT"] == "5"


async def test_object_etag_and_long_poll(client: httpx.AsyncClient, machine: dict[str, Any]
                                         ) -> None:
    """cli/commandHelper.go ``show``/``exists`` ``--wait``: the ETag comes from a HEAD
    (``R.GetETag``), then ``R.Wait`` sends ``If-None-Match`` + ``Prefer: wait=<dur>``;
    a 304 means "Timeout: no change", a 200 carries the changed object."""
    path = f"/machines/{machine['Uuid']}"
    head = await client.head(path)
    etag = head.headers["ETag"]
    assert etag and (await client.get(path)).headers["ETag"] == etag
    timed_out = await client.get(path, headers={"If-None-Match": etag, "Prefer": "wait=0.2s"})
    assert timed_out.status_code == 304

    async def change() -> None:
        await asyncio.sleep(0.2)
        await client.patch(path, json=[{"op": "replace", "path": "/Description",
                                        "value": "changed"}])

    changer = asyncio.create_task(change())
    waited = await client.get(path, headers={"If-None-Match": etag, "Prefer": "wait=60s"},
                              timeout=90)
    await changer
    assert waited.status_code == 200 and waited.json()["Description"] == "changed"
    assert waited.headers["ETag"] != etag
    # an ETag that is already stale answers at once
    start = time.monotonic()
    stale = await client.get(path, headers={"If-None-Match": etag, "Prefer": "wait=10m"})
    assert stale.status_code == 200
    assert time.monotonic() - start < 60  # bound only: never waits the full 10 minutes
    bad = await client.get(path, headers={"If-None-Match": etag, "Prefer": "wait=soon"})
    assert bad.status_code == 400


async def test_file_etag_and_checksum(client: httpx.AsyncClient) -> None:
    """api/client.go ``GetBlob`` sends ``If-None-Match: "SHA256:<sum>"`` and treats 304
    as up to date; ``GetBlobSum`` reads ``X-DRP-SHA256SUM`` (or the ETag); ``PostBlob``
    decodes ``models.BlobInfo``, whose fields have no JSON tags (recorded:
    cli/test-data/output/TestFilesCli/files.upload.common.go.as.greg)."""
    data = b"blob contents\n" * 100
    digest = hashlib.sha256(data).hexdigest()
    up = await client.post("/files/greg", content=data,
                           headers={"Content-Type": "application/octet-stream"})
    assert up.status_code == 201 and up.json() == {"Path": "/greg", "Size": len(data)}
    head = await client.head("/files/greg")
    assert head.headers["X-DRP-SHA256SUM"] == digest
    assert head.headers["ETag"] == f'"SHA256:{digest}"'
    same = await client.get("/files/greg", headers={"If-None-Match": f'"SHA256:{digest}"'})
    assert same.status_code == 304 and same.content == b""
    other = await client.get("/files/greg", headers={"If-None-Match": '"SHA256:00"'})
    assert other.status_code == 200 and other.content == data


async def test_file_errors_as_recorded(client: httpx.AsyncClient) -> None:
    """Recorded: TestFilesCli/files.destroy.fred ("DELETE: files/fred: Unable to delete")
    and files.upload.files.go.as.greg/greg ("Cannot create directory /greg")."""
    gone = await client.delete("/files/fred")
    assert gone.status_code == 404
    assert gone.json()["Messages"] == ["Unable to delete"]
    await client.post("/files/greg", content=b"x")
    blocked = await client.post("/files/greg/greg", content=b"x")
    assert blocked.status_code == 409
    assert blocked.json()["Messages"] == ["Cannot create directory /greg"]


async def test_provider_upload_reply_and_long_name(drp: StandIn, client: httpx.AsyncClient
                                                   ) -> None:
    """Recorded: TestPluginProviderCli/plugin_providers.upload.incrementer.as.incrementer
    answers ``models.PluginProviderUploadInfo`` ``{"path": ..., "size": ...}``.  A
    300-character name is a 4xx ``models.Error`` (issue 10 item 11), not a 500."""
    long_name = "p" * 300
    resp = await client.post(f"/plugin_providers/{long_name}", content=b"#!/bin/sh\n")
    assert resp.status_code == 422
    body = resp.json()
    assert body["Code"] == 422 and body["Model"] == "plugin_providers"
    assert body["Messages"] == [f"Invalid Name `{long_name}`"]
    assert not (drp.root / "uploads").exists() or not any((drp.root / "uploads").iterdir())

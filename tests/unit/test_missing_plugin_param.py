"""What a test sees when a Plugin cannot start for want of a required plugin param
(docs/howto/testing.md, "When the Plugin does not start").

DRP keeps the Plugin and lists why it did not start in its ``PluginErrors`` (Go
``models.Plugin``: "Error unrelated to the object validity, but the execution of the
plugin"); the provider is never started, so its config handler does not run.  The
``drp_provider`` fixture turns a Plugin that did not start into ``PluginError`` 409,
``Type: START`` (the fixture's own error, not an answer of DRP), whose messages are the
``PluginErrors``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drp_plugin import PluginError
from drp_plugin.testing.fixtures import StandInClient

PROVIDER = textwrap.dedent('''
    from drp_plugin import Provider

    provider = Provider("needy", version="v1.0.0", required_params=["needy/token"])

    @provider.config
    def config(ctx, params):
        ctx.log.info("config ran")

    @provider.action("ping")
    def ping(ctx, action):
        return "pong"

    if __name__ == "__main__":
        provider.main()
''')


@pytest.mark.slow
def test_a_missing_required_plugin_param_is_a_start_error(
        tmp_path: Path, drp_provider: Callable[..., Any], drp_client: StandInClient) -> None:
    source = tmp_path / "needy.py"
    source.write_text(PROVIDER)
    with pytest.raises(PluginError) as caught:
        drp_provider(str(source))
    err = caught.value
    assert (err.code, err.type, err.model, err.key) == (409, "START", "plugins", "needy")
    assert err.messages == ["Missing required parameter needy/token"]
    # what DRP shows: the Plugin exists, with the reason it did not start
    plugin = drp_client.get("plugins", "needy")
    assert plugin["PluginErrors"] == ["Missing required parameter needy/token"]
    # given the param, the same Plugin starts (DRP restarts a Plugin whose Params change)
    handle = drp_provider(str(source), params={"needy/token": "s3cret"})
    assert handle.action("ping") == "pong"
    assert drp_client.get("plugins", "needy")["PluginErrors"] == []
    # the provider was configured once: the refused Plugin never reached its config
    handle.wait_log("config ran")
    assert sum("config ran" in m for m in handle.log_messages) == 1

"""listen's start-up: the open-file soft limit raised to the hard one, and the kernel's
descriptor table grown once, before any thread starts (issue 21)."""

from __future__ import annotations

import json
import subprocess
import sys

CHECK = r"""
import json, os, resource
from drp_plugin.protocol.runtime import raise_open_files_limit, reserve_descriptors
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 8192))
def fdsize():
    with open("/proc/self/status") as f:
        return int(next(l for l in f if l.startswith("FDSize:")).split()[1])
before_open = sorted(os.listdir("/proc/self/fd"))
raise_open_files_limit()
soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
small = fdsize()
reserve_descriptors(6000)
after_open = sorted(os.listdir("/proc/self/fd"))
print(json.dumps({"soft": soft, "small": small, "grown": fdsize(),
                  "same_fds": len(before_open) == len(after_open)}))
"""


def test_the_soft_limit_is_raised_and_the_table_grown_without_a_leak() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          timeout=60, check=True)
    result = json.loads(done.stdout)
    assert result["soft"] == 8192          # raised to the hard limit, as Go does
    assert result["small"] < 6000 <= result["grown"]
    assert result["same_fds"]              # the descriptor used to grow it is closed

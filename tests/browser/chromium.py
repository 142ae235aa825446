"""Debian's Chromium for the browser tests: /usr/bin/chromium, apt-installed when missing.

Playwright's own browser download cannot reach its CDN from here (nor from CI), so the
tests drive the distribution's build through ``executable_path``. A failed install fails
the run with apt's output: the browser tests are never skipped. ``.ci/run`` calls this
module (``python -m tests.browser.chromium``) before its parallel steps, so that this
apt-get never holds the dpkg lock while deploy-check installs podman.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# fonts-liberation: the metric-compatible Arial/Times/Courier the admin's font stack falls
# back to; without recommends, screenshots would otherwise lack proper fonts.
APT_PACKAGES = ["chromium", "fonts-liberation"]
# Headless and quiet: no GPU, no sandbox (the tests run as root), and none of the
# background traffic (updates, sync, field trials) that would try to reach the network.
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
# Another apt-get (deploy-check's podman install) may hold the dpkg lock: wait, not fail.
APT_LOCK_WAIT = ["-o", "DPkg::Lock::Timeout=600"]


def _apt(*argv: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *APT_LOCK_WAIT, *argv], capture_output=True, text=True, check=False, env=environment
    )


def ensure_chromium() -> Path:
    """The Chromium binary, installed with apt-get if absent; RuntimeError when that fails."""
    if CHROMIUM.exists():
        return CHROMIUM
    if shutil.which("apt-get") is None:
        raise RuntimeError(f"{CHROMIUM} is missing and there is no apt-get to install Debian's chromium")
    install = ("install", "--yes", "--quiet", "--no-install-recommends", *APT_PACKAGES)
    result = _apt(*install)
    if result.returncode != 0:  # stale or missing package lists: refresh once
        _apt("update", "--quiet")
        result = _apt(*install)
    if result.returncode != 0 or not CHROMIUM.exists():
        raise RuntimeError(f"cannot install chromium with apt-get (root needed):\n{result.stderr.strip()[-3000:]}")
    return CHROMIUM


if __name__ == "__main__":
    try:
        print(f"chromium: {ensure_chromium()}")
    except RuntimeError as error:
        sys.exit(str(error))

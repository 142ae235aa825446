"""Podman as the container engine of the image test: installed from apt when missing,
configured under a private directory, with a stand-in for the base image.

No Docker engine runs here and no registry is reachable, so the image's base,
``python:3.11-slim-bookworm``, is built with debootstrap from Debian's mirror (Debian's
Python 3.11 in /usr, where the official image has its own build in /usr/local) and
tagged with the official name; builds never pull. runc, not crun: crun fails here on
setrlimit with the machine's hybrid cgroups. Anything missing fails loudly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

APT_PACKAGES = [
    "podman", "buildah", "debootstrap", "runc", "fuse-overlayfs", "uidmap", "containernetworking-plugins",
    "golang-github-containers-common", "slirp4netns",
]  # fmt: skip
BASE_IMAGE = "docker.io/library/python:3.11-slim-bookworm"
BASE_PACKAGES = "python3,python3-venv,python-is-python3,ca-certificates"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

CONTAINERS_CONF = """\
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
"""


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]


def ensure_installed() -> None:
    """apt-get install what podman needs, refreshing the package lists once if that fails."""
    if all(shutil.which(tool) for tool in ("podman", "debootstrap", "runc")):
        return
    install = ["apt-get", "install", "--yes", "--quiet", "--no-install-recommends", *APT_PACKAGES]
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = _run(install, env=environment)
    if result.returncode != 0:
        _run(["apt-get", "update", "--quiet"], env=environment)
        result = _run(install, env=environment)
    if result.returncode != 0:
        raise RuntimeError(f"cannot install podman with apt-get: {result.stderr.strip()[-2000:]}")


def debian_mirror() -> str:
    """The machine's own Debian mirror (its apt sources), else deb.debian.org."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    return "http://deb.debian.org/debian"


class Podman:
    """``podman`` with its configuration and storage under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "containers.conf").write_text(CONTAINERS_CONF)
        (root / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\nrunroot = "{root}/run"\ngraphroot = "{root}/storage"\n'
        )
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(root / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(root / "storage.conf"),
        }

    def __call__(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = _run(["podman", *args], env=self.env, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args[:3])} ... exited {result.returncode}: {result.stderr[-3000:]}")
        return result

    def popen(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(["podman", *args], env=self.env, stdout=log.open("ab"), stderr=subprocess.STDOUT)

    def image_exists(self, name: str) -> bool:
        return self("image", "exists", name, check=False).returncode == 0

    def ensure_base_image(self) -> float:
        """Build the stand-in base once per podman root; returns the seconds it took."""
        if self.image_exists(BASE_IMAGE):
            return 0.0
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=self.root) as scratch:
            rootfs = Path(scratch) / "rootfs"
            result = _run(
                ["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", str(rootfs),
                 debian_mirror()],
                timeout=900,
            )  # fmt: skip
            if result.returncode != 0:
                raise RuntimeError(f"debootstrap failed: {result.stdout[-2000:]} {result.stderr[-2000:]}")
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            imported = subprocess.run(
                ["podman", "import", "-", BASE_IMAGE], stdin=tar.stdout, env=self.env, capture_output=True, check=False
            )
            tar.wait()
            if imported.returncode != 0:
                raise RuntimeError(f"podman import failed: {imported.stderr.decode()[-2000:]}")
        return time.monotonic() - started

    def build(self, *, tag: str, context: Path) -> float:
        """Build the project's Dockerfile as it stands; returns the seconds it took."""
        started = time.monotonic()
        # The host's CA bundle is mounted for the build's downloads only, never copied in.
        ca = ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"] if HOST_CA_BUNDLE.exists() else []
        self("build", "--pull=never", "--network", "host", *ca, "--tag", tag, str(context), timeout=1200)
        self("image", "prune", "--force")  # the previous build's layers, untagged by this one
        return time.monotonic() - started

"""The image's allow-list (.dockerignore) carries every package the project runs: a new
app left out built an image that failed at collectstatic."""

from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_project_app_is_in_the_image():
    allowed = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    project_apps = {app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()}
    assert project_apps >= {"accounts", "events", "subscriptions", "delivery", "notifier"}
    assert {f"!{app}/" for app in project_apps | {"config"}} <= allowed

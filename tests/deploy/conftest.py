import pytest

from tests.deploy.chart import CI_FILES, load_values, render_objects


@pytest.fixture(scope="module")
def renders() -> dict[str, list[dict]]:
    """The objects of each ci values file, rendered once for the module."""
    return {name: render_objects(load_values(path)) for name, path in CI_FILES.items()}

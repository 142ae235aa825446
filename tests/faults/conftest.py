from collections.abc import Iterator

import pytest

from tests.faults.rig import Rig

FIGURES: list[tuple[str, str]] = []


@pytest.fixture
def rig(request, moto_server, transactional_db) -> Iterator[Rig]:
    rig = Rig(moto_server, name=request.node.name)
    try:
        yield rig.start()
    finally:
        rig.stop()


def record(scenario: str, line: str) -> None:
    FIGURES.append((scenario, line))
    print(f"\n{scenario}: {line}")


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES:
        terminalreporter.section("fault suite figures")
        for scenario, line in FIGURES:
            terminalreporter.write_line(f"{scenario}: {line}")

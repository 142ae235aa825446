from collections.abc import Iterator

import pytest

from tests.faults.rig import Rig


@pytest.fixture
def rig(request, moto_server, transactional_db) -> Iterator[Rig]:
    rig = Rig(moto_server, name=request.node.name)
    try:
        yield rig.start()
    finally:
        rig.stop()

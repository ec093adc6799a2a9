import asyncio

import pytest

from app.errors import Overloaded
from app.gate import InferenceGate


def test_gate_admits_up_to_slots_plus_queue_then_refuses():
    async def scenario():
        gate = InferenceGate(max_concurrent=1, max_queue=1, retry_after_s=3)
        release = asyncio.Event()
        order: list[str] = []

        async def hold(name: str):
            with gate.admission():
                async with gate.slot():
                    order.append(name)
                    await release.wait()

        first = asyncio.create_task(hold("first"))
        await asyncio.sleep(0)
        second = asyncio.create_task(hold("second"))  # queued
        await asyncio.sleep(0)
        assert gate.running == 1 and gate.waiting == 1 and gate.admitted == 2
        with pytest.raises(Overloaded) as refused:
            with gate.admission():
                pass
        assert refused.value.headers["Retry-After"] == "3" and refused.value.status == 503
        assert gate.admitted == 2  # a refusal takes no place
        release.set()
        await asyncio.gather(first, second)
        assert order == ["first", "second"] and gate.running == 0 and gate.waiting == 0 and gate.admitted == 0
        with gate.admission():  # room again
            assert gate.waiting == 1

    asyncio.run(scenario())

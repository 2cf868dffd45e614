"""A third-party fuzzer over the API's own OpenAPI document, against a real `chronicle up`:
no 5xx, no answer that contradicts the schema, every check passing, and every read model
still running after it. `make fuzz` runs the same, longer and unseeded.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Chronicle
from tests.fuzz.runner import fuzz, fuzz_key

SEED = 20261201
MAX_EXAMPLES = 40  # per operation; `make fuzz` runs 500, unseeded


@pytest.mark.timeout(600)
def test_the_fuzzer_finds_nothing_over_every_operation(chronicle: Chronicle) -> None:
    chronicle.start()
    run = fuzz(chronicle.url, fuzz_key(chronicle), max_examples=MAX_EXAMPLES, seed=SEED)
    print(run.summary)
    assert run.returncode == 0, run.summary
    assert run.operations >= 37 and run.generated >= 1000 and run.passed == run.generated
    ready = chronicle.client().get("/readyz")
    assert ready.status_code == 200, ready.text  # every projection running, nothing parked
    logged = chronicle.output.read_text()
    assert "Traceback" not in logged and '"exception":' not in logged  # console or JSON

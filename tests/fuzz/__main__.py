"""`make fuzz`: a longer, unseeded fuzz run against a fresh `chronicle up`.

python -m tests.fuzz [--max-examples N] [--seed S]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

from tests.e2e.conftest import Chronicle
from tests.fuzz.runner import fuzz, fuzz_key


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--max-examples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=None)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chronicle-fuzz-") as directory:
        chronicle = Chronicle(Path(directory) / "data").start()
        try:
            run = fuzz(
                chronicle.url,
                fuzz_key(chronicle),
                max_examples=options.max_examples,
                seed=options.seed,
            )
            print(run.output)
            ready = chronicle.client().get("/readyz")
            print(f"/readyz after the run: {ready.status_code} {ready.text}")
            return run.returncode or (0 if ready.status_code == 200 else 1)
        finally:
            chronicle.stop(signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())

"""The SDK's tests run against the real app on real servers: the integration fixtures."""

from tests.integration.conftest import (  # noqa: F401  (fixtures, found by name)
    api_url,
    container,
    issue_key,
    projecting,
    relaying,
    scheduling,
)

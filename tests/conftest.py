"""Test configuration shared by unit and integration tests.

Integration fixtures live in one module per real server under
``tests/integration/fixtures`` and are registered here as plugins.
"""

pytest_plugins = [
    "tests.integration.fixtures.servers",
    "tests.integration.fixtures.mongo",
    "tests.integration.fixtures.kafka",
    "tests.integration.fixtures.platform",
]

"""The shared fixtures and helpers live in ``tests/support.py``, registered here as a plugin.
Test modules import helpers from ``tests.support``, never from here."""

import pytest

pytest.register_assert_rewrite("tests.support")
pytest_plugins = ["tests.support"]

# Transitional: branches written before the move still import these names from here.
from tests.support import (  # noqa: E402,F401
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    PROJECT,
    SandboxFactory,
    Tool,
    count,
    login,
    rows,
    snapshot,
    tool_env,
)

"""The window's checks in the fault scenarios run on the GUI tests' qasync loop."""

from tests.gui.conftest import (  # noqa: F401  (hooks and fixtures are found by name)
    collect_in_gui_thread,
    pytest_asyncio_loop_factories,
)

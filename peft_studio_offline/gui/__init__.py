"""The desktop window: PySide6 widgets over the asyncio core, on a qasync event loop.

``MainWindow(queue_manager, network_monitor, sync_engine)`` builds the window over core
objects the caller made; ``peft_studio_offline.gui.app.main`` is the application.
"""

from peft_studio_offline.gui.main_window import MainWindow

__all__ = ["MainWindow"]

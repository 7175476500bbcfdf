"""The desktop window: PySide6 widgets over the asyncio core, on a qasync event loop."""

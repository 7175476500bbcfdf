"""The asyncio core: no Qt, no HTTP server. Everything the window, the API and the CLI share."""

"""The local HTTP API over the core (FastAPI, served by uvicorn on 127.0.0.1)."""

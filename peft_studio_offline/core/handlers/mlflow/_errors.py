"""What can go wrong talking to an MLflow tracking server, sorted by what to do about it."""

from __future__ import annotations

from typing import Any

from peft_studio_offline.core.errors import PeftStudioOfflineError


class MlflowError(PeftStudioOfflineError):
    """A request to the MLflow tracking server did not succeed.

    ``transient`` says whether the same request may succeed later (server down, overloaded,
    timed out); ``error_code`` and ``server_message`` are MLflow's own words, kept for the
    operation's attempt history.
    """

    transient = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        server_message: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_code = error_code
        self.server_message = server_message
        self.retry_after = retry_after
        self.method = method
        self.endpoint = endpoint

    def details(self) -> dict[str, Any]:
        """The facts worth keeping in the attempt history."""
        info: dict[str, Any] = {}
        for name in ("status_code", "error_code", "server_message", "method", "endpoint"):
            value = getattr(self, name)
            if value is not None:
                info[name] = value
        return info


class MlflowUnreachableError(MlflowError):
    """No answer: connection refused or reset, DNS failure, timeout, or a lost response.

    ``reached`` is False when no connection was made at all, so the request certainly
    had no effect.
    """

    transient = True

    def __init__(self, message: str, *, reached: bool = True, **facts: Any) -> None:
        super().__init__(message, **facts)
        self.reached = reached


class MlflowServerError(MlflowError):
    """The server answered 5xx or 429: try again later."""

    transient = True


class MlflowRequestError(MlflowError):
    """The server refused the request (4xx); sending it again unchanged will not help."""


class MlflowConfigurationError(MlflowError):
    """No usable tracking URI is configured."""

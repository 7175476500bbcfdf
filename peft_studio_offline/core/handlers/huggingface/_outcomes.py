"""What an exception from a push means for the operation: done later, or never.

Permanent, with the Hub's own sentence: a refused token (401), no right to write (403), a
missing repository or branch (404), a gated or disabled repository, a bad request (400,
422). Retried: 429 (after its ``Retry-After``, without using an attempt, as the commit
budget does), 408, 409, 412 (the branch moved), 5xx and a connection that broke.
"""

from __future__ import annotations

from peft_studio_offline.core.handlers.base import Outcome, OutcomeKind
from peft_studio_offline.core.handlers.httputil import parse_retry_after, plain_text

_RETRYABLE = frozenset({408, 409, 412, 423, 425})
_MESSAGE_LIMIT = 500


def outcome_for_error(exc: BaseException, repo_id: str) -> Outcome | None:
    """The outcome for a library error, or None when ``exc`` is not one."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    cause = exc.__cause__ if isinstance(exc, RuntimeError) else None
    if isinstance(cause, HfHubHTTPError | httpx2.HTTPError):
        exc = cause  # an LFS upload's error, wrapped by the library
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        said = _sentence(exc.server_message or "") or exc.response.reason_phrase
        message = f"The Hugging Face Hub answered {status} for {repo_id}: {said}"
        details = {"status": status, "repo_id": repo_id}
        if status == 429:
            wait = parse_retry_after(exc.response.headers.get("Retry-After"))
            return Outcome(
                OutcomeKind.RETRY,
                f"{message} (rate limited; tried again later).",
                retry_after=wait,
                details=details,
                attempted=False,
            )
        if status in _RETRYABLE or status >= 500:
            return Outcome.retry(f"{message}.", details=details)
        if (isinstance(exc, RepositoryNotFoundError) and status != 401) or status == 404:
            message += " (the repository or branch does not exist, or the token cannot see it)"
        return Outcome.failed(f"{message}.", details=details)
    if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout):
        return Outcome.unreachable(f"The Hugging Face Hub cannot be reached ({exc}).")
    if isinstance(exc, httpx2.HTTPError):
        return Outcome.retry(f"The connection to the Hugging Face Hub broke ({exc}).")
    return None


def _sentence(text: str) -> str:
    text = " ".join(plain_text(text).split()).rstrip(".")
    return text[:_MESSAGE_LIMIT] + "…" if len(text) > _MESSAGE_LIMIT else text

"""One error hierarchy; each error carries its HTTP status and a stable machine-readable code.

Every error response has the same JSON body: {"error": code, "detail": human text}, built by
`app.error_handlers` (the HTTP side); the command line prints `detail`. Pure Python: no FastAPI here.
"""

from __future__ import annotations


class ApiError(Exception):
    status: int = 400
    code: str = "bad_request"
    headers: dict[str, str] = {}

    def __init__(self, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        if headers:
            self.headers = headers

    def body(self) -> dict[str, str]:
        return {"error": self.code, "detail": self.detail}


class EmptyFile(ApiError):
    code = "empty_file"


class InvalidImage(ApiError):
    """Not an image we can decode, or a truncated/corrupt one."""

    status = 415
    code = "invalid_image"


class UnsupportedImage(ApiError):
    """A real image in a form the service does not handle (e.g. float pixels)."""

    status = 415
    code = "unsupported_image"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class ImageTooLarge(ApiError):
    status = 413
    code = "image_too_large"


class InvalidParameter(ApiError):
    status = 422
    code = "invalid_parameter"


class NotAcceptable(ApiError):
    status = 406
    code = "not_acceptable"


class UnknownModel(ApiError):
    status = 404
    code = "unknown_model"


class Overloaded(ApiError):
    status = 503
    code = "overloaded"


class NotReady(ApiError):
    status = 503
    code = "not_ready"


class ShuttingDown(ApiError):
    """The replica is draining (SIGTERM): new work goes elsewhere; work that cannot finish in time ends."""

    status = 503
    code = "shutting_down"


class DeadlineExceeded(ApiError):
    """The request ran past `request_timeout_s`; stopped at the next tile."""

    status = 503
    code = "deadline_exceeded"


class RequestTimeout(ApiError):
    """The upload did not arrive within `upload_timeout_s` (an idle or dribbling client)."""

    status = 408
    code = "request_timeout"


class ClientGone(ApiError):
    """The client disconnected; its work stopped. Nobody reads this answer: 499 is for logs and metrics
    (nginx's "client closed request")."""

    status = 499
    code = "client_closed_request"


class HttpError(ApiError):
    """An error Starlette raised itself (unknown route, wrong method, unreadable body), in our body."""

    CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail, headers)
        self.status = status
        self.code = self.CODES.get(status, "http_error")


class InternalError(ApiError):
    """A bug: logged with its traceback; the client gets this body and the request id, never the trace."""

    status = 500
    code = "internal_error"

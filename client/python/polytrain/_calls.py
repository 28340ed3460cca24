"""How a Client calls the coordinator: one call with its token and timeout (an upload's stream
cancelled by an interrupt), gRPC's errors as PolyTrainError (with a hint for a client speaking
the wrong protocol), and paged listings fetched page by page."""
import operator

import grpc

from polytrain import _messages
from polytrain.errors import ArgumentError, PolyTrainError

# The largest message the coordinator takes (api/limits.h: kMaxMessageBytes).
MAX_MESSAGE_BYTES = 16 << 20
# The most items one ListJobs or ListArtifacts page may hold.
MAX_PAGE_SIZE = 1000
# How gRPC's error begins when no connection to the coordinator came up (refused, a protocol
# mismatch, a name that does not resolve): any other UNAVAILABLE was a connection cut.
# (grpcio 1.51 says "DNS resolution failed" of a name that does not resolve, later ones "errors
# resolving".)
NEVER_CONNECTED = ("failed to connect to all addresses", "DNS resolution failed",
                   "errors resolving", "empty address list")


class Calls:
    """The Client's calls. The Client sets `timeout`, `_stub`, `_metadata` (its token),
    `_plaintext`, `_closed`, `_answered` (a call got the coordinator's answer) and
    `address`."""

    def _check_open(self):
        if self._closed:
            raise self._closed_error()

    @staticmethod
    def _closed_error():
        return PolyTrainError("FAILED_PRECONDITION",
                              "this Client is closed: make a new one to call the coordinator")

    def _call(self, method, request, timeout=None):
        self._check_open()
        if not hasattr(request, "__next__"):  # an upload's chunks are each bounded
            _messages.check_size(request, MAX_MESSAGE_BYTES)
        timeout = timeout or self.timeout
        try:
            if hasattr(request, "__next__"):
                # A stream of chunks goes on in gRPC's threads: an interrupt (Ctrl-C) here
                # cancels it, so the coordinator gives the caller's upload place back at once
                # rather than after its idle limit.
                call = method.future(request, timeout=timeout, metadata=self._metadata)
                try:
                    response = call.result()
                except BaseException:
                    call.cancel()
                    raise
            else:
                response = method(request, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise self._failed(error, timeout) from None
        except ValueError:  # grpc's "Channel closed!": closed by another thread meanwhile
            if self._closed:
                raise self._closed_error() from None
            raise
        self._answered = True
        return response

    def _change(self, method, request, done, check):
        """A call that changes something (a cancel, a delete). One cut after the coordinator got
        it may have been done: its error says so, and `check` how to tell, as polyctl's do.
        `done`: what it may have done ("cancelled job-...")."""
        try:
            return self._call(method, request)
        except PolyTrainError as error:
            if self._closed:
                raise
            if error.code in ("UNAVAILABLE", "CANCELLED") and not error.message.startswith(
                    "cannot reach"):
                raise PolyTrainError(error.code, (
                    f"{error.message}; it may have {done} before it went: {check} tells once "
                    f"it is back")) from None
            if error.code == "DEADLINE_EXCEEDED":  # sent or not: it cannot be told here
                raise PolyTrainError(error.code, (
                    f"{error.message}; it may have {done} meanwhile: {check} tells")) from None
            raise

    def _failed(self, error, timeout=None):
        """The PolyTrainError of a gRPC error; an answer other than an outage's means the
        coordinator was reached. `timeout`: the call's, in seconds."""
        if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
                                grpc.StatusCode.DEADLINE_EXCEEDED):
            self._answered = True
        if self._closed and error.code() == grpc.StatusCode.CANCELLED:  # close() cut it short
            return self._closed_error()
        return self._refusal(error.code(), error.details(), timeout)

    def _refusal(self, code, details, timeout=None):
        """The PolyTrainError of a failed call. An outage says what became of the coordinator,
        as polyctl says it: never reached (with why that may be for a client speaking the wrong
        protocol), lost after it answered (a restart), or slow to answer."""
        details = details or ""
        if code == grpc.StatusCode.UNAVAILABLE and not details.startswith(NEVER_CONNECTED):
            # A connection was up: the call was cut on it.
            details = (f"lost the connection to the coordinator at {self.address} (it stopped "
                       f"or restarted?): {details}")
        elif code == grpc.StatusCode.UNAVAILABLE:
            details = f"cannot reach the coordinator at {self.address}: {details}"
            # Only while nothing has answered: once one has, a closed socket is an outage (a
            # restart), not a client speaking the wrong protocol.
            if not self._answered and self._plaintext and "Socket closed" in details:
                details += (" (this client speaks plaintext: if the coordinator serves TLS, "
                            "give tls_ca)")
            elif not self._answered and not self._plaintext and (
                    "wrong version number" in details.lower() or
                    "wrong_version_number" in details.lower()):
                details += (" (this client speaks TLS: the coordinator there answers in "
                            "plaintext, which it serves only on loopback; leave tls_ca out to "
                            "reach it)")
            # OpenSSL's words, and BoringSSL's (pip's grpcio) in capitals.
            elif not self._plaintext and ("certificate verify failed" in details.lower() or
                                          "certificate_verify_failed" in details.lower()):
                details += (" (the coordinator's certificate is not signed by the CA in tls_ca: "
                            "give the CA that signed it)")
            elif not self._plaintext and ("is not in peer certificate" in details.lower() or
                                          "hostname verification" in details.lower()):
                details += (" (the coordinator's certificate does not name the host dialled: "
                            "give tls_server_name with a name it has)")
        elif code == grpc.StatusCode.CANCELLED:  # the client cancels no call of its own
            details = (f"the coordinator at {self.address} ended the call (it is shutting down "
                       f"or restarting): {details}")
        elif code == grpc.StatusCode.DEADLINE_EXCEEDED and details == "Deadline Exceeded":
            within = f" within {timeout:g} s" if timeout else " in time"
            details = f"the coordinator at {self.address} did not answer{within}: {details}"
        if code == grpc.StatusCode.INVALID_ARGUMENT:  # a ValueError, as the client's own checks
            return ArgumentError(code.name, details)
        return PolyTrainError(code.name, details)

    def _iter_pages(self, method, request, field, limit=None):
        """The items of a paged list call, fetched a page at a time as the caller goes: every
        page's, or the first `limit`."""
        limit = None if limit is None else operator.index(limit)  # a numpy int too
        request.page_size = min(limit or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
        count = 0
        while True:
            page = self._call(method, request)
            for item in getattr(page, field):
                if limit is not None and count >= limit:
                    return
                count += 1
                yield item
            if not page.next_page_token or (limit is not None and count >= limit):
                return
            request.page_token = page.next_page_token

    def _pages(self, method, request, field, limit=None):
        """The items of a paged list call as a list: every page's, or the first `limit`."""
        return list(self._iter_pages(method, request, field, limit))

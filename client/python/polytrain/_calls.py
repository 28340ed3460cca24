"""How a Client calls the coordinator: one call with its token and timeout (an upload's stream
cancelled by an interrupt), gRPC's errors as PolyTrainError (with a hint for a client speaking
the wrong protocol), and paged listings fetched page by page."""
import operator
import threading
import time

import grpc

from polytrain import _messages
from polytrain.errors import ArgumentError, PolyTrainError

# The largest message the coordinator takes (api/limits.h: kMaxMessageBytes).
MAX_MESSAGE_BYTES = 16 << 20
# The most items one ListJobs or ListArtifacts page may hold.
MAX_PAGE_SIZE = 1000


class Calls:
    """The Client's calls. The Client sets `timeout`, `_stub`, `_metadata` (its token),
    `_plaintext`, `_closed`, `_answered` (a call got the coordinator's answer, or a connection
    to it was up), `_channel` and `address`."""

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
        try:
            if hasattr(request, "__next__"):
                # A stream of chunks goes on in gRPC's threads: an interrupt (Ctrl-C) here
                # cancels it, so the coordinator gives the caller's upload place back at once
                # rather than after its idle limit.
                call = method.future(request, timeout=timeout or self.timeout,
                                     metadata=self._metadata)
                try:
                    response = call.result()
                except BaseException:
                    call.cancel()
                    raise
            else:
                response = method(request, timeout=timeout or self.timeout,
                                  metadata=self._metadata)
        except grpc.RpcError as error:
            raise self._failed(error) from None
        except ValueError:  # grpc's "Channel closed!": closed by another thread meanwhile
            if self._closed:
                raise self._closed_error() from None
            raise
        self._answered = True
        return response

    def _change(self, method, request, done, check):
        """A call that changes something (a cancel, a delete). One cut after the coordinator got
        it may have been done: its error says so, and `check` how to tell, as polyctl's do.
        `done`: what it may have done ("cancelled job-..."). The connection is brought up first,
        within the call's timeout, so that a cut call is told from a coordinator never reached."""
        self._check_open()
        start = time.monotonic()
        reached = self._connected(self.timeout)
        left = max(self.timeout - (time.monotonic() - start), 0.001)
        try:
            return self._call(method, request, timeout=left)
        except PolyTrainError as error:
            if self._closed or not reached:
                raise
            if error.code in ("UNAVAILABLE", "CANCELLED"):
                raise PolyTrainError("UNAVAILABLE", (
                    f"lost the connection to the coordinator at {self.address} (it stopped or "
                    f"restarted?): {error.message}; it may have {done} before it went: {check} "
                    f"tells once it is back")) from None
            if error.code == "DEADLINE_EXCEEDED":
                raise PolyTrainError(error.code, (
                    f"the coordinator at {self.address} did not answer in time "
                    f"({error.message}); it may have {done} meanwhile: {check} tells")) from None
            raise

    def _connected(self, timeout):
        """Brings the channel's connection up (TCP, TLS, HTTP/2) unless it is known to fail
        (refused, a TLS mismatch: the call then fails at once with gRPC's reason), within
        `timeout`: whether it is up."""
        settled = threading.Event()
        states = []

        def seen(state):
            states.append(state)
            if state not in (grpc.ChannelConnectivity.IDLE, grpc.ChannelConnectivity.CONNECTING):
                settled.set()

        self._channel.subscribe(seen, try_to_connect=True)
        try:
            settled.wait(timeout)
        finally:
            self._channel.unsubscribe(seen)
        if states and states[-1] == grpc.ChannelConnectivity.READY:
            self._answered = True  # a server speaking gRPC was there: no TLS hint after this
            return True
        return False

    def _failed(self, error):
        """The PolyTrainError of a gRPC error; an answer other than an outage's means the
        coordinator was reached."""
        if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
            self._answered = True
        if self._closed and error.code() == grpc.StatusCode.CANCELLED:  # close() cut it short
            return self._closed_error()
        return self._refusal(error.code(), error.details())

    def _refusal(self, code, details):
        """The PolyTrainError of a failed call. A plaintext client whose connection the server
        closed at once is told why that may be, as polyctl tells it."""
        details = details or ""
        # Only while nothing has answered: once one has, a closed socket is an outage (a
        # restart), not a client speaking the wrong protocol.
        if code == grpc.StatusCode.UNAVAILABLE and not self._answered:
            if self._plaintext and "Socket closed" in details:
                details += (" (this client speaks plaintext: if the coordinator serves TLS, "
                            "give tls_ca)")
            elif not self._plaintext and ("wrong version number" in details.lower() or
                                          "wrong_version_number" in details.lower()):
                details += (" (this client speaks TLS: the coordinator there answers in "
                            "plaintext, which it serves only on loopback; leave tls_ca out to "
                            "reach it)")
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

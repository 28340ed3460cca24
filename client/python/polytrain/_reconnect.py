"""What the client does while a coordinator it reached is away (a restart): a submit is sent
again with its request id, and a watch is opened again, resuming after what it passed on. Both
wait by one clock, Outage, as polyctl's Outage serves its resends and watches."""
import time
import warnings

import grpc

from polytrain.errors import PolyTrainError
from polytrain.states import FINAL_STATES
from polytrain.v1 import coordinator_pb2

# A watch that falls behind is resumed at once; this many in a row that pass on nothing new
# end it with the coordinator's RESOURCE_EXHAUSTED.
MAX_WATCHES_BEHIND_IN_A_ROW = 3
# How long a resumed watch waits for the coordinator to free the place of the one that fell
# behind (--max_watches_per_caller), whatever reconnect_seconds says.
SLOT_RELEASE_SECONDS = 10


class Outage:
    """How long the coordinator has been away, and the pause before the next try (0.2 s,
    doubling up to 2 s). answered() ends an outage."""

    def __init__(self):
        self.since = None
        self._backoff = 0.2

    def answered(self):
        self.since, self._backoff = None, 0.2

    def failed(self):
        """Marks a failed try; True for the first of an outage."""
        if self.since is not None:
            return False
        self.since = time.monotonic()
        return True

    def seconds(self):
        return 0.0 if self.since is None else time.monotonic() - self.since

    def pause(self):
        time.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, 2.0)


def call_again_while_away(client, method, request):
    """A submit (its request has a client_request_id): when the coordinator answered this client
    before (a ListJobs first, if nothing has) and goes away before answering it, it may have
    stored the request; the same request goes again until it is answered or
    client.reconnect_seconds pass, and a coordinator that stored it answers with what it stored.
    A coordinator never reached raises at once."""
    if not client._answered:
        try:
            client._call(client._stub.ListJobs, coordinator_pb2.ListJobsRequest(page_size=1))
        except PolyTrainError:
            if not client._answered:
                raise
    outage = Outage()
    while True:
        try:
            return client._call(method, request)
        except PolyTrainError as error:
            if client._closed or error.code not in ("UNAVAILABLE", "CANCELLED"):
                raise
            if outage.failed() and client.reconnect_seconds > 0:
                # submit() -> _submit() -> here: the warning names submit's caller.
                cut = not error.message.startswith("cannot reach")  # else it was never sent
                warnings.warn(
                    f"{error.message}; "
                    + (f"it may have stored the request before it went (request id "
                       f"{request.client_request_id}, stored at most once): " if cut else "")
                    + f"sending it again for up to {client.reconnect_seconds} s", stacklevel=4)
            if outage.seconds() >= client.reconnect_seconds:
                raise
            outage.pause()


def watch_events(client, request, reconnect_seconds, deadline=None):
    """Client.watch()'s events. (step, kind) of the points passed on: a resumed watch asks for
    the history after the newest of them (resume_after); they are still skipped if they come
    again (a coordinator that predates resume_after sends the whole history). `deadline`
    (time.monotonic()): TimeoutError once it passes (Client.wait's timeout)."""
    seen = set()
    newest = None
    last = None  # the job as last passed on
    outage = Outage()
    lagged = 0  # watches in a row that fell behind and passed on nothing new
    while True:
        client._check_open()
        if newest is not None:
            request.resume_after.step, request.resume_after.kind = newest
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise _timed_out(request.id)
        try:
            for event in client._stub.WatchJob(request, metadata=client._metadata,
                                               timeout=remaining):
                outage.answered()
                client._answered = True
                if event.HasField("point"):
                    key = (event.point.step, event.point.kind)
                    if key in seen:
                        continue
                    seen.add(key)
                    newest = key if newest is None else max(newest, key)
                elif event.HasField("job"):
                    if event.job == last:  # each watch opens with the job as it stands
                        continue
                    last = event.job
                lagged = 0
                yield event
            return
        except ValueError:  # grpc's "Cannot invoke RPC: Channel closed!"
            if client._closed:
                raise client._closed_error() from None
            raise
        except grpc.RpcError as error:
            if client._closed:  # closed by another thread: not an outage to wait out
                raise client._closed_error() from None
            code, details = error.code(), error.details() or ""
            if (code == grpc.StatusCode.DEADLINE_EXCEEDED and deadline is not None and
                    time.monotonic() >= deadline):
                raise _timed_out(request.id) from None
            # A consumer slower than the job's events for a while: the coordinator ended the
            # watch; a new one resumes after what was passed on. A watch that falls behind again
            # before passing anything on, 3 times, is the coordinator's answer.
            if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "this watch fell behind" in details:
                lagged += 1
                if last is not None and last.state in FINAL_STATES:
                    return  # its end was passed on: nothing is left to see
                if lagged <= MAX_WATCHES_BEHIND_IN_A_ROW:
                    continue
                raise client._refusal(code, details) from None
            # The stream that fell behind holds its place in the coordinator's
            # --max_watches_per_caller until the coordinator has finished it, which may come a
            # moment after its end reached us: waited for like an outage.
            slot_still_held = (lagged > 0 and code == grpc.StatusCode.RESOURCE_EXHAUSTED and
                               "WatchJob streams at once" in details)
            away = slot_still_held or code in (grpc.StatusCode.UNAVAILABLE,
                                               grpc.StatusCode.CANCELLED)
            first = outage.failed()
            budget = (max(reconnect_seconds, SLOT_RELEASE_SECONDS) if slot_still_held
                      else reconnect_seconds)
            if (not away or last is None or last.state in FINAL_STATES or
                    outage.seconds() >= budget):
                raise client._refusal(code, details) from None
            if first and not slot_still_held:  # as polyctl says it on stderr
                warnings.warn(f"the coordinator at {client.address} went away ({details}); "
                              f"watching {request.id} again for up to {budget:g} s",
                              stacklevel=2)
        outage.pause()


def _timed_out(job_id):
    return TimeoutError(f"job {job_id} did not end within wait()'s timeout; it goes on "
                        f"(cancel() stops it)")

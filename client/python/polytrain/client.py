"""The Client: one connection to a coordinator (polytrain.v1.Coordinator), with the same rules as
polyctl: TLS when given a CA (with a client certificate for mutual TLS, and a server name
override), plaintext only to a loopback address, a bearer token per call."""
import numbers
import os
import re
import secrets
import time
import warnings

from polytrain import _arguments, _messages, _reconnect
from polytrain._arguments import artifact_name  # noqa: F401 (the package exports it from here)
from polytrain._calls import MAX_MESSAGE_BYTES, MAX_PAGE_SIZE, Calls  # noqa: F401 (exported here)
from polytrain._channel import CHANNEL_OPTIONS, open_channel  # noqa: F401 (exported here)
from polytrain._artifact_calls import UPLOAD_TIMEOUT_SECONDS, ArtifactCalls  # noqa: F401
from polytrain._upload import files_for, stored_retry, upload_named_files
from polytrain.errors import ArgumentError, PolyTrainError
from polytrain.states import (FINAL_STATES, STATE_NAMES, JobState,  # noqa: F401
                              state_name, state_value, sweep_state_value)
from polytrain.v1 import coordinator_pb2, coordinator_pb2_grpc, job_pb2, job_record_pb2, loss_pb2

# GetMetricsRequest.max_points' range (api/limits.h: kMaxRequestedMetricPoints).
MAX_REQUESTED_METRIC_POINTS = 10_000_000
# The longest per-call timeout: gRPC's deadline overflows not far beyond (1e10 s fails every call).
MAX_TIMEOUT_SECONDS = 1e8
DEFAULT_ADDRESS = "127.0.0.1:50051"
# A token's length as the coordinator mints them (common/grpc_security.h kMinTokenLength).
MIN_TOKEN_LENGTH, MAX_TOKEN_LENGTH = 16, 4096
# The coordinator's bound on a sweep's seeds (api/limits.h kMaxSweepSeeds); from 1, as polyctl's
# --seeds (the proto's 0, which means 1, is not a number a caller means).
MAX_SWEEP_SEEDS = 100
# How long watch() and wait() wait for a coordinator that went away after the watch began.
DEFAULT_RECONNECT_SECONDS = 120


class Client(ArtifactCalls):
    """A coordinator at `address` ("host:port", "[::1]:port"; when left out,
    $POLYTRAIN_COORDINATOR, else 127.0.0.1:50051), reached as polyctl reaches it, its TLS
    arguments meaning what polyctl's flags of the same names mean:

    - `token` (else $POLYTRAIN_TOKEN) goes with every call as "authorization: Bearer <token>".
    - `tls_ca`: the CA (PEM) that signed the coordinator's certificate; it makes the channel TLS.
      Without it the channel is plaintext, and only to a loopback address.
    - `tls_cert` and `tls_key`: a client certificate and its private key (PEM), for mutual TLS;
      both or neither, and only with `tls_ca`.
    - `tls_server_name`: the name expected in the coordinator's certificate when it is not the
      address's host (e.g. dialing 10.0.0.5:50051 whose certificate says "coordinator"); only
      with `tls_ca`.

    Each PEM argument is a file's path or the PEM itself as bytes, checked to hold a certificate
    (or a private key). An argument the client refuses raises PolyTrainError naming it (a
    ValueError too); one of the wrong type, TypeError. `timeout` (seconds) bounds each call but
    watch() and wait(), and upload(), which gets at least 30 minutes."""

    def __init__(self, address=None, token=None, tls_ca=None, timeout=30.0, tls_cert=None,
                 tls_key=None, tls_server_name=None):
        self._channel = None
        if address is None:
            address = os.environ.get("POLYTRAIN_COORDINATOR") or DEFAULT_ADDRESS
        elif address == "":
            raise ArgumentError(f"address: empty (leave it out for $POLYTRAIN_COORDINATOR or "
                                f"{DEFAULT_ADDRESS})")
        self.address = _arguments.address(address)
        token_source = "token" if token is not None else "$POLYTRAIN_TOKEN"
        token = token if token is not None else os.environ.get("POLYTRAIN_TOKEN")
        if token is not None:  # surrounding whitespace (a file's newline) dropped, as polyctl does
            given = _arguments.text(token, token_source)
            token = given.strip(" \t\r\n")
            if given and not token:  # else sent as none, refused only by the coordinator
                raise ArgumentError(f"{token_source}: only whitespace, no token")
        if token is not None and not re.fullmatch(r"[!-~]*", token):
            raise ArgumentError(f"{token_source}: printable ASCII without spaces, as tokens are "
                                f"minted")
        if token and not MIN_TOKEN_LENGTH <= len(token) <= MAX_TOKEN_LENGTH:
            raise ArgumentError(f"{token_source}: a token has {MIN_TOKEN_LENGTH} to "
                                f"{MAX_TOKEN_LENGTH} characters, got {len(token)}")
        self._metadata = [("authorization", f"Bearer {token}")] if token else []
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
            raise TypeError(f"timeout: expected seconds (a number), got {type(timeout).__name__}")
        if not 0 < timeout <= MAX_TIMEOUT_SECONDS:
            raise ArgumentError(f"timeout: expected seconds > 0 (at most "
                                f"{MAX_TIMEOUT_SECONDS:.0f}), got {timeout!r}")
        self.timeout = float(timeout)
        self._channel = open_channel(self.address, tls_ca, tls_cert, tls_key, tls_server_name)
        self._stub = coordinator_pb2_grpc.CoordinatorStub(self._channel)
        self._plaintext = tls_ca is None
        self._closed = False
        self._answered = False  # a call got the coordinator's answer (of any status)
        self.reconnect_seconds = DEFAULT_RECONNECT_SECONDS  # for a submit sent again

    def close(self):
        """Closes the connection; a call after it raises PolyTrainError FAILED_PRECONDITION."""
        if self._channel is not None:
            self._closed = True
            self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- Jobs ---

    def submit(self, spec, request_id="", files=None, dry_run=False):
        """Submits one job. `spec`: a JobSpec, its text format, a dict, or a spec file's
        pathlib.Path (.txtpb, .json or .yaml, as polyctl reads; `files` is then its directory unless
        given, and files=False uploads nothing); or an earlier Job (client.get(id)), to run its spec
        again, as polyctl submit --from (a sweep's job leaves its "sweep" and "loss" labels behind,
        with a warning; change job.spec first to run a variant). With `files` (a directory), the
        model and dataset files it names by path that are files there are uploaded first and named
        by their sha256, once the coordinator has checked the spec (a refused spec uploads nothing);
        a path that is not a file there goes as it is, a path under the worker's --data_root, with a
        warning. Returns the Job. `dry_run`: only the check, nothing uploaded or stored; returns the
        job as it would be queued, without an id (a retry's: the stored job). `request_id` makes a
        retry of yours safe (one whose files were uploaded is known by their sha256, and sends none
        again); without it the client draws one, and a submit (sweep, search) the coordinator went
        away during after it was reached is sent again with it for up to `client.reconnect_seconds`
        (120), so that it is stored once."""
        if isinstance(spec, job_record_pb2.Job):
            spec = self._spec_of_job(spec)
        request = coordinator_pb2.SubmitJobRequest(
            spec=_messages.message(spec, job_pb2.JobSpec, "spec"),
            client_request_id=_arguments.text(request_id, "request_id"))
        files = files_for(spec, files)
        return self._submit(self._stub.SubmitJob, request, "spec", files, dry_run)

    def sweep(self, base, losses, seeds=1, request_id="", files=None, dry_run=False):
        """Submits base x losses x seeds as one sweep (all jobs or none). `losses`: LossSpecs,
        their text format or dicts. Returns the SubmitSweepResponse (sweep_id, jobs). `base`,
        `files` and `dry_run` as for submit (a dry run's jobs have no ids, and it has no
        sweep_id)."""
        request = coordinator_pb2.SubmitSweepRequest(
            base=_messages.message(base, job_pb2.JobSpec, "base"),
            seeds=_arguments.whole(seeds, "seeds", 1, MAX_SWEEP_SEEDS),
            client_request_id=_arguments.text(request_id, "request_id"),
            losses=_messages.messages(losses, loss_pb2.LossSpec, "losses"))
        files = files_for(base, files)
        return self._submit(self._stub.SubmitSweep, request, "base", files, dry_run)

    def search(self, base, search, losses=(), seeds=1, request_id="", files=None,
               dry_run=False):
        """Submits a search sweep: `search` is a LossSearch (or its text format, or a dict), e.g.
        {"strategy": "STRATEGY_SUCCESSIVE_HALVING", "loss": {"poly1": {}}, "ranges": [{"field":
        "poly1.epsilon", "min": -1, "max": 10}], "trials": 12, "min_resource": 1, "top_k": 2}.
        `losses`: the configurations of a successive halving without ranges. Returns the
        SubmitSweepResponse; follow it with get_sweep. `base`, `files` and `dry_run` as for
        sweep."""
        request = coordinator_pb2.SubmitSweepRequest(
            base=_messages.message(base, job_pb2.JobSpec, "base"),
            seeds=_arguments.whole(seeds, "seeds", 1, MAX_SWEEP_SEEDS),
            client_request_id=_arguments.text(request_id, "request_id"),
            search=_messages.message(search, coordinator_pb2.LossSearch, "search"),
            losses=_messages.messages(losses, loss_pb2.LossSpec, "losses"))
        if request.search.ByteSize() == 0:  # the coordinator would take it for a grid: sweep()'s
            raise ArgumentError("search: empty; give its strategy, ranges or trials (sweep() "
                                "runs a grid of given losses)")
        files = files_for(base, files)
        return self._submit(self._stub.SubmitSweep, request, "base", files, dry_run)

    def _submit(self, method, request, spec_field, files, dry_run):
        """A SubmitJob or SubmitSweep: checked by the coordinator first (validate_only) when
        files are to be uploaded or only the check is asked for (a retry of a call that uploaded
        them answered there, stored_retry), then sent for real, with a request id (the caller's,
        or a new random one) so that it can be sent again."""
        _arguments.boolean(dry_run, "dry_run")
        if files is not None:
            files = _arguments.directory(files, "files")
        if dry_run or files is not None:
            request.validate_only = True
            try:
                checked = self._call(method, request)
            except PolyTrainError as refused:
                if refused.code != "ALREADY_EXISTS" or files is None:
                    raise
                checked = stored_retry(self._call, method, request, spec_field, files, refused)
            request.validate_only = False
            if checked.sweep_id if method == self._stub.SubmitSweep else checked.id:
                return checked  # what the request id names: a submit would return it
            if dry_run:
                if files is not None:  # the same warnings as a real submit, nothing uploaded
                    upload_named_files(getattr(request, spec_field), files, self._upload,
                                       dry_run=True)
                return checked
            spec = getattr(request, spec_field)
            spec.CopyFrom(upload_named_files(spec, files, self._upload))
        if not request.client_request_id:
            request.client_request_id = "python-" + secrets.token_hex(8)
        return _reconnect.call_again_while_away(self, method, request)

    def get_sweep(self, sweep_id):
        """The Sweep: its request, state, rungs, trials, steps trained and ranking (best_loss)."""
        return self._call(self._stub.GetSweep, coordinator_pb2.GetSweepRequest(
            id=_arguments.text(sweep_id, "sweep_id")))

    def get(self, job_id):
        """The Job. Given a sweep id ("sweep-..."), the Sweep, as get_sweep() and polyctl get
        give it."""
        job_id = _arguments.text(job_id, "job_id")
        if job_id.startswith("sweep-"):
            return self.get_sweep(job_id)
        return self._call(self._stub.GetJob, coordinator_pb2.GetJobRequest(id=job_id))

    def jobs(self, states=(), labels=None, owner="", limit=None):
        """The jobs matching the filters, newest first, as a list of Job messages: all of them
        (fetched page by page before it returns), or with `limit` at most that many (only the
        pages they need).

        `states`: one state or several, each a name as polyctl takes it ("succeeded", "failed",
        ...: STATE_NAMES), a JobState name ("JOB_STATE_SUCCEEDED") or value
        (polytrain.JOB_STATE_SUCCEEDED); an unknown one is a PolyTrainError naming it. `labels`:
        {key: value}, every one must match. `owner`: whose jobs (an admin's filter; a client
        token lists only its own). E.g. jobs(states=["failed", "cancelled"], limit=10).
        iter_jobs() takes the same arguments and fetches lazily."""
        request = self._jobs_request(states, labels, owner, limit)
        return self._pages(self._stub.ListJobs, request, "jobs", limit)

    @staticmethod
    def _jobs_request(states, labels, owner, limit):
        """The ListJobsRequest of jobs() and iter_jobs(), its arguments checked."""
        _arguments.limit(limit)
        return coordinator_pb2.ListJobsRequest(
            states=_arguments.states(states, state_value),
            labels=_arguments.labels(labels, "labels"), owner=_arguments.text(owner, "owner"))

    def iter_jobs(self, states=(), labels=None, owner="", limit=None):
        """jobs(), lazily: an iterator that fetches the next page only when the caller gets that
        far, for listings too large to hold (a search's 100,000 trials)."""
        request = self._jobs_request(states, labels, owner, limit)
        return self._iter_pages(self._stub.ListJobs, request, "jobs", limit)

    def cancel(self, job_id):
        """Cancels a queued, running or paused job; returns the Job. Given a sweep id
        ("sweep-..."), cancels the sweep as cancel_sweep() does and returns the Sweep. A cancel
        or delete whose connection was cut after the coordinator got it is a PolyTrainError
        UNAVAILABLE (DEADLINE_EXCEEDED if it did not answer in time) saying it may have been
        done, and how to tell. A running job's cancel returns it still RUNNING, with
        cancel_requested set, until its worker has stopped it (wait() for its end)."""
        job_id = _arguments.text(job_id, "job_id")
        if job_id.startswith("sweep-"):
            return self.cancel_sweep(job_id)
        return self._change(self._stub.CancelJob, coordinator_pb2.CancelJobRequest(id=job_id),
                            f"cancelled {job_id}", f"get('{job_id}')")

    def delete(self, job_id):
        """Deletes an ended job for good: its record, metric history and stored checkpoints
        (refused, FAILED_PRECONDITION, for a job queued, running or paused, and for a trial of a
        search still running). Returns the DeleteJobResponse: `deleted` (the job as it was),
        `metric_points`, `checkpoint_files`. Given a sweep id, delete_sweep()."""
        job_id = _arguments.text(job_id, "job_id")
        if job_id.startswith("sweep-"):
            return self.delete_sweep(job_id)
        return self._change(self._stub.DeleteJob, coordinator_pb2.DeleteJobRequest(id=job_id),
                            f"deleted {job_id}", f"get('{job_id}')")

    def sweeps(self, states=(), owner="", limit=None):
        """Sweeps and searches, newest first, as a list of Sweep records (id, owner, create_time,
        request, state; get_sweep() for one's trials and ranking). `states`: "running", "done",
        "cancelled" (SWEEP_STATE_NAMES), one or several; `owner` and `limit` as jobs() takes
        them."""
        _arguments.limit(limit)
        request = coordinator_pb2.ListSweepsRequest(
            states=_arguments.states(states, sweep_state_value),
            owner=_arguments.text(owner, "owner"))
        return self._pages(self._stub.ListSweeps, request, "sweeps", limit)

    def delete_sweep(self, sweep_id):
        """Deletes a sweep that is done or cancelled, with all its jobs (refused,
        FAILED_PRECONDITION, while it runs or one of its jobs has not ended: cancel_sweep(), then
        wait for them). Returns the DeleteSweepResponse: `deleted` (the record as it was), `jobs`,
        `metric_points`, `checkpoint_files`."""
        sweep_id = _arguments.text(sweep_id, "sweep_id")
        return self._change(self._stub.DeleteSweep, coordinator_pb2.DeleteSweepRequest(
            id=sweep_id), f"deleted {sweep_id}", f"get_sweep('{sweep_id}')")

    def cancel_sweep(self, sweep_id):
        """Cancels a sweep: each of its jobs that has not ended, and a search promotes, stops and
        re-runs nothing more. Returns the Sweep (state_name(): "cancelled"). A sweep that is done
        is a PolyTrainError FAILED_PRECONDITION."""
        sweep_id = _arguments.text(sweep_id, "sweep_id")
        return self._change(self._stub.CancelSweep, coordinator_pb2.CancelSweepRequest(
            id=sweep_id), f"cancelled {sweep_id}", f"get_sweep('{sweep_id}')")

    def watch(self, job_id, reconnect_seconds=DEFAULT_RECONNECT_SECONDS):
        """The job's events until it ends: an iterator of JobEvent messages, each with `job` (a
        state change) or `point` (a metric point). A coordinator that goes away after the watch
        began (a restart) is watched again for up to `reconnect_seconds` (as polyctl's
        --reconnect-seconds); then PolyTrainError UNAVAILABLE. A watch the coordinator ended
        because this consumer fell behind is resumed at once (RESOURCE_EXHAUSTED only if it
        falls behind 3 times in a row while passing on nothing new). A resumed watch asks for the
        history after the newest point passed on: each point once, and the job only when it
        changed.
        Closing the client ends it with PolyTrainError FAILED_PRECONDITION. Stopping it
        (breaking out, Ctrl-C's KeyboardInterrupt) stops the watching only: the job goes on
        until cancel(). The arguments are checked now; the stream opens at the first next()."""
        return self._watch(job_id, reconnect_seconds, deadline=None)

    def wait(self, job_id, reconnect_seconds=DEFAULT_RECONNECT_SECONDS, timeout=None):
        """Blocks until the job ends; returns it as it ended. A coordinator restart meanwhile is
        waited for, as watch() waits for it. `timeout`: seconds in (0, 1e8], or None (the
        default) to wait as long as the job takes; past it, TimeoutError. A timeout, like Ctrl-C
        (KeyboardInterrupt), stops the waiting only: the job goes on until cancel()."""
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
                raise TypeError(f"timeout: expected seconds (a number) or None, got "
                                f"{type(timeout).__name__}")
            if not 0 < timeout <= MAX_TIMEOUT_SECONDS:
                raise ArgumentError(f"timeout: expected seconds in (0, "
                                    f"{MAX_TIMEOUT_SECONDS:.0f}] or None, got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        last = None
        for event in self._watch(job_id, reconnect_seconds, deadline):
            if event.HasField("job"):
                last = event.job
        return last if last is not None and last.state in FINAL_STATES else self.get(job_id)

    def _watch(self, job_id, reconnect_seconds, deadline):
        request = coordinator_pb2.WatchJobRequest(id=_arguments.text(job_id, "job_id"))
        if request.id.startswith("sweep-"):  # probe DE: the coordinator's answer names its RPC
            raise ArgumentError(f"job_id: {request.id} is a sweep's id: get_sweep() reads it "
                                f"(watch() and wait() follow one job: one of its jobs' ids)")
        if (isinstance(reconnect_seconds, bool) or
                not isinstance(reconnect_seconds, numbers.Real)):
            raise TypeError(f"reconnect_seconds: expected seconds (a number), got "
                            f"{type(reconnect_seconds).__name__}")
        if not 0 <= reconnect_seconds <= MAX_TIMEOUT_SECONDS:
            raise ArgumentError(f"reconnect_seconds: expected seconds in [0, "
                                f"{MAX_TIMEOUT_SECONDS:.0f}], got {reconnect_seconds!r}")
        self._check_open()
        return _reconnect.watch_events(self, request, float(reconnect_seconds), deadline)

    def metrics(self, job_id, max_points=0):
        """The job's metric points as rows: kind, step, epoch, ..., and one column per value.
        `max_points`: at most this many, evenly spaced and always with the newest; 0 (the
        default) is every point, and a long history can exceed the 16 MiB reply limit
        (RESOURCE_EXHAUSTED): ask for fewer."""
        response = self._call(self._stub.GetMetrics, coordinator_pb2.GetMetricsRequest(
            job_id=_arguments.text(job_id, "job_id"),
            max_points=_arguments.whole(max_points, "max_points", 0,
                                        MAX_REQUESTED_METRIC_POINTS)))
        return _messages.rows(response.points)

    def _spec_of_job(self, job):
        """A copy of `job`'s spec to submit again. A sweep's job leaves behind what the sweep gave
        it (as polyctl submit --from): its labels "sweep" and "loss" (the coordinator refuses
        "sweep" on a job of no sweep) and a search trial's raised priority, with a warning."""
        spec = job_pb2.JobSpec()
        spec.CopyFrom(job.spec)
        sweep_id = spec.labels.get("sweep")
        if sweep_id is None:
            return spec
        dropped = [f"{key}={spec.labels.pop(key)}" for key in ("sweep", "loss")
                   if key in spec.labels]
        note = (f"{job.id} is one of sweep {sweep_id}'s jobs; the new job is not, so its labels "
                f"{', '.join(dropped)} are not carried over")
        try:
            base_priority = self.get_sweep(sweep_id).request.base.priority
        except PolyTrainError:  # the sweep gone: the job's own
            base_priority = spec.priority
        if base_priority != spec.priority:
            note += (f", and its priority is the sweep's, {base_priority} (its search had raised "
                     f"the trial's to {spec.priority})")
            spec.priority = base_priority
        warnings.warn(note, UserWarning, stacklevel=3)
        return spec

    def compare(self, job_ids=(), sweep_id="", metric="", baseline_loss="", per_job=False,
                as_message=False, group_by=""):
        """CompareJobs as rows: one per loss (runs, mean, std, ci95, p against the baseline), or
        with `per_job` one per job. `sweep_id` may be a list of sweep ids: as polyctl compare takes
        them, several sweeps, or sweeps with `job_ids`, are compared as all their jobs (each loss's
        runs pooled across them; a refusal names the list's sweep_id[k]). `group_by`: a label key;
        each loss's runs are pooled per value of that label, e.g. group_by="sweep" for sweeps that
        each ran another learning rate (rows then have a "group"; each loss is tested against the
        baseline of the same value). Jobs given by id that differ in more than their loss and seed
        are compared all the same, with a UserWarning saying which fields differ. With `as_message`,
        the CompareJobsResponse whole, as polyctl compare --format json prints it: `metric` and
        `baseline_loss` (what the coordinator chose when left out), `losses`, `jobs` and `curves`
        (each job's evaluations of the metric and its train loss by step, to plot)."""
        _arguments.boolean(per_job, "per_job")
        _arguments.boolean(as_message, "as_message")
        if per_job and as_message:
            raise ArgumentError("per_job: leave it out with as_message (the message holds the "
                                "per-job rows, in `jobs`, and the per-loss ones, in `losses`)")
        job_ids = _arguments.texts(job_ids, "job_ids")
        if isinstance(sweep_id, str):  # "": none
            sweeps = [_arguments.text(sweep_id, "sweep_id")] if sweep_id else []
        else:
            sweeps = _arguments.texts(sweep_id, "sweep_id")
        request = coordinator_pb2.CompareJobsRequest(
            metric=_arguments.text(metric, "metric"),
            baseline_loss=_arguments.text(baseline_loss, "baseline_loss"),
            group_by=_arguments.text(group_by, "group_by"))
        if len(sweeps) == 1 and not job_ids:
            request.sweep_id = sweeps[0]
        else:  # the coordinator reads each sweep's jobs (a job named twice counts once)
            request.job_ids.extend(job_ids)
            request.sweep_ids.extend(dict.fromkeys(sweeps))  # a sweep named twice: once
        try:
            response = self._call(self._stub.CompareJobs, request)
        except PolyTrainError as error:  # the request's sweep_ids[i] named as the list's [k]
            for i, sweep in enumerate(request.sweep_ids):
                prefix = f"sweep_ids[{i}]: "
                if error.message.startswith(prefix):
                    message = f"sweep_id[{sweeps.index(sweep)}]: {error.message[len(prefix):]}"
                    raise type(error)(error.code, message) from None
            raise
        if response.note:
            warnings.warn(response.note, stacklevel=2)
        if as_message:
            return response
        return _messages.rows(response.jobs if per_job else response.losses)

"""The Client: one connection to a coordinator (polytrain.v1.Coordinator), with the same rules as
polyctl: TLS when given a CA (with a client certificate for mutual TLS, and a server name
override), plaintext only to a loopback address, a bearer token per call."""
import hashlib
import io
import os
import pathlib
import re

import grpc
from google.protobuf import json_format, text_format

from polytrain.v1 import (coordinator_pb2, coordinator_pb2_grpc, job_pb2, job_record_pb2,
                          loss_pb2)

CHUNK_BYTES = 1 << 20  # the coordinator's limit per UploadArtifact chunk
# The most items one ListJobs or ListArtifacts page may hold.
MAX_PAGE_SIZE = 1000
# What MakeChannel (common/grpc_security.cc) gives polyctl's and the worker's channels: replies up
# to 16 MiB (a ListJobs page may be 8 MiB; gRPC's default is 4), and a keepalive ping every 20 s
# so that a coordinator whose host died is noticed in seconds, not after TCP's quarter of an hour.
CHANNEL_OPTIONS = (("grpc.max_receive_message_length", 16 << 20),
                   ("grpc.keepalive_time_ms", 20000), ("grpc.keepalive_timeout_ms", 20000),
                   ("grpc.keepalive_permit_without_calls", 1),
                   ("grpc.http2.max_pings_without_data", 0))
# The longest per-call timeout: gRPC's deadline overflows not far beyond (1e10 s fails every call).
MAX_TIMEOUT_SECONDS = 1e8
JobState = job_record_pb2.JobState
# A job's states that do not change any more.
FINAL_STATES = (job_record_pb2.JOB_STATE_SUCCEEDED, job_record_pb2.JOB_STATE_FAILED,
                job_record_pb2.JOB_STATE_CANCELLED, job_record_pb2.JOB_STATE_STOPPED)
# The states a job can be in, by their short names as polyctl prints and takes them ("queued",
# "running", "succeeded", ...), in the enum's order; JOB_STATE_UNSPECIFIED is none of them.
STATE_NAMES = tuple(name[len("JOB_STATE_"):].lower() for name, value in JobState.items()
                    if value != job_record_pb2.JOB_STATE_UNSPECIFIED)


class PolyTrainError(Exception):
    """A call the coordinator refused or could not answer: `code` is the gRPC status code's name
    ("INVALID_ARGUMENT", "NOT_FOUND", ...), `message` says why and names the field."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self):  # pickled (multiprocessing) and copied with both arguments
        return type(self), (self.code, self.message)


def _is_loopback(address):
    """The rule polyctl follows (common/grpc_security.cc): unix: sockets, localhost, ::1 and
    127.x.y.z written out, never a name that DNS might resolve elsewhere."""
    if address.startswith("unix:"):
        return True
    host = address
    for scheme in ("dns:///", "dns:", "ipv4:", "ipv6:"):
        if host.startswith(scheme):
            host = host[len(scheme):]
            break
    if host.startswith("["):
        host = host[1:host.find("]")]
    elif ":" in host:
        host = host.rsplit(":", 1)[0]
    if host in ("localhost", "::1"):
        return True
    parts = host.split(".")
    return (len(parts) == 4 and parts[0] == "127" and
            all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts))


def state_name(state):
    """A job's state as polyctl prints it: "queued", "running", "succeeded", "failed",
    "cancelled", "paused" or "stopped" ("unspecified" for 0). `state`: a Job (or anything with a
    `state` field: what submit, get, wait and jobs return), a JobState value
    (polytrain.JOB_STATE_SUCCEEDED, 3) or a state's name in any form jobs(states=) takes. A value
    this client does not know (from a newer coordinator) is "unknown(N)".

        >>> polytrain.state_name(client.wait(job.id))
        'succeeded'
    """
    if isinstance(state, coordinator_pb2.Sweep):  # a sweep's own: "running", "done", "cancelled"
        value = state.state
        if value not in coordinator_pb2.Sweep.State.values():
            return f"unknown({value})"
        return coordinator_pb2.Sweep.State.Name(value)[len("SWEEP_STATE_"):].lower()
    if hasattr(state, "state") and not isinstance(state, (str, int)):
        state = state.state
    if isinstance(state, str):
        state = _state_value(state, "state")
    elif not isinstance(state, int) or isinstance(state, bool):
        raise TypeError(f"state: expected a Job, a JobState value or a state's name, got "
                        f"{type(state).__name__}")
    if state not in JobState.values():
        return f"unknown({state})"
    return JobState.Name(state)[len("JOB_STATE_"):].lower()


def _state_value(state, what):
    """`state` as a JobState value: a short name ("succeeded", any case), the enum's name
    ("JOB_STATE_SUCCEEDED") or its value (3, polytrain.JOB_STATE_SUCCEEDED). PolyTrainError
    naming `what` and listing the names otherwise."""
    value = None
    if isinstance(state, str):
        name = state.strip().upper()
        if not name.startswith("JOB_STATE_"):
            name = "JOB_STATE_" + name
        value = JobState.Value(name) if name in JobState.keys() else None
    elif isinstance(state, int) and not isinstance(state, bool):
        value = state if state in JobState.values() else None
    if value is None or value == job_record_pb2.JOB_STATE_UNSPECIFIED:
        raise PolyTrainError("INVALID_ARGUMENT", f"{what}: unknown state {state!r}; expected one "
                             f"of {', '.join(STATE_NAMES)} (or JOB_STATE_* names or values)")
    return value


def _read_pem(value, what):
    """A PEM argument's bytes: `value` is a file's path, or the PEM itself as bytes."""
    if isinstance(value, (bytes, bytearray)):
        data, where = bytes(value), what
    elif isinstance(value, (str, os.PathLike)):
        if not os.fspath(value):
            raise ValueError(f"{what}: empty path")
        data, where = pathlib.Path(value).read_bytes(), f"{what} {os.fspath(value)}"
    else:
        raise TypeError(f"{what}: expected a PEM file's path or PEM bytes, got "
                        f"{type(value).__name__}")
    if not data.strip():
        raise ValueError(f"{where}: empty")
    return data


def _text(value, what):
    """`value`, a str: anything else (an int, bytes, None) is a TypeError naming the argument,
    not protobuf's complaint from deep inside."""
    if not isinstance(value, str):
        raise TypeError(f"{what}: expected a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what}: not valid Unicode text (it holds a lone surrogate)") from None
    return value


def _texts(values, what):
    """A list of str: one str alone is a TypeError (it would be taken a character at a time)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{what}: expected a list of strings, got {type(values).__name__}")
    return [_text(value, f"{what}[{i}]") for i, value in enumerate(values)]


INT32_MAX = 2**31 - 1


def _whole(value, what, low=-INT32_MAX - 1, high=INT32_MAX):
    """An int (not a bool, a float or a string of digits) that the request's field holds (an
    int32 by default; the coordinator checks its own range): beyond it, a PolyTrainError naming
    the argument as the coordinator would name its field, not protobuf's ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what}: expected a whole number, got {type(value).__name__}")
    if not low <= value <= high:
        raise PolyTrainError("INVALID_ARGUMENT", f"{what}: must be in [{low}, {high}], got {value}")
    return value


def _path(value, what):
    """A file system path argument, as str: empty is a ValueError (it would mean ".")."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{what}: expected a path, got {type(value).__name__}")
    path = _text(os.fspath(value), what)
    if not path:
        raise ValueError(f"{what}: empty path")
    return path


def _labels(labels, what):
    """{str: str}, or None for none."""
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise TypeError(f"{what}: expected a dict of str to str, got {type(labels).__name__}")
    for key, value in labels.items():
        _text(key, f"{what} key")
        _text(value, f"{what}[{key!r}]")
    return labels


def _address(address):
    """"host:port" with a port in [1, 65535] ("[::1]:50051" for IPv6), or a gRPC unix: socket
    target ("unix:/run/polytrain.sock")."""
    _text(address, "address")
    if address.startswith("unix:") and len(address) > len("unix:"):
        return address
    host, _, port = address.rpartition(":")
    if not host or not re.fullmatch(r"[0-9]{1,5}", port) or not 1 <= int(port) <= 65535:
        raise ValueError(f"address: expected host:port, got {address!r}")
    return address


PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def _plain_name(name):
    """A name given for an upload, as the coordinator and polyctl take it: plain already."""
    if not PLAIN_NAME.fullmatch(_text(name, "name")):
        raise PolyTrainError("INVALID_ARGUMENT", f"name: not a file name: {name!r} (1 to 128 "
                             f"characters from [A-Za-z0-9._-], not starting with '.')")
    return name


def artifact_name(file_name):
    """A name the coordinator takes for a file ([A-Za-z0-9._-], 1 to 128, no leading dot), made
    from any file name: other characters become '_'."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", _text(file_name, "name").lstrip("."))[:128]
    return name or "artifact"


def _messages(values, cls, what):
    """A list of `cls` messages (each as _message takes it): one alone, or a str, is a TypeError."""
    if isinstance(values, (str, bytes, dict, cls)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{what}: expected a list, got {type(values).__name__}")
    return [_message(value, cls, f"{what}[{i}]") for i, value in enumerate(values)]


def _message(value, cls, what):
    """`value` as a `cls` message: a message of that type, protobuf text format or a dict (the
    JSON form: field names as in the .proto or lowerCamelCase)."""
    if isinstance(value, cls):
        return value
    message = cls()
    try:
        if isinstance(value, str):
            text_format.Parse(value, message)
        elif isinstance(value, dict):
            json_format.ParseDict(value, message)
        else:
            raise TypeError(f"{what}: expected text, a dict or {cls.__name__}, got "
                            f"{type(value).__name__}")
    except (text_format.ParseError, json_format.ParseError) as error:
        raise PolyTrainError("INVALID_ARGUMENT", f"{what}: {error}") from None
    return message


def _row(message):
    """A message as a flat dict of Python values: enums by name, maps spread into columns,
    nested messages as dicts, 64-bit integers as ints (JSON would make them strings)."""
    row = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            row.update(value)
        elif field.label == field.LABEL_REPEATED:
            row[field.name] = list(value)
        elif field.message_type is not None:
            row[field.name] = json_format.MessageToDict(value, preserving_proto_field_name=True)
        elif field.enum_type is not None:
            row[field.name] = field.enum_type.values_by_number[value].name
        else:
            row[field.name] = value
    return row


def _rows(messages):
    """Repeated messages as rows a pandas DataFrame takes."""
    return [_row(message) for message in messages]


class Client:
    """A coordinator at `address` ("host:port"; else $POLYTRAIN_COORDINATOR, else
    127.0.0.1:50051), reached as polyctl reaches it, its TLS arguments meaning what polyctl's
    flags of the same names mean:

    - `token` (else $POLYTRAIN_TOKEN) goes with every call as "authorization: Bearer <token>".
    - `tls_ca`: the CA (PEM) that signed the coordinator's certificate; it makes the channel TLS.
      Without it the channel is plaintext, and only to a loopback address.
    - `tls_cert` and `tls_key`: a client certificate and its private key (PEM), for mutual TLS;
      both or neither, and only with `tls_ca`.
    - `tls_server_name`: the name expected in the coordinator's certificate when it is not the
      address's host (e.g. dialing 10.0.0.5:50051 whose certificate says "coordinator"); only
      with `tls_ca`.

    Each PEM argument is a file's path or the PEM itself as bytes. Arguments that do not fit
    together raise ValueError naming the argument; `timeout` (seconds) bounds each call but
    watch() and wait()."""

    def __init__(self, address=None, token=None, tls_ca=None, timeout=30.0, tls_cert=None,
                 tls_key=None, tls_server_name=None):
        self.address = _address(address or os.environ.get("POLYTRAIN_COORDINATOR",
                                                           "127.0.0.1:50051"))
        token = token if token is not None else os.environ.get("POLYTRAIN_TOKEN")
        if token is not None:  # surrounding whitespace (a file's newline) dropped, as polyctl does
            token = _text(token, "token").strip(" \t\r\n")
        if token is not None and not re.fullmatch(r"[!-~]*", token):
            raise ValueError("token: printable ASCII without spaces, as tokens are minted")
        self._metadata = [("authorization", f"Bearer {token}")] if token else []
        if (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or
                not 0 < timeout <= MAX_TIMEOUT_SECONDS):
            raise ValueError(f"timeout: expected seconds > 0 (at most {MAX_TIMEOUT_SECONDS:.0f}), "
                             f"got {timeout!r}")
        self.timeout = timeout
        if tls_server_name is not None:
            _text(tls_server_name, "tls_server_name")
        if (tls_cert is None) != (tls_key is None):
            missing, given = ("tls_key", "tls_cert") if tls_key is None else ("tls_cert", "tls_key")
            raise ValueError(f"{missing}: needed with {given} (a client certificate and its "
                             f"private key)")
        options = list(CHANNEL_OPTIONS)
        if tls_ca is not None:
            key = cert = None
            if tls_cert is not None:
                cert = _read_pem(tls_cert, "tls_cert")
                key = _read_pem(tls_key, "tls_key")
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_pem(tls_ca, "tls_ca"), private_key=key,
                certificate_chain=cert)
            if tls_server_name:
                options.append(("grpc.ssl_target_name_override", tls_server_name))
            self._channel = grpc.secure_channel(self.address, credentials, options=options)
        elif tls_cert is not None:
            raise ValueError("tls_ca: needed with tls_cert (a client certificate is for TLS)")
        elif tls_server_name:
            raise ValueError("tls_ca: needed with tls_server_name (it names the coordinator's "
                             "certificate, and plaintext has none)")
        elif _is_loopback(self.address):
            self._channel = grpc.insecure_channel(self.address, options=options)
        else:
            raise ValueError(f"address: plaintext only to a loopback address; give tls_ca to "
                             f"reach {self.address}")
        self._stub = coordinator_pb2_grpc.CoordinatorStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request, timeout=None):
        try:
            return method(request, timeout=timeout or self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise PolyTrainError(error.code().name, error.details()) from None

    def _iter_pages(self, method, request, field, limit=None):
        """The items of a paged list call, fetched a page at a time as the caller goes: every
        page's, or the first `limit`."""
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

    # --- Jobs ---

    def submit(self, spec, request_id="", files=None, dry_run=False):
        """Submits one job. `spec`: a JobSpec, its text format or a dict. With `files` (a
        directory), the model and dataset files it names by path that exist there are uploaded
        first and named by their sha256, once the coordinator has checked the spec (a refused
        spec uploads nothing). Returns the Job. `dry_run`: only the check, nothing uploaded or
        stored; returns the job as it would be queued, without an id."""
        request = coordinator_pb2.SubmitJobRequest(
            spec=_message(spec, job_pb2.JobSpec, "spec"),
            client_request_id=_text(request_id, "request_id"))
        return self._submit(self._stub.SubmitJob, request, "spec", files, dry_run)

    def sweep(self, base, losses, seeds=1, request_id="", files=None, dry_run=False):
        """Submits base x losses x seeds as one sweep (all jobs or none). `losses`: LossSpecs,
        their text format or dicts. Returns the SubmitSweepResponse (sweep_id, jobs). `files`
        and `dry_run` as for submit (a dry run's jobs have no ids, and it has no sweep_id)."""
        request = coordinator_pb2.SubmitSweepRequest(
            base=_message(base, job_pb2.JobSpec, "base"), seeds=_whole(seeds, "seeds"),
            client_request_id=_text(request_id, "request_id"),
            losses=_messages(losses, loss_pb2.LossSpec, "losses"))
        return self._submit(self._stub.SubmitSweep, request, "base", files, dry_run)

    def search(self, base, search, losses=(), seeds=1, request_id="", files=None,
               dry_run=False):
        """Submits a search sweep: `search` is a LossSearch (or its text format, or a dict), e.g.
        {"strategy": "STRATEGY_SUCCESSIVE_HALVING", "loss": {"poly1": {}}, "ranges": [{"field":
        "poly1.epsilon", "min": -1, "max": 10}], "trials": 12, "min_resource": 1, "top_k": 2}.
        `losses`: the configurations of a successive halving without ranges. Returns the
        SubmitSweepResponse; follow it with get_sweep. `files` and `dry_run` as for sweep."""
        request = coordinator_pb2.SubmitSweepRequest(
            base=_message(base, job_pb2.JobSpec, "base"), seeds=_whole(seeds, "seeds"),
            client_request_id=_text(request_id, "request_id"),
            search=_message(search, coordinator_pb2.LossSearch, "search"),
            losses=_messages(losses, loss_pb2.LossSpec, "losses"))
        return self._submit(self._stub.SubmitSweep, request, "base", files, dry_run)

    def _submit(self, method, request, spec_field, files, dry_run):
        """A SubmitJob or SubmitSweep: checked by the coordinator first (validate_only) when
        files are to be uploaded or only the check is asked for, then sent for real."""
        if not isinstance(dry_run, bool):
            raise TypeError(f"dry_run: expected a bool, got {type(dry_run).__name__}")
        if files is not None:
            files = pathlib.Path(_path(files, "files"))
            if not files.is_dir():
                raise NotADirectoryError(f"files: {files} is not a directory")
        if dry_run or files is not None:
            request.validate_only = True
            checked = self._call(method, request)
            if dry_run:
                return checked
            request.validate_only = False
            spec = getattr(request, spec_field)
            spec.CopyFrom(self._upload_named_files(spec, files))
        return self._call(method, request)

    def get_sweep(self, sweep_id):
        """The Sweep: its request, state, rungs, trials, steps trained and ranking (best_loss)."""
        return self._call(self._stub.GetSweep, coordinator_pb2.GetSweepRequest(
            id=_text(sweep_id, "sweep_id")))

    def get(self, job_id):
        """The Job."""
        return self._call(self._stub.GetJob, coordinator_pb2.GetJobRequest(id=_text(job_id, "job_id")))

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
        if states is None:
            states = ()
        elif isinstance(states, (str, int)):
            states = [states]
        elif isinstance(states, bytes) or not hasattr(states, "__iter__"):
            raise TypeError(f"states: expected a state or a list of states, got "
                            f"{type(states).__name__}")
        states = [_state_value(state, f"states[{i}]") for i, state in enumerate(states)]
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or
                                  limit < 1):
            raise PolyTrainError("INVALID_ARGUMENT",
                                 f"limit: expected a whole number from 1, got {limit!r}")
        return coordinator_pb2.ListJobsRequest(states=states, labels=_labels(labels, "labels"),
                                               owner=_text(owner, "owner"))

    def iter_jobs(self, states=(), labels=None, owner="", limit=None):
        """jobs(), lazily: an iterator that fetches the next page only when the caller gets that
        far, for listings too large to hold (a search's 100,000 trials)."""
        request = self._jobs_request(states, labels, owner, limit)
        return self._iter_pages(self._stub.ListJobs, request, "jobs", limit)

    def cancel(self, job_id):
        """Cancels a queued, running or paused job; returns the Job. Given a sweep id
        ("sweep-..."), cancels the sweep as cancel_sweep() does and returns the Sweep."""
        job_id = _text(job_id, "job_id")
        if job_id.startswith("sweep-"):
            return self.cancel_sweep(job_id)
        return self._call(self._stub.CancelJob, coordinator_pb2.CancelJobRequest(id=job_id))

    def cancel_sweep(self, sweep_id):
        """Cancels a sweep: each of its jobs that has not ended, and a search promotes, stops and
        re-runs nothing more. Returns the Sweep (state_name(): "cancelled"). A sweep that is done
        is a PolyTrainError FAILED_PRECONDITION."""
        return self._call(self._stub.CancelSweep, coordinator_pb2.CancelSweepRequest(
            id=_text(sweep_id, "sweep_id")))

    def watch(self, job_id):
        """The job's events until it ends: JobEvent messages, each with `job` (a state change)
        or `point` (a metric point)."""
        request = coordinator_pb2.WatchJobRequest(id=_text(job_id, "job_id"))
        try:
            yield from self._stub.WatchJob(request,
                                           metadata=self._metadata)
        except grpc.RpcError as error:
            raise PolyTrainError(error.code().name, error.details()) from None

    def wait(self, job_id):
        """Blocks until the job ends; returns it as it ended."""
        last = None
        for event in self.watch(job_id):
            if event.HasField("job"):
                last = event.job
        return last if last is not None and last.state in FINAL_STATES else self.get(job_id)

    def metrics(self, job_id, max_points=0):
        """The job's metric points as rows: kind, step, epoch, ..., and one column per value."""
        response = self._call(self._stub.GetMetrics, coordinator_pb2.GetMetricsRequest(
            job_id=_text(job_id, "job_id"), max_points=_whole(max_points, "max_points")))
        return _rows(response.points)

    def compare(self, job_ids=(), sweep_id="", metric="", baseline_loss="", per_job=False):
        """CompareJobs as rows: one per loss (runs, mean, std, ci95, p against the baseline), or
        with `per_job` one per job."""
        response = self._call(self._stub.CompareJobs, coordinator_pb2.CompareJobsRequest(
            job_ids=_texts(job_ids, "job_ids"), sweep_id=_text(sweep_id, "sweep_id"),
            metric=_text(metric, "metric"), baseline_loss=_text(baseline_loss, "baseline_loss")))
        return _rows(response.jobs if per_job else response.losses)

    # --- Artifacts ---

    def upload(self, source, name=None):
        """Stores a file in the coordinator and returns its Artifact (`id` is what a JobSpec
        names). `source`: a path (streamed, never read whole into memory), bytes, or a
        torch.jit.ScriptModule (saved as torch.jit.save would). Uploading what you uploaded
        before sends only its hash."""
        if name is not None:
            _plain_name(name)
        if isinstance(source, (str, os.PathLike)):
            path = pathlib.Path(_path(source, "source"))
            if path.is_dir():
                raise IsADirectoryError(f"source: {path} is a directory, not a file")
            name = name or artifact_name(path.name)
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for piece in iter(lambda: f.read(CHUNK_BYTES), b""):
                    digest.update(piece)

            def pieces():
                with open(path, "rb") as f:
                    yield from iter(lambda: f.read(CHUNK_BYTES), b"")
        else:
            if isinstance(source, (bytes, bytearray)):
                data = bytes(source)
            elif hasattr(source, "save") and hasattr(source, "_c"):  # a torch.jit.ScriptModule
                import torch  # only here: the client does not need torch otherwise
                buffer = io.BytesIO()
                torch.jit.save(source, buffer)
                data = buffer.getvalue()
                name = name or artifact_name(f"{type(source).__name__}.pt")
            else:
                raise TypeError(f"source: expected a path, bytes or a torch.jit.ScriptModule, "
                                f"got {type(source).__name__}")
            digest = hashlib.sha256(data)

            def pieces():
                for at in range(0, len(data), CHUNK_BYTES):
                    yield data[at:at + CHUNK_BYTES]

        first = coordinator_pb2.UploadArtifactRequest(
            name=name or "artifact", sha256="sha256:" + digest.hexdigest())

        def chunks():
            # One chunk behind, so that the last one can be marked; an empty file is one empty
            # chunk, the first.
            pending = first
            for piece in pieces():
                if pending.data or pending is not first:
                    yield pending
                    pending = coordinator_pb2.UploadArtifactRequest()
                pending.data = piece
            pending.last = True
            yield pending

        return self._call(self._stub.UploadArtifact, chunks(), timeout=max(self.timeout, 1800))

    def artifacts(self):
        """Your artifacts (an admin's: everyone's), newest first, as a list of Artifact
        messages (every page fetched before it returns)."""
        return self._pages(self._stub.ListArtifacts, coordinator_pb2.ListArtifactsRequest(),
                           "artifacts")

    def delete_artifact(self, artifact_id):
        return self._call(self._stub.DeleteArtifact,
                          coordinator_pb2.DeleteArtifactRequest(
                              id=_text(artifact_id, "artifact_id")))

    def _upload_named_files(self, spec, files):
        spec = job_pb2.JobSpec.FromString(spec.SerializeToString())  # the caller's stays as is
        sources = []
        if spec.model.HasField("torchscript"):
            sources.append(spec.model.torchscript)
        if spec.dataset.HasField("tensors"):
            sources.append(spec.dataset.tensors)
        for source in sources:
            if source.WhichOneof("source") != "path":
                continue
            if pathlib.PurePath(source.path).is_absolute() or ".." in pathlib.PurePath(
                    source.path).parts:
                continue  # the worker's, under its data root
            local = pathlib.Path(files) / source.path
            if local.is_file():
                source.artifact = self.upload(local).id
        return spec

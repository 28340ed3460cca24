"""A job's states by the names polyctl prints and takes ("queued", "running", "succeeded", ...)."""
import numbers

from polytrain.errors import ArgumentError
from polytrain.v1 import coordinator_pb2, job_record_pb2

JobState = job_record_pb2.JobState
# A job's states that do not change any more.
FINAL_STATES = (job_record_pb2.JOB_STATE_SUCCEEDED, job_record_pb2.JOB_STATE_FAILED,
                job_record_pb2.JOB_STATE_CANCELLED, job_record_pb2.JOB_STATE_STOPPED)
# The states a job can be in, by their short names as polyctl prints and takes them ("queued",
# "running", "succeeded", ...), in the enum's order; JOB_STATE_UNSPECIFIED is none of them.
STATE_NAMES = tuple(name[len("JOB_STATE_"):].lower() for name, value in JobState.items()
                    if value != job_record_pb2.JOB_STATE_UNSPECIFIED)

# A sweep's states, as polyctl prints and takes them.
SWEEP_STATE_NAMES = ("running", "done", "cancelled")


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
    if hasattr(state, "state") and not isinstance(state, (str, numbers.Integral)):
        state = state.state
    if isinstance(state, str):
        state = state_value(state, "state")
    elif not isinstance(state, numbers.Integral) or isinstance(state, bool):
        raise TypeError(f"state: expected a Job, a JobState value or a state's name, got "
                        f"{type(state).__name__}")
    if state not in JobState.values():
        return f"unknown({state})"
    return JobState.Name(state)[len("JOB_STATE_"):].lower()


def sweep_state_value(state, what):
    """`state` as a Sweep.State value: "running", "done", "cancelled" (any case), the enum's name
    ("SWEEP_STATE_DONE") or its value. A PolyTrainError naming `what` otherwise."""
    names = coordinator_pb2.Sweep.State
    value = None
    if isinstance(state, str):
        name = state.strip()
        if name.isascii():
            name = name.upper()
            if not name.startswith("SWEEP_STATE_"):
                name = "SWEEP_STATE_" + name
            value = names.Value(name) if name in names.keys() else None
    elif isinstance(state, numbers.Integral) and not isinstance(state, bool):  # numpy's too
        value = int(state) if int(state) in names.values() else None
    if value is None or value == coordinator_pb2.Sweep.SWEEP_STATE_UNSPECIFIED:
        raise ArgumentError(f"{what}: unknown state {state!r}; expected one of "
                            f"{', '.join(SWEEP_STATE_NAMES)} (or SWEEP_STATE_* names or values)")
    return value


def state_value(state, what):
    """`state` as a JobState value: a short name ("succeeded", any case), the enum's name
    ("JOB_STATE_SUCCEEDED") or its value (3, polytrain.JOB_STATE_SUCCEEDED). A PolyTrainError
    naming `what` and listing the names otherwise."""
    value = None
    if isinstance(state, str):
        name = state.strip()
        if name.isascii():  # "ſucceeded".upper() would be "SUCCEEDED"
            name = name.upper()
            if not name.startswith("JOB_STATE_"):
                name = "JOB_STATE_" + name
            value = JobState.Value(name) if name in JobState.keys() else None
    elif isinstance(state, numbers.Integral) and not isinstance(state, bool):  # numpy's too
        value = int(state) if int(state) in JobState.values() else None
    if value is None or value == job_record_pb2.JOB_STATE_UNSPECIFIED:
        raise ArgumentError(f"{what}: unknown state {state!r}; expected one of "
                            f"{', '.join(STATE_NAMES)} (or JOB_STATE_* names or values)")
    return value

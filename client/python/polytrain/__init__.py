"""PolyTrain's Python client: submit training jobs whose loss is a point of the PolyLoss family,
bring your own TorchScript model and tensor data, watch runs and compare losses.

    import polytrain
    client = polytrain.Client("127.0.0.1:50051")
    job = client.submit('name: "mlp" model { mlp {} } dataset { fashion_mnist {} } ...')
    for event in client.watch(job.id): ...
    polytrain.state_name(client.wait(job.id))  # "succeeded"
    client.jobs(states=["failed"], limit=10)    # a list, newest first

A job's `state` is a JobState value: polytrain.JOB_STATE_SUCCEEDED, ... (the enum itself is
polytrain.JobState; FINAL_STATES those that do not change any more, STATE_NAMES the short names).
Every refusal, the coordinator's or the client's own check of an argument, is a PolyTrainError;
an INVALID_ARGUMENT about a value (either's) is an ArgumentError, also a ValueError; one about a
path that is not a file or not a directory is an IsADirectoryError or NotADirectoryError.

Depends on grpcio and protobuf only (Debian: python3-grpcio, python3-protobuf); torch only to
upload a torch.jit.ScriptModule directly. The message classes (polytrain.v1.*_pb2) are generated
from proto/ by the build (`cmake --build build --target polytrain_python`, into build/python).

Modules: client (Client), errors (PolyTrainError), states (state names), and the client's own
_arguments (argument checks), _calls (one call, its errors, paged listings), _artifact_calls
(Client's methods about files), _messages (requests from text or dicts, replies as rows) and
_upload (what an upload streams).
"""
# The package may span directories on sys.path: its modules as written (client/python) ahead of
# the build's copy of them and the generated polytrain.v1 (build/python), as client_test.py runs.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from polytrain._arguments import artifact_name  # noqa: E402
from polytrain.client import Client  # noqa: E402
from polytrain.errors import ArgumentError, PolyTrainError  # noqa: E402
from polytrain.states import (FINAL_STATES, STATE_NAMES, SWEEP_STATE_NAMES, JobState,  # noqa: E402
                              state_name)
from polytrain.v1.job_record_pb2 import (JOB_STATE_CANCELLED, JOB_STATE_FAILED,  # noqa: E402
                                         JOB_STATE_PAUSED, JOB_STATE_QUEUED, JOB_STATE_RUNNING,
                                         JOB_STATE_STOPPED, JOB_STATE_SUCCEEDED,
                                         JOB_STATE_UNSPECIFIED)

__all__ = ["Client", "PolyTrainError", "ArgumentError", "artifact_name", "state_name", "JobState",
           "FINAL_STATES", "STATE_NAMES", "SWEEP_STATE_NAMES", "JOB_STATE_UNSPECIFIED",
           "JOB_STATE_QUEUED", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED",
           "JOB_STATE_CANCELLED", "JOB_STATE_PAUSED", "JOB_STATE_STOPPED"]

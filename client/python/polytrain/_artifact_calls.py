"""The Client's calls about files: checkpoints downloaded, artifacts uploaded, listed, deleted
and what they hold of a quota (polyctl checkpoint, upload and artifacts)."""
import warnings

import grpc

from polytrain import _arguments
from polytrain._calls import Calls
from polytrain._download import download_target, write_checkpoint
from polytrain._upload import Upload
from polytrain.errors import PolyTrainError
from polytrain.v1 import coordinator_pb2, job_record_pb2

# An upload's deadline is at least this long, whatever `timeout` is: as polyctl's.
UPLOAD_TIMEOUT_SECONDS = 1800


class ArtifactCalls(Calls):
    """Client's methods about files (Client documents the connection)."""

    def download_checkpoint(self, job_id, path, best=False):
        """Writes the job's trained model, its newest stored checkpoint (with best=True its best
        by spec.checkpoint.keep_best_by: Job.best_checkpoint), to `path` and returns
        the first CheckpointChunk (`name`, `step`; no data). The file is written beside `path`
        under a temporary name, checked against the size and CRC-32 the coordinator recorded,
        then moved into place: `path` is the whole checkpoint or untouched (FileExistsError,
        nothing downloaded, when it exists). torch.jit.load(path).model.state_dict() are a
        built-in model's weights, dict(torch.jit.load(path).model.state) a TorchScript model's.
        A job with none stored (or no best) is PolyTrainError NOT_FOUND; `passed_over` of the
        chunk returned, and a warning, say when newer ones were damaged on the coordinator and
        this is an older one; with best=True, a coordinator that sent its newest instead (a
        version older than best checkpoints) is FAILED_PRECONDITION, nothing written. The call's
        deadline is an upload's (at least UPLOAD_TIMEOUT_SECONDS)."""
        if not isinstance(best, bool):
            raise TypeError(f"best: must be True or False, not {type(best).__name__}")
        request = coordinator_pb2.DownloadCheckpointRequest(id=_arguments.text(job_id, "job_id"),
                                                            best=best)
        target = download_target(path)
        self._check_open()
        timeout = max(self.timeout, UPLOAD_TIMEOUT_SECONDS)
        try:
            chunks = self._stub.DownloadCheckpoint(request, timeout=timeout,
                                                   metadata=self._metadata)
            first = write_checkpoint(chunks, target, best)
        except grpc.RpcError as error:
            raise self._failed(error, timeout) from None
        except ValueError:
            if self._closed:  # closed by another thread meanwhile
                raise self._closed_error() from None
            raise
        self._answered = True
        if first.passed_over:
            warnings.warn(f"{job_id}: got {first.name}, not the newest checkpoint: newer ones are "
                          f"damaged on the coordinator ({'; '.join(first.passed_over)})",
                          stacklevel=2)
        # A succeeded job trained past it when its later checkpoints were not stored (a full
        # disk on the coordinator): said, as polyctl says it, never silently.
        try:
            job = None if best else self.get(job_id)
        except PolyTrainError:
            job = None
        if (job is not None and job.state == job_record_pb2.JOB_STATE_SUCCEEDED
                and job.steps > first.step):
            warnings.warn(f"{job_id} trained {job.steps} steps; the newest checkpoint the "
                          f"coordinator holds is step {first.step}'s (the later ones were not "
                          "stored: the coordinator's and the worker's logs say why)",
                          stacklevel=2)
        return first

    def upload(self, source, name=None):
        """Stores a file in the coordinator and returns its Artifact (`id` is what a JobSpec
        names). `source`: the path of a regular file (streamed, never read whole into memory),
        bytes, or a torch.jit.ScriptModule (saved as torch.jit.save would, named after its
        class). Uploading what you uploaded before sends only its hash and returns that record,
        under the name it was stored with (a warning says so when that is not this upload's
        name: `name`, or the one taken from the file or the module)."""
        return self._upload(source, name, stacklevel=3)

    def _upload(self, source, name, stacklevel):
        """upload(); `stacklevel` points its warning at the caller's line (warnings.warn)."""
        if name is not None:
            _arguments.plain_name(name)
        self._check_open()
        upload = Upload(source, name)
        try:
            stored = self._call(self._stub.UploadArtifact, upload.chunks(),
                                timeout=max(self.timeout, UPLOAD_TIMEOUT_SECONDS))
        except PolyTrainError:
            if upload.failure is not None:
                raise upload.failure from None
            if (changed := upload.changed()) is not None:
                raise PolyTrainError("FAILED_PRECONDITION", changed) from None
            raise
        finally:
            upload.close()
        if stored.name != upload.name:  # the name given, or the one taken from the source
            warnings.warn(f"these bytes (uploaded as {upload.name!r}) were stored before as "
                          f"{stored.name!r}; that record ({stored.id}) is returned",
                          stacklevel=stacklevel)
        return stored

    def artifacts(self):
        """Your artifacts (an admin's: everyone's), newest first, as a list of Artifact
        messages (every page fetched before it returns)."""
        return self._pages(self._stub.ListArtifacts, coordinator_pb2.ListArtifactsRequest(),
                           "artifacts")

    def artifact_storage(self):
        """What your artifacts hold (an admin's: everyone's), as polyctl artifacts says below
        its table: a dict with `records`, `bytes` (their size_bytes summed: a file two uploaders
        hold counts for each) and `quota_bytes`, the most your records may hold (the coordinator's
        --max_artifact_bytes_per_client), None with no quota (an admin token, or a coordinator
        without tokens). An upload that would take `bytes` past it is refused:
        PolyTrainError RESOURCE_EXHAUSTED, nothing stored."""
        page = self._call(self._stub.ListArtifacts, coordinator_pb2.ListArtifactsRequest(
            page_size=1))
        return {"records": page.total_records, "bytes": page.total_bytes,
                "quota_bytes": page.quota_bytes if page.HasField("quota_bytes") else None}

    def delete_artifact(self, artifact_id):
        """Deletes your record of an artifact (refused while a queued or running job of yours
        names it); the file goes with its last record."""
        artifact_id = _arguments.text(artifact_id, "artifact_id")
        return self._change(self._stub.DeleteArtifact,
                            coordinator_pb2.DeleteArtifactRequest(id=artifact_id),
                            f"deleted {artifact_id}", "artifacts()")

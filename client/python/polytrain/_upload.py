"""What upload() sends: a file (read from one open handle: hashed, then streamed from its start,
so that a file renamed or removed in between still sends what was hashed), bytes, or a
torch.jit.ScriptModule; as UploadArtifactRequest chunks, the last one marked. And the files a
spec names by path that submit() uploads for it."""
import hashlib
import io
import os
import pathlib
import warnings

from polytrain import _arguments
from polytrain.errors import PolyTrainError
from polytrain.v1 import coordinator_pb2, job_pb2

CHUNK_BYTES = 1 << 20  # the coordinator's limit per UploadArtifact chunk


class Upload:
    """One upload's name, digest and chunks. A read error while the chunks stream is kept in
    `failure` (gRPC would turn it into UNKNOWN "Exception iterating requests!") for the caller to
    raise instead of the coordinator's "the upload ended before a chunk marked last"."""

    def __init__(self, source, name):
        self.failure = None
        self._file = None
        self._sent = hashlib.sha256()  # of the bytes streamed: a file written meanwhile differs
        self._sent_all = False
        self._sent_bytes = 0
        if isinstance(source, (str, os.PathLike)):
            path = _arguments.regular_file(source, "source")
            self.path = path
            self.name = name or _arguments.artifact_name(path.name)
            try:
                self._file = open(path, "rb")
                digest = hashlib.sha256()
                self.size = 0  # the bytes hashed, announced (a /proc file's stat says 0)
                for piece in iter(lambda: self._file.read(CHUNK_BYTES), b""):
                    digest.update(piece)
                    self.size += len(piece)
            except OSError as error:
                self.close()
                raise OSError(error.errno, f"source {path}: {error.strerror}") from None
            self._data = None
        else:
            self.path = None
            if isinstance(source, (bytes, bytearray)):
                self._data = bytes(source)
            elif hasattr(source, "save") and hasattr(source, "_c"):  # a torch.jit.ScriptModule
                import torch  # only here: the client does not need torch otherwise
                buffer = io.BytesIO()
                torch.jit.save(source, buffer)
                self._data = buffer.getvalue()
                model = getattr(source, "original_name", None) or type(source).__name__
                name = name or _arguments.artifact_name(f"{model}.pt")
            else:
                raise TypeError(f"source: expected a path, bytes or a torch.jit.ScriptModule, "
                                f"got {type(source).__name__}")
            self.name = name or "artifact"
            self.size = len(self._data)
            digest = hashlib.sha256(self._data)
        self.sha256 = "sha256:" + digest.hexdigest()

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def _pieces(self):
        if self._data is not None:
            for at in range(0, len(self._data), CHUNK_BYTES):
                yield self._data[at:at + CHUNK_BYTES]
            return
        self._file.seek(0)
        yield from iter(lambda: self._file.read(CHUNK_BYTES), b"")

    def chunks(self):
        """The request stream: one chunk behind, so that the last one can be marked; an empty
        file is one empty chunk, the first."""
        first = coordinator_pb2.UploadArtifactRequest(name=self.name, sha256=self.sha256,
                                                      size_bytes=self.size)
        pending = first
        try:
            for piece in self._pieces():
                self._sent.update(piece)
                self._sent_bytes += len(piece)
                if pending.data or pending is not first:
                    yield pending
                    pending = coordinator_pb2.UploadArtifactRequest()
                pending.data = piece
        except OSError as error:  # ends the stream unmarked: the coordinator stores nothing
            self.failure = OSError(error.errno, f"source {self.path}: {error.strerror}")
            return
        pending.last = True
        yield pending
        self._sent_all = True

    def changed(self):
        """After a refused upload: a message when the file's bytes streamed are not those hashed
        (it was written meanwhile), else None."""
        if self.path is None:
            return None
        if self._sent_bytes > self.size:  # refused for the size announced
            return (f"source {self.path} changed while it was uploaded ({self.size} bytes when "
                    f"hashed, more sent); nothing was stored: upload it again once nothing writes "
                    f"to it")
        if not self._sent_all:
            return None
        sent = "sha256:" + self._sent.hexdigest()
        if sent == self.sha256:
            return None
        return (f"source {self.path} changed while it was uploaded (its SHA-256 was {self.sha256} "
                f"before, the bytes sent have {sent}); nothing was stored: upload it again once "
                f"nothing writes to it")


def name_by_hash(source, name, stacklevel):  # pylint: disable=unused-argument
    """upload_named_files' `upload` that sends nothing: the id an upload of `source` would
    store it under (its sha256)."""
    upload = Upload(source, name)
    upload.close()
    return coordinator_pb2.Artifact(id=upload.sha256)


def files_for(spec, files):
    """The directory submit() uploads a spec's named files from: `files`, or a spec file's own
    directory (as polyctl's --files defaults); files=False uploads nothing (polyctl's
    --no-upload)."""
    if files is False:
        return None
    if files is None and isinstance(spec, os.PathLike):
        return pathlib.Path(os.fspath(spec)).parent
    return files


def upload_named_files(spec, files, upload, dry_run=False, warn=True):
    """`spec` (a JobSpec) with each model or dataset path that is a file under `files` uploaded
    by `upload` (Client._upload) and named by its artifact id; the caller's spec stays as is.
    `warn`: say which paths go as the worker's."""
    def say(message):  # submit() -> _submit() -> upload_named_files() -> here: submit's caller
        if warn:
            warnings.warn(message, stacklevel=5)

    spec = job_pb2.JobSpec.FromString(spec.SerializeToString())
    sources = []
    if spec.model.HasField("torchscript"):
        sources.append(spec.model.torchscript)
    if spec.dataset.HasField("tensors"):
        sources.append(spec.dataset.tensors)
    if spec.dataset.HasField("idx"):  # never uploaded: said where a file lies beside the spec
        idx = spec.dataset.idx
        for path in (idx.train_images, idx.train_labels, idx.test_images, idx.test_labels):
            if path and not pathlib.PurePath(path).is_absolute() and \
                    (pathlib.Path(files) / path).is_file():
                say(f"spec.dataset.idx: {path} is not uploaded (IDX files never are): "
                    f"each worker reads it under its --data_root; to send your data with the job, "
                    f"save it as a tensors file")
    for source in sources:
        if source.WhichOneof("source") != "path":
            continue
        if pathlib.PurePath(source.path).is_absolute():
            say(f"{source.path} is absolute: sent as a path on the worker, where it must lie "
                f"inside its --data_root; to upload a file of yours, name it relative to "
                f"files=DIR")
            continue
        if ".." in pathlib.PurePath(source.path).parts:
            continue  # the worker's, under its data root (refused by the coordinator)
        local = pathlib.Path(files) / source.path
        if not local.is_file():  # missing, a directory, a FIFO, a broken link
            say(f"{source.path} is not a file under {files}: sent as a path under the worker's "
                f"--data_root")
            continue
        if dry_run:  # as polyctl's --dry-run prints it
            say(f"dry run: would upload {local} ({local.stat().st_size} bytes)")
            continue
        try:
            # submit() -> _submit() -> here -> _upload(): the warning names submit's caller.
            source.artifact = upload(local, None, stacklevel=5).id
        except PolyTrainError as error:
            raise type(error)(error.code, f"uploading {local}: {error.message}") from None
    return spec


def stored_retry(call, method, request, spec_field, files, refused):
    """What the first call of a retry stored, for a request (validate_only) whose request id names
    one `refused` as "submitted with another spec": that call uploaded the files the spec names,
    and the coordinator stored its spec naming them by their sha256, so the request is asked
    again as that spec, and takes those names (nothing is uploaded again). `call`: Client._call.
    Raises `refused` where it is no such retry, and a file's read error."""
    spec = getattr(request, spec_field)
    uploaded = upload_named_files(spec, files, name_by_hash, warn=False)
    if uploaded == spec:
        raise refused
    retry = type(request)()
    retry.CopyFrom(request)
    getattr(retry, spec_field).CopyFrom(uploaded)
    try:
        stored = call(method, retry)
    except PolyTrainError as error:
        if error.code != "ALREADY_EXISTS":
            raise refused from None
        raise type(refused)(refused.code, f"{refused.message} (the files it names compared by "
                                          f"their sha256, as its first call uploaded them)") from None
    spec.CopyFrom(uploaded)
    return stored

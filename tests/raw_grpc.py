"""What the raw gRPC tests share: messages generated from proto/ alone (no gRPC plugin: methods
are called by their paths, with bytes in and out), real polytrain-coordinator processes, and a
worker built from the protos.

The tests run as SCRIPT BUILD_DIR REPO_ROOT; importing this module reads those two arguments.
"""
import hashlib
import pathlib
import queue
import subprocess
import sys
import tempfile
import time

import grpc

BUILD, ROOT = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
SCRATCH = pathlib.Path(tempfile.mkdtemp(prefix="raw_grpc_test_"))

subprocess.run(["protoc", f"-I{ROOT / 'proto'}", f"--python_out={SCRATCH}"] +
               [str(p) for p in (ROOT / "proto/polytrain/v1").glob("*.proto")], check=True)
sys.path.insert(0, str(SCRATCH))
from polytrain.v1 import coordinator_pb2, job_record_pb2, worker_pb2  # noqa: E402

__all__ = ["BUILD", "ROOT", "SCRATCH", "SERVICE", "TOKEN", "WORKER_TOKEN", "Coordinator",
           "FakeWorker", "coordinator_pb2", "job_record_pb2", "list_services", "run_tests",
           "small_job", "tokens_file", "upload", "upload_chunks", "worker_pb2", "worker_upload"]

SERVICE = "/polytrain.v1.Coordinator/"
TOKEN = "a-client-token-of-some-length"
WORKER_TOKEN = "a-worker-token-of-some-length"


class Coordinator:
    """A polytrain-coordinator process on a free loopback port, with its own database."""

    def __init__(self, name, *flags):
        self.dir = SCRATCH / name
        self.dir.mkdir()
        port_file = self.dir / "port"
        self.log = open(self.dir / "log", "w")
        self.process = subprocess.Popen(
            [str(BUILD / "server/polytrain-coordinator"), "--plaintext", "--listen", "127.0.0.1:0",
             "--port_file", str(port_file), "--db", str(self.dir / "db"), "--artifacts",
             str(self.dir / "artifacts"), "--metrics_listen", ""] + list(flags),
            stderr=self.log)
        for _ in range(400):
            if port_file.exists() and port_file.read_text().strip():
                break
            if self.process.poll() is not None:
                raise RuntimeError(f"coordinator exited: {(self.dir / 'log').read_text()}")
            time.sleep(0.05)
        self.address = f"127.0.0.1:{port_file.read_text().strip()}"
        self.channel = grpc.insecure_channel(self.address)

    def call(self, method, request_bytes, metadata=None):
        """A unary call with raw bytes; returns (code, details, response bytes)."""
        rpc = self.channel.unary_unary(method)
        try:
            return grpc.StatusCode.OK, "", rpc(request_bytes, timeout=10, metadata=metadata)
        except grpc.RpcError as error:
            return error.code(), error.details(), None

    def close(self):
        self.channel.close()
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


def tokens_file(directory):
    path = directory / "tokens"
    path.write_text(f"client alice sha256:{hashlib.sha256(TOKEN.encode()).hexdigest()}\n"
                    f"worker w1 sha256:{hashlib.sha256(WORKER_TOKEN.encode()).hexdigest()}\n")
    return str(path)


def small_job(name):
    """A SubmitJobRequest of a tiny valid job: an MLP on 4 synthetic samples."""
    request = coordinator_pb2.SubmitJobRequest()
    request.spec.name = name
    request.spec.model.mlp.SetInParent()
    request.spec.dataset.synthetic.classes = 2
    request.spec.dataset.synthetic.features = 2
    request.spec.dataset.synthetic.train_samples = 4
    request.spec.dataset.synthetic.test_samples = 4
    request.spec.loss.cross_entropy.SetInParent()
    request.spec.optimizer.sgd.SetInParent()
    request.spec.optimizer.learning_rate = 0.1
    request.spec.epochs = 1
    request.spec.batch_size = 2
    return request


def upload(coordinator, chunks, metadata=None):
    """An UploadArtifact stream of raw chunk bytes; returns (code, details, Artifact)."""
    rpc = coordinator.channel.stream_unary(SERVICE + "UploadArtifact")
    try:
        reply = rpc(iter(chunks), timeout=30, metadata=metadata)
        return grpc.StatusCode.OK, "", coordinator_pb2.Artifact.FromString(reply)
    except grpc.RpcError as error:
        return error.code(), error.details(), None


def upload_chunks(data, name="model.pt", sha256=None, size=1 << 20):
    """`data` as UploadArtifactRequest bytes: the first chunk named, the last marked."""
    sha256 = sha256 or "sha256:" + hashlib.sha256(data).hexdigest()
    pieces = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
    out = []
    for i, piece in enumerate(pieces):
        chunk = coordinator_pb2.UploadArtifactRequest(data=piece, last=i == len(pieces) - 1)
        if i == 0:
            chunk.name, chunk.sha256 = name, sha256
        out.append(chunk.SerializeToString())
    return out


class FakeWorker:
    """A worker as the protos describe it: a Connect stream fed from a queue, its replies read in
    order, so a test sees exactly what the coordinator sends a worker."""

    def __init__(self, coordinator, name):
        self.outgoing = queue.Queue()
        hello = worker_pb2.WorkerMessage()
        hello.hello.name, hello.hello.slots = name, 1
        self.outgoing.put(hello.SerializeToString())
        connect = coordinator.channel.stream_stream("/polytrain.v1.WorkerService/Connect")
        self.call = connect(iter(self.outgoing.get, None), timeout=60)

    def next_message(self):
        return worker_pb2.CoordinatorMessage.FromString(next(self.call))

    def close(self):
        self.outgoing.put(None)
        self.call.cancel()


def worker_upload(coordinator, chunks):
    """A WorkerService.UploadArtifact stream; returns (code, details, ArtifactReceipt)."""
    rpc = coordinator.channel.stream_unary("/polytrain.v1.WorkerService/UploadArtifact")
    try:
        reply = rpc(iter(c.SerializeToString() for c in chunks), timeout=30)
        return grpc.StatusCode.OK, "", worker_pb2.ArtifactReceipt.FromString(reply)
    except grpc.RpcError as error:
        return error.code(), error.details(), None


def list_services(coordinator, metadata=None):
    """ServerReflection's list_services (field 7 of the request); returns the status code."""
    rpc = coordinator.channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    try:
        replies = list(rpc(iter([b"\x3a\x00"]), timeout=10, metadata=metadata))
        return grpc.StatusCode.OK if replies and b"polytrain.v1.Coordinator" in replies[0] else None
    except grpc.RpcError as error:
        return error.code()


def run_tests():
    """Runs the calling script's tests, removes the scratch files and exits with the result."""
    import unittest
    result = unittest.main(module="__main__", argv=[sys.argv[0], "-v"], exit=False).result
    subprocess.run(["rm", "-rf", str(SCRATCH)])
    sys.exit(0 if result.wasSuccessful() else 1)

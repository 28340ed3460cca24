#!/usr/bin/python3
"""The coordinator driven as an outside client would: Python's grpcio with messages generated
from proto/ alone, and hostile bytes where a client could send them. Every bad request must get a
clear status naming what is wrong, and the coordinator must keep serving.

Usage: raw_client_test.py BUILD_DIR REPO_ROOT (runs real polytrain-coordinator processes).
"""
import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import unittest

import grpc

BUILD, ROOT = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
SCRATCH = pathlib.Path(tempfile.mkdtemp(prefix="raw_client_test_"))

# Python modules for the messages, from the .proto files (no gRPC plugin: methods are called by
# their paths, with bytes in and out).
subprocess.run(["protoc", f"-I{ROOT / 'proto'}", f"--python_out={SCRATCH}"] +
               [str(p) for p in (ROOT / "proto/polytrain/v1").glob("*.proto")], check=True)
sys.path.insert(0, str(SCRATCH))
from polytrain.v1 import coordinator_pb2, job_record_pb2, worker_pb2  # noqa: E402

SERVICE = "/polytrain.v1.Coordinator/"
TOKEN = "a-client-token-of-some-length"


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
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port_file.read_text().strip()}")

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
    path.write_text(f"client alice sha256:{hashlib.sha256(TOKEN.encode()).hexdigest()}\n")
    return str(path)


class OpenCoordinatorTest(unittest.TestCase):
    """A coordinator without tokens."""

    @classmethod
    def setUpClass(cls):
        cls.coordinator = Coordinator("open")

    @classmethod
    def tearDownClass(cls):
        cls.coordinator.close()

    def test_malformed_bytes_are_invalid_argument_for_every_method(self):
        # Field 1 of every request is a string (or a message); 0xff 0xfe is not UTF-8 and
        # 0x0a 0x05 "ab" promises 5 bytes and has 2.
        for method, message in [("SubmitJob", "SubmitJobRequest"), ("GetJob", "GetJobRequest"),
                                ("ListJobs", "ListJobsRequest"),
                                ("CancelJob", "CancelJobRequest"),
                                ("GetMetrics", "GetMetricsRequest"),
                                ("SubmitSweep", "SubmitSweepRequest"),
                                ("CompareJobs", "CompareJobsRequest")]:
            code, details, _ = self.coordinator.call(SERVICE + method, b"\x0a\x05ab")
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, method)
            self.assertTrue(details.startswith(f"request: not a valid polytrain.v1.{message}"),
                            details)
        code, details, _ = self.coordinator.call(SERVICE + "GetJob", b"\x0a\x02\xff\xfe")
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("'polytrain.v1.GetJobRequest.id' contains invalid UTF-8", details)
        watch = self.coordinator.channel.unary_stream(SERVICE + "WatchJob")
        with self.assertRaises(grpc.RpcError) as error:
            list(watch(b"\x0a\x02\xff\xfe", timeout=10))
        self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("polytrain.v1.WatchJobRequest", error.exception.details())

    def test_errors_do_not_echo_what_was_sent_without_bound(self):
        request = coordinator_pb2.CompareJobsRequest(job_ids=["job-1"], baseline_loss="x" * 8000)
        code, details, _ = self.coordinator.call(SERVICE + "CompareJobs",
                                                 request.SerializeToString())
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, details)
        self.assertEqual(details, "baseline_loss: length must be in [0, 128] characters, got 8000")
        download = self.coordinator.channel.unary_stream(
            "/polytrain.v1.WorkerService/DownloadArtifact")
        with self.assertRaises(grpc.RpcError) as error:
            list(download(worker_pb2.DownloadArtifactRequest(path="p" * 100000).SerializeToString(),
                          timeout=10))
        self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertLess(len(error.exception.details()), 200, error.exception.details())
        self.assertIn("(100000 characters)", error.exception.details())

    def test_timestamps_have_sub_second_resolution(self):
        spec = coordinator_pb2.SubmitJobRequest()
        spec.spec.name = "stamped"
        spec.spec.model.mlp.SetInParent()
        spec.spec.dataset.synthetic.classes = 2
        spec.spec.dataset.synthetic.features = 2
        spec.spec.dataset.synthetic.train_samples = 4
        spec.spec.dataset.synthetic.test_samples = 4
        spec.spec.loss.cross_entropy.SetInParent()
        spec.spec.optimizer.sgd.SetInParent()
        spec.spec.optimizer.learning_rate = 0.1
        spec.spec.epochs = 1
        spec.spec.batch_size = 2
        stamps = []
        for _ in range(3):
            code, details, reply = self.coordinator.call(SERVICE + "SubmitJob",
                                                         spec.SerializeToString())
            self.assertEqual(code, grpc.StatusCode.OK, details)
            job = job_record_pb2.Job.FromString(reply)
            stamps.append((job.create_time.seconds, job.create_time.nanos))
        self.assertEqual(len(set(stamps)), 3, stamps)  # whole seconds would repeat
        self.assertTrue(any(nanos != 0 for _, nanos in stamps), stamps)

    def test_reflection_answers_without_tokens(self):
        self.assertEqual(list_services(self.coordinator), grpc.StatusCode.OK)


def list_services(coordinator, metadata=None):
    """ServerReflection's list_services (field 7 of the request); returns the status code."""
    rpc = coordinator.channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    try:
        replies = list(rpc(iter([b"\x3a\x00"]), timeout=10, metadata=metadata))
        return grpc.StatusCode.OK if replies and b"polytrain.v1.Coordinator" in replies[0] else None
    except grpc.RpcError as error:
        return error.code()


class TokenCoordinatorTest(unittest.TestCase):
    """Coordinators with tokens: reflection follows them, health checking stays open."""

    def test_reflection_is_off_with_tokens_unless_asked_for(self):
        directory = SCRATCH / "tokens-a"
        directory.mkdir()
        coordinator = Coordinator("closed", "--tokens", tokens_file(directory))
        try:
            self.assertEqual(list_services(coordinator), grpc.StatusCode.UNIMPLEMENTED)
            code, details, _ = coordinator.call(SERVICE + "ListJobs", b"")
            self.assertEqual(code, grpc.StatusCode.UNAUTHENTICATED, details)
            code, _, _ = coordinator.call(SERVICE + "ListJobs", b"",
                                          metadata=[("authorization", f"Bearer {TOKEN}")])
            self.assertEqual(code, grpc.StatusCode.OK)
            # Probes need no token: grpc.health.v1 answers SERVING (field 1 = 1).
            code, _, reply = coordinator.call("/grpc.health.v1.Health/Check", b"")
            self.assertEqual((code, reply), (grpc.StatusCode.OK, b"\x08\x01"))
        finally:
            coordinator.close()

    def test_reflection_can_be_asked_for_explicitly(self):
        directory = SCRATCH / "tokens-b"
        directory.mkdir()
        coordinator = Coordinator("asked", "--tokens", tokens_file(directory),
                                  "--reflection=true")
        try:
            self.assertEqual(list_services(coordinator), grpc.StatusCode.OK)
        finally:
            coordinator.close()


if __name__ == "__main__":
    result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    subprocess.run(["rm", "-rf", str(SCRATCH)])
    sys.exit(0 if result.wasSuccessful() else 1)

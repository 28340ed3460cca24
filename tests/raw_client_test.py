#!/usr/bin/python3
"""The coordinator driven as an outside client would: Python's grpcio with messages generated
from proto/ alone, and hostile bytes where a client could send them. Every bad request must get a
clear status naming what is wrong, and the coordinator must keep serving. (The worker service's
side: raw_worker_test.py.)

Usage: raw_client_test.py BUILD_DIR REPO_ROOT (runs real polytrain-coordinator processes).
"""
import hashlib
import subprocess
import unittest

import grpc

from raw_grpc import (BUILD, SCRATCH, SERVICE, TOKEN, WORKER_TOKEN, Coordinator, coordinator_pb2,
                      job_record_pb2, list_services, run_tests, small_job, tokens_file, upload,
                      upload_chunks, worker_pb2)


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
                                ("CompareJobs", "CompareJobsRequest"),
                                ("GetSweep", "GetSweepRequest"),
                                ("CancelSweep", "CancelSweepRequest"),
                                ("DeleteJob", "DeleteJobRequest"),
                                ("ListSweeps", "ListSweepsRequest"),
                                ("DeleteSweep", "DeleteSweepRequest"),
                                ("ListArtifacts", "ListArtifactsRequest"),
                                ("DeleteArtifact", "DeleteArtifactRequest")]:
            code, details, _ = self.coordinator.call(SERVICE + method, b"\x0a\x05ab")
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, method)
            self.assertTrue(details.startswith(f"request: not a valid polytrain.v1.{message}"),
                            details)
        code, details, _ = self.coordinator.call(SERVICE + "GetJob", b"\x0a\x02\xff\xfe")
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(details, "id: is not valid UTF-8 (every text field must be)")
        watch = self.coordinator.channel.unary_stream(SERVICE + "WatchJob")
        with self.assertRaises(grpc.RpcError) as error:
            list(watch(b"\x0a\x02\xff\xfe", timeout=10))
        self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(error.exception.details(),
                         "id: is not valid UTF-8 (every text field must be)")
        download = self.coordinator.channel.unary_stream(SERVICE + "DownloadCheckpoint")
        with self.assertRaises(grpc.RpcError) as error:
            list(download(b"\x0a\x05ab", timeout=10))
        self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        details = error.exception.details()
        self.assertTrue(
            details.startswith("request: not a valid polytrain.v1.DownloadCheckpointRequest"),
            details)
        for job_id, code in [("", grpc.StatusCode.INVALID_ARGUMENT),
                             ("a b", grpc.StatusCode.INVALID_ARGUMENT),
                             ("job-nothere", grpc.StatusCode.NOT_FOUND)]:
            request = coordinator_pb2.DownloadCheckpointRequest(id=job_id).SerializeToString()
            with self.assertRaises(grpc.RpcError) as error:
                list(download(request, timeout=10))
            self.assertEqual(error.exception.code(), code, job_id)
            self.assertTrue(error.exception.details().startswith("id: "), error.exception.details())

    def test_a_sweep_state_no_coordinator_knows_is_named(self):
        # An open enum keeps a value from a newer client: refused by its place in the list.
        request = coordinator_pb2.ListSweepsRequest(states=[coordinator_pb2.Sweep.SWEEP_STATE_DONE])
        request.states.append(7)
        code, details, _ = self.coordinator.call(SERVICE + "ListSweeps",
                                                 request.SerializeToString())
        self.assertEqual((code, details), (grpc.StatusCode.INVALID_ARGUMENT,
                                           "states[1]: unknown state 7"))
        code, details, _ = self.coordinator.call(
            SERVICE + "DeleteSweep", coordinator_pb2.DeleteSweepRequest().SerializeToString())
        self.assertEqual((code, details), (grpc.StatusCode.INVALID_ARGUMENT, "id: must be set"))

    def test_malformed_bytes_are_invalid_argument_on_the_worker_service(self):
        worker = "/polytrain.v1.WorkerService/"
        connect = self.coordinator.channel.stream_stream(worker + "Connect")
        hello = worker_pb2.WorkerMessage()
        hello.hello.name = "w-malformed"
        hello.hello.slots = 1
        for messages, expected in [
                ([b"\xff\xff\xff"], "request: not a valid polytrain.v1.WorkerMessage"),
                ([b"\x0a\x05\x0a\x03\xff\xfeA"], "hello.name: is not valid UTF-8"),
                ([hello.SerializeToString(), b"\x0a\x05ab"],
                 "request: not a valid polytrain.v1.WorkerMessage")]:
            with self.assertRaises(grpc.RpcError) as error:
                list(connect(iter(messages), timeout=10))
            self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn(expected, error.exception.details())
        download = self.coordinator.channel.unary_stream(worker + "DownloadArtifact")
        with self.assertRaises(grpc.RpcError) as error:
            list(download(b"\x0a\x02\xc3\x28", timeout=10))
        self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(error.exception.details(),
                         "path: is not valid UTF-8 (every text field must be)")
        upload_rpc = self.coordinator.channel.stream_unary(worker + "UploadArtifact")
        with self.assertRaises(grpc.RpcError) as error:
            upload_rpc(iter([b"\xff\xff\xff"]), timeout=10)
        self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("polytrain.v1.ArtifactChunk", error.exception.details())

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

    def test_replicas_are_bounded_and_split_the_batch_evenly(self):
        for replicas, batch, code, details in [
                (65, 130, grpc.StatusCode.INVALID_ARGUMENT, "spec.replicas: must be in [0, 64], got 65"),
                (-3, 2, grpc.StatusCode.INVALID_ARGUMENT, "spec.replicas: must be in [0, 64], got -3"),
                (3, 4, grpc.StatusCode.INVALID_ARGUMENT,
                 "spec.batch_size: 4 is not a multiple of replicas (3): each replica takes "
                 "batch_size / replicas"),
                (64, 128, grpc.StatusCode.OK, "")]:
            request = small_job("gang-%d" % replicas)
            request.spec.replicas = replicas
            request.spec.batch_size = batch
            got, message, _ = self.coordinator.call(SERVICE + "SubmitJob", request.SerializeToString())
            self.assertEqual(got, code, message)
            self.assertEqual(message or "", details)

    def test_searches_are_checked_field_by_field_and_stored_whole(self):
        base = small_job("search").spec
        base.ClearField("loss")
        base.epochs = 9

        def search(**fields):
            request = coordinator_pb2.SubmitSweepRequest(base=base)
            request.search.strategy = coordinator_pb2.LossSearch.STRATEGY_SUCCESSIVE_HALVING
            request.search.loss.poly1.SetInParent()
            request.search.ranges.add(field="poly1.epsilon", min=-1, max=10)
            request.search.trials = 12
            request.search.min_resource = 1
            for key, value in fields.items():
                setattr(request.search, key, value)
            return request

        nan = float("nan")
        for request, details in [
                (search(trials=0), "search.trials: must be in [1, 1000], got 0"),
                (search(trials=1001), "search.trials: must be in [1, 1000], got 1001"),
                (search(min_resource=10), "search.min_resource: must be in [1, 9], got 10"),
                (search(min_resource=-1), "search.min_resource: must be in [1, 9], got -1"),
                (search(reduction_factor=1), "search.reduction_factor: must be in [2, 16], got 1"),
                (search(top_k=13), "search.top_k: must be at most the 12 configurations, got 13"),
                (search(strategy=99), "search.strategy: unknown strategy 99"),
                (search(unit=7), "search.unit: unknown unit 7")]:
            code, message, _ = self.coordinator.call(SERVICE + "SubmitSweep",
                                                     request.SerializeToString())
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, message)
            self.assertEqual(message, details)
        for field, low, high, details in [
                ("poly1.epsilon", nan, 1, "search.ranges[0].min: must be a finite number, got nan"),
                ("poly1.epsilon", -1, float("inf"), "search.ranges[0].max: must be a finite number, got inf"),
                ("poly1.gamma", 0, 1, "search.ranges[0].field: 'poly1.gamma': Poly1 has no field 'gamma'"),
                ("x" * 5000, 0, 1, "(5000 characters)"),
                ("poly_n.epsilons[99999]", 0, 1, "search.ranges[0].field: 'poly_n.epsilons[99999]'")]:
            request = search()
            del request.search.ranges[:]
            request.search.ranges.add(field=field, min=low, max=high)
            code, message, _ = self.coordinator.call(SERVICE + "SubmitSweep",
                                                     request.SerializeToString())
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, message)
            self.assertIn(details, message)
            self.assertLess(len(message), 400)
        # A valid search is stored whole: its record and its twelve trials, each to pause at 1.
        code, message, reply = self.coordinator.call(SERVICE + "SubmitSweep",
                                                     search().SerializeToString())
        self.assertEqual(code, grpc.StatusCode.OK, message)
        response = coordinator_pb2.SubmitSweepResponse.FromString(reply)
        self.assertEqual(len(response.jobs), 12)
        self.assertTrue(all(j.search.pause_at_epoch == 1 for j in response.jobs))
        code, message, reply = self.coordinator.call(
            SERVICE + "GetSweep",
            coordinator_pb2.GetSweepRequest(id=response.sweep_id).SerializeToString())
        self.assertEqual(code, grpc.StatusCode.OK, message)
        sweep = coordinator_pb2.Sweep.FromString(reply)
        self.assertEqual(sweep.state, coordinator_pb2.Sweep.SWEEP_STATE_RUNNING)
        self.assertEqual([r.resource for r in sweep.rungs], [1, 3, 9])
        self.assertEqual(len(sweep.request.losses), 12)
        for sweep_id, status in [("", grpc.StatusCode.INVALID_ARGUMENT),
                                 ("sweep-" + "f" * 100, grpc.StatusCode.INVALID_ARGUMENT),
                                 ("sweep-nothere", grpc.StatusCode.INVALID_ARGUMENT),
                                 ("sweep-000000000000", grpc.StatusCode.NOT_FOUND)]:
            code, message, _ = self.coordinator.call(
                SERVICE + "GetSweep",
                coordinator_pb2.GetSweepRequest(id=sweep_id).SerializeToString())
            self.assertEqual(code, status, message)
            self.assertTrue(message.startswith("id: "), message)

    def test_unknown_fields_are_refused_naming_where_they_are(self):
        def varint(n):
            out = b""
            while n >= 0x80:
                out, n = out + bytes([n & 0x7f | 0x80]), n >> 7
            return out + bytes([n])

        # Field 127 (length-delimited) of 4 MiB, inside the spec and beside it.
        unknown = b"\xfa\x07" + varint(4 << 20) + b"u" * (4 << 20)
        spec = small_job("unknown-fields").spec.SerializeToString() + unknown
        # A newer client's option the coordinator would otherwise go on without: nothing stored.
        for request, where in [(b"\x0a" + varint(len(spec)) + spec, "spec"),
                               (small_job("beside").SerializeToString() + unknown, "request")]:
            code, details, _ = self.coordinator.call(SERVICE + "SubmitJob", request)
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, details)
            self.assertTrue(details.startswith(
                f"{where}: has field 127 (length-delimited bytes), which this coordinator's "), details)
            self.assertIn("leave it out, or upgrade the coordinator", details)
        # So in every request, e.g. a filter of ListJobs (field 99) or a cancel's.
        for method, request in [("ListJobs", coordinator_pb2.ListJobsRequest()),
                                ("CancelJob", coordinator_pb2.CancelJobRequest(id="job-0123456789ab"))]:
            code, details, _ = self.coordinator.call(SERVICE + method,
                                                     request.SerializeToString() + b"\x98\x06\x01")
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, details)
            self.assertTrue(details.startswith("request: has field 99 (a varint)"), details)
        code, details, reply = self.coordinator.call(
            SERVICE + "ListJobs", coordinator_pb2.ListJobsRequest(page_size=1000).SerializeToString())
        self.assertEqual(code, grpc.StatusCode.OK, details)
        names = [job.spec.name for job in coordinator_pb2.ListJobsResponse.FromString(reply).jobs]
        self.assertNotIn("unknown-fields", names)
        self.assertNotIn("beside", names)

    def test_timestamps_have_sub_second_resolution(self):
        spec = small_job("stamped")
        stamps = []
        for _ in range(3):
            code, details, reply = self.coordinator.call(SERVICE + "SubmitJob",
                                                         spec.SerializeToString())
            self.assertEqual(code, grpc.StatusCode.OK, details)
            job = job_record_pb2.Job.FromString(reply)
            stamps.append((job.create_time.seconds, job.create_time.nanos))
        self.assertEqual(len(set(stamps)), 3, stamps)  # whole seconds would repeat
        self.assertTrue(any(nanos != 0 for _, nanos in stamps), stamps)

    def test_uploads_are_stored_under_their_hash_and_checked(self):
        data = bytes(range(256)) * 10000  # 2.44 MiB: three chunks
        code, details, artifact = upload(self.coordinator, upload_chunks(data))
        self.assertEqual(code, grpc.StatusCode.OK, details)
        digest = hashlib.sha256(data).hexdigest()
        self.assertEqual((artifact.id, artifact.name, artifact.size_bytes),
                         ("sha256:" + digest, "model.pt", len(data)))
        stored = self.coordinator.dir / "artifacts" / "sha256" / digest
        self.assertEqual(stored.read_bytes(), data)
        # Sent again: answered from the first chunk (garbage after it is never read).
        again = upload_chunks(data)[:1] + [b"\x0a\x05ab"] * 3
        code, details, repeat = upload(self.coordinator, again)
        self.assertEqual((code, repeat.id, repeat.create_time),
                         (grpc.StatusCode.OK, artifact.id, artifact.create_time), details)
        code, _, artifact = upload(self.coordinator, upload_chunks(b"", name="empty"))
        self.assertEqual((code, artifact.size_bytes), (grpc.StatusCode.OK, 0))
        code, details, reply = self.coordinator.call(SERVICE + "ListArtifacts", b"")
        self.assertEqual(code, grpc.StatusCode.OK, details)
        listed = coordinator_pb2.ListArtifactsResponse.FromString(reply)
        self.assertEqual([a.name for a in listed.artifacts], ["empty", "model.pt"])

    def test_hostile_uploads_get_a_clear_status_and_store_nothing(self):
        good = upload_chunks(b"x" * 100, name="bad.pt")
        other = "sha256:" + hashlib.sha256(b"y").hexdigest()
        cases = [
            ([b"\x0a\x05ab"], grpc.StatusCode.INVALID_ARGUMENT,
             "request: not a valid polytrain.v1.UploadArtifactRequest"),
            ([], grpc.StatusCode.INVALID_ARGUMENT,
             "last: the upload ended before a chunk marked last"),
            (upload_chunks(b"x" * 100, sha256=other), grpc.StatusCode.DATA_LOSS,
             f"not {other}; nothing stored"),
            (upload_chunks(b"x" * 100, sha256="sha256:" + "A" * 64), grpc.StatusCode.INVALID_ARGUMENT,
             "sha256: expected sha256:<64 lowercase hex digits>"),
            (upload_chunks(b"x" * 100, name="../../etc/passwd"), grpc.StatusCode.INVALID_ARGUMENT,
             "name: not a file name: '../../etc/passwd'"),
            (upload_chunks(b"x" * 100, name=""), grpc.StatusCode.INVALID_ARGUMENT,
             "name: not a file name: ''"),
            (upload_chunks(b"z" * ((1 << 20) + 1), size=(1 << 20) + 1),
             grpc.StatusCode.INVALID_ARGUMENT,
             "chunk 1: data: chunks are at most 1 MiB, got 1048577 bytes"),
            ([good[0].replace(b"\x20\x01", b""),
              coordinator_pb2.UploadArtifactRequest(name="again", last=True).SerializeToString()],
             grpc.StatusCode.INVALID_ARGUMENT, "chunk 2: name: set on the first chunk only"),
            (good + [coordinator_pb2.UploadArtifactRequest(data=b"more").SerializeToString()],
             grpc.StatusCode.INVALID_ARGUMENT,
             "last: a chunk came after the one marked last (it must end the upload); nothing "
             "stored"),
        ]
        for chunks, code, message in cases:
            got, details, _ = upload(self.coordinator, chunks)
            self.assertEqual(got, code, details)
            self.assertIn(message, details)
        leftovers = [p.name for p in (self.coordinator.dir / "artifacts" / "sha256").iterdir()
                     if p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest() != p.name]
        self.assertEqual(leftovers, [])

    def test_a_job_naming_an_artifact_nobody_uploaded_is_refused(self):
        spec = small_job("byo")
        spec.spec.model.torchscript.artifact = "sha256:" + "0" * 64
        code, details, _ = self.coordinator.call(SERVICE + "SubmitJob", spec.SerializeToString())
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND, details)
        self.assertIn("spec.model.torchscript.artifact: no artifact sha256:000", details)
        code, details, _ = self.coordinator.call(
            SERVICE + "DeleteArtifact",
            coordinator_pb2.DeleteArtifactRequest(id="sha256:" + "0" * 64).SerializeToString())
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND, details)

    def test_the_upload_limit_holds_at_its_edge(self):
        small = Coordinator("small", "--max_artifact_bytes", "1000")
        try:
            code, details, _ = upload(small, upload_chunks(b"e" * 1000))
            self.assertEqual(code, grpc.StatusCode.OK, details)
            code, details, _ = upload(small, upload_chunks(b"f" * 1001))
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertEqual(details, "data: the artifact is larger than this coordinator's "
                             "--max_artifact_bytes (1000 bytes)")
        finally:
            small.close()

    def test_reflection_answers_without_tokens(self):
        self.assertEqual(list_services(self.coordinator), grpc.StatusCode.OK)


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
            # Only client and admin tokens may upload.
            chunks = upload_chunks(b"payload")
            code, _, _ = upload(coordinator, chunks,
                                [("authorization", f"Bearer {WORKER_TOKEN}")])
            self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED)
            code, details, artifact = upload(coordinator, chunks,
                                             [("authorization", f"Bearer {TOKEN}")])
            self.assertEqual((code, artifact.owner), (grpc.StatusCode.OK, "alice"), details)
            # Nor may a worker token read a job's trained model, or no token at all.
            download = coordinator.channel.unary_stream(SERVICE + "DownloadCheckpoint")
            request = coordinator_pb2.DownloadCheckpointRequest(id="job-x").SerializeToString()
            for metadata, code in [([("authorization", f"Bearer {WORKER_TOKEN}")],
                                    grpc.StatusCode.PERMISSION_DENIED),
                                   ([], grpc.StatusCode.UNAUTHENTICATED),
                                   ([("authorization", f"Bearer {TOKEN}")],
                                    grpc.StatusCode.NOT_FOUND)]:
                with self.assertRaises(grpc.RpcError) as error:
                    list(download(request, timeout=10, metadata=metadata))
                self.assertEqual(error.exception.code(), code, metadata)
            # Probes need no token: grpc.health.v1 answers SERVING (field 1 = 1).
            code, _, reply = coordinator.call("/grpc.health.v1.Health/Check", b"")
            self.assertEqual((code, reply), (grpc.StatusCode.OK, b"\x08\x01"))
        finally:
            coordinator.close()

    def test_two_tokens_or_an_empty_one_on_a_call_are_refused(self):
        # Whatever their order: who calls is not left to which header came first (a proxy's).
        directory = SCRATCH / "tokens-c"
        directory.mkdir()
        coordinator = Coordinator("two-tokens", "--tokens", tokens_file(directory))
        try:
            for pair in [(TOKEN, WORKER_TOKEN), (WORKER_TOKEN, TOKEN), (TOKEN, TOKEN)]:
                code, details, _ = coordinator.call(
                    SERVICE + "ListJobs", b"",
                    metadata=[("authorization", f"Bearer {token}") for token in pair])
                self.assertEqual((code, details), (grpc.StatusCode.UNAUTHENTICATED,
                                                   "authorization: given 2 times; send one token"))
            # A header sent empty is said to be empty, not missing.
            code, details, _ = coordinator.call(SERVICE + "ListJobs", b"",
                                                metadata=[("authorization", "")])
            self.assertEqual((code, details),
                             (grpc.StatusCode.UNAUTHENTICATED, "authorization: empty; send "
                              "'Bearer <token>' (or leave it out for no token)"))
        finally:
            coordinator.close()

    def test_a_client_tokens_uploads_stop_at_its_storage_quota(self):
        directory = SCRATCH / "tokens-d"
        directory.mkdir()
        coordinator = Coordinator("quota", "--tokens", tokens_file(directory),
                                  "--max_artifact_bytes_per_client", "10")
        alice = [("authorization", f"Bearer {TOKEN}")]
        try:
            for data in (b"123456", b"abcd"):  # 10 bytes in all: the edge
                code, details, _ = upload(coordinator, upload_chunks(data), alice)
                self.assertEqual(code, grpc.StatusCode.OK, details)
            one_more = coordinator_pb2.UploadArtifactRequest(
                name="x.pt", sha256="sha256:" + hashlib.sha256(b"x").hexdigest(), data=b"x",
                last=True)
            code, details, _ = upload(coordinator, [one_more.SerializeToString()], alice)
            self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertTrue(details.startswith(
                "data: the artifact's 1 byte would take client 'alice' past its storage quota of "
                "10 bytes (the coordinator's --max_artifact_bytes_per_client): its artifacts hold "
                "10 bytes; nothing stored"), details)
            one_more.size_bytes = 1
            code, details, _ = upload(coordinator, [one_more.SerializeToString()], alice)
            self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertTrue(details.startswith("size_bytes: the artifact's 1 byte"), details)
            code, _, reply = coordinator.call(SERVICE + "ListArtifacts", b"", metadata=alice)
            listed = coordinator_pb2.ListArtifactsResponse.FromString(reply)
            self.assertEqual((len(listed.artifacts), listed.total_records, listed.total_bytes,
                              listed.quota_bytes), (2, 2, 10, 10))
        finally:
            coordinator.close()
        refused = subprocess.run([str(BUILD / "server/polytrain-coordinator"),
                                  "--max_artifact_bytes_per_client", "-1"],
                                 capture_output=True, text=True, timeout=30)
        self.assertEqual(refused.returncode, 2, refused.stderr)
        self.assertIn("--max_artifact_bytes_per_client", refused.stderr)

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
    run_tests()

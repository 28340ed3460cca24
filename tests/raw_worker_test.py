#!/usr/bin/python3
"""The coordinator's worker service driven by a worker built from the protos alone (Python's
grpcio, messages generated from proto/): what it hears of the reports it sends, the checkpoints
it stores, and the trained models clients download from them.

Usage: raw_worker_test.py BUILD_DIR REPO_ROOT (runs real polytrain-coordinator processes).
"""
import time
import unittest
import zlib

import grpc

from raw_grpc import (SERVICE, Coordinator, FakeWorker, coordinator_pb2, job_record_pb2,
                      run_tests, small_job, worker_pb2, worker_upload)


class WorkerReportTest(unittest.TestCase):
    """What a worker built from the protos hears of the reports it sends."""

    def test_a_refused_report_is_acknowledged_with_the_field_that_is_wrong(self):
        coordinator = Coordinator("worker-refused")
        worker = FakeWorker(coordinator, "w-refused")
        try:
            self.assertEqual(worker.next_message().WhichOneof("kind"), "welcome")
            bad = worker_pb2.WorkerMessage(sequence=7)
            bad.metrics.job_id = "job-x"  # attempt 0: refused for good
            worker.outgoing.put(bad.SerializeToString())
            ack = worker.next_message()
            self.assertEqual(ack.WhichOneof("kind"), "ack")
            self.assertEqual((ack.ack.sequence, ack.ack.refused_sequence), (7, 7))
            self.assertTrue(ack.ack.refused.startswith("metrics.attempt: "), ack.ack.refused)
            # A newer worker's field (99, in a heartbeat) is dropped, not refused: workers may be
            # upgraded before their coordinator (a client's is refused: raw_client_test).
            good = worker_pb2.WorkerMessage(sequence=8)
            good.heartbeat.SetInParent()
            worker.outgoing.put(good.SerializeToString() + b"\x98\x06\x01")
            ack = worker.next_message()
            self.assertEqual((ack.ack.sequence, ack.ack.refused_sequence, ack.ack.refused),
                             (8, 0, ""))
        finally:
            worker.close()
            coordinator.close()

    def test_a_lease_that_lapses_after_refused_reports_says_why(self):
        # A worker of another version whose every report is refused (here: no attempt, 0) looks
        # silent about its job: the lease's end says why (probe DC: "lease expired" alone).
        coordinator = Coordinator("worker-old", "--lease_seconds", "1")
        worker = FakeWorker(coordinator, "w-old")
        try:
            self.assertEqual(worker.next_message().WhichOneof("kind"), "welcome")
            code, details, reply = coordinator.call(SERVICE + "SubmitJob",
                                                    small_job("old-worker").SerializeToString())
            self.assertEqual(code, grpc.StatusCode.OK, details)
            job_id = job_record_pb2.Job.FromString(reply).id
            self.assertEqual(worker.next_message().assignment.job.id, job_id)
            started = worker_pb2.WorkerMessage(sequence=1)
            started.started.job_id = job_id
            worker.outgoing.put(started.SerializeToString())
            ack = worker.next_message()
            self.assertEqual(ack.ack.refused, "started.attempt: must be in [1, 2147483647], got 0")
            def error_of_attempt(attempt):
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    _, _, reply = coordinator.call(SERVICE + "GetJob", coordinator_pb2.GetJobRequest(
                        id=job_id).SerializeToString())
                    job = job_record_pb2.Job.FromString(reply)
                    if f"(attempt {attempt})" in job.error:
                        return job.error
                    time.sleep(0.05)  # polling the coordinator's answer
                return job.error

            self.assertEqual(error_of_attempt(1), "lease expired on worker w-old (attempt 1); its "
                             "reports of the job were refused: started.attempt: must be in "
                             "[1, 2147483647], got 0")
            # Attempt 2 on another worker (w-old's slot waits for it to confirm the stop): a
            # refused report, then one taken, then silence. That lease lapsed after a report was
            # taken: no word of the refusal.
            second = FakeWorker(coordinator, "w-next")
            self.assertEqual(second.next_message().WhichOneof("kind"), "welcome")
            self.assertEqual(second.next_message().assignment.job.attempts, 2)
            for sequence, attempt, refused in [(2, 0, True), (3, 2, False)]:
                report = worker_pb2.WorkerMessage(sequence=sequence)
                report.started.job_id, report.started.attempt = job_id, attempt
                second.outgoing.put(report.SerializeToString())
                self.assertEqual(bool(second.next_message().ack.refused), refused)
            error = error_of_attempt(2)
            self.assertTrue(error.startswith("lease expired on worker w-next (attempt 2)"), error)
            self.assertNotIn("refused", error)
            second.close()
        finally:
            worker.close()
            coordinator.close()

    def test_refused_worker_calls_and_stream_ends_are_logged_with_the_peer(self):
        coordinator = Coordinator("worker-log")
        worker = FakeWorker(coordinator, "w-log")
        try:
            self.assertEqual(worker.next_message().WhichOneof("kind"), "welcome")
            # Messages refused for good: the first 10 a minute logged, the rest counted.
            for sequence in range(1, 13):
                bad = worker_pb2.WorkerMessage(sequence=sequence)
                bad.metrics.job_id = "job-x"  # attempt 0
                worker.outgoing.put(bad.SerializeToString())
                self.assertEqual(worker.next_message().ack.refused_sequence, sequence)
            twin = FakeWorker(coordinator, "w-log")  # the name a live worker holds
            with self.assertRaises(grpc.RpcError) as refused:
                twin.next_message()
            self.assertEqual(refused.exception.code(), grpc.StatusCode.ALREADY_EXISTS)
            download = coordinator.channel.unary_stream(
                "/polytrain.v1.WorkerService/DownloadArtifact")
            request = worker_pb2.DownloadArtifactRequest(
                path="job-000000000000/ckpt-000000000001.pt", session_key="0" * 32)
            with self.assertRaises(grpc.RpcError) as refused:
                list(download(request.SerializeToString(), timeout=10))
            download_code = refused.exception.code().name
            # A second hello on its stream ends it, and is logged as a refusal too.
            hello = worker_pb2.WorkerMessage()
            hello.hello.name, hello.hello.slots = "w-log", 1
            worker.outgoing.put(hello.SerializeToString())
            with self.assertRaises(grpc.RpcError) as refused:
                worker.next_message()
            self.assertEqual(refused.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
            # Past 10 in a minute, refusals are counted, as what they are: malformed hellos are
            # no access refusals.
            for _ in range(10):
                with self.assertRaises(grpc.RpcError) as refused:
                    FakeWorker(coordinator, "not a name!").next_message()
                self.assertEqual(refused.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            # The stream's end is logged once the coordinator sees it: polled for, not slept on.
            deadline = time.monotonic() + 30
            while ("worker w-log disconnected" not in (coordinator.dir / "log").read_text()
                   and time.monotonic() < deadline):
                time.sleep(0.05)
        finally:
            worker.close()
            coordinator.close()
        log = (coordinator.dir / "log").read_text()
        self.assertRegex(log, r"worker w-log connected from ipv4:127\.0\.0\.1:\d+ \(1 slot")
        self.assertRegex(log, r"refused a call from ipv4:127\.0\.0\.1:\d+: ALREADY_EXISTS: ")
        self.assertRegex(log, rf"refused a call from ipv4:127\.0\.0\.1:\d+: {download_code}: ")
        self.assertIn("FAILED_PRECONDITION: hello: sent twice on one stream", log)
        self.assertIn("worker w-log disconnected", log)
        self.assertRegex(log, r"refused \d+ more worker-protocol call\(s\) \(access, or a "
                              r"malformed message\) since 10 were logged")
        self.assertNotIn("by access control", log)
        self.assertEqual(log.count("refused a message from worker w-log: metrics.attempt: "), 10)
        self.assertIn("refused 2 more message(s) from worker w-log since 10 were logged", log)


class WorkerUploadTest(unittest.TestCase):
    """A checkpoint upload over the worker service, from a worker built from the protos."""

    def test_a_checkpoint_is_stored_only_when_its_stream_ends_after_the_last_chunk(self):
        coordinator = Coordinator("worker-upload")
        worker = FakeWorker(coordinator, "w-upload")
        try:
            welcome = worker.next_message()
            self.assertEqual(welcome.WhichOneof("kind"), "welcome")
            session_key = welcome.welcome.session_key
            self.assertRegex(session_key, "^[0-9a-f]{32}$")
            code, details, reply = coordinator.call(SERVICE + "SubmitJob",
                                                    small_job("ckpt").SerializeToString())
            self.assertEqual(code, grpc.StatusCode.OK, details)
            job_id = job_record_pb2.Job.FromString(reply).id
            assignment = worker.next_message()
            self.assertEqual(assignment.assignment.job.id, job_id)
            attempt = assignment.assignment.job.attempts
            data = b"checkpoint bytes" * 1000

            def chunks(name, extra=None, key=session_key):
                first = worker_pb2.ArtifactChunk(job_id=job_id, attempt=attempt, name=name,
                                                 data=data[:9000], session_key=key)
                last = worker_pb2.ArtifactChunk(data=data[9000:], last=True, size=len(data),
                                                crc32=zlib.crc32(data))
                return [first, last] + ([extra] if extra else [])

            job_dir = coordinator.dir / "artifacts" / job_id

            def stored():
                return sorted(p.name for p in job_dir.glob("ckpt-*"))

            code, details, _ = worker_upload(
                coordinator, chunks("ckpt-000000000001.pt", worker_pb2.ArtifactChunk(data=b"x")))
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertEqual(details, "last: a chunk came after the one marked last (it must end "
                             "the upload); nothing stored")
            self.assertEqual(stored(), [])
            # Only the worker running the attempt stores its checkpoints, and only those.
            for key in ("", "0" * 32):
                code, details, _ = worker_upload(coordinator, chunks("ckpt-000000000001.pt",
                                                                     key=key))
                self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED, details)
                self.assertTrue(details.startswith("session_key: "), details)
            code, details, _ = worker_upload(coordinator, chunks("notes.txt"))
            self.assertEqual((code, details), (
                grpc.StatusCode.INVALID_ARGUMENT,
                "name: a worker stores only checkpoints (ckpt-<12 digits>.pt), got 'notes.txt'"))
            self.assertEqual(stored(), [])
            code, details, _ = worker_upload(coordinator, chunks("ckpt-000000000001.pt")[:1])
            self.assertEqual((code, details), (grpc.StatusCode.INVALID_ARGUMENT,
                                               "last: the upload ended before a chunk marked last"))
            code, details, receipt = worker_upload(coordinator, chunks("ckpt-000000000002.pt"))
            self.assertEqual(code, grpc.StatusCode.OK, details)
            self.assertEqual((receipt.path, receipt.size),
                             (f"{job_id}/ckpt-000000000002.pt", len(data)))
            self.assertEqual(stored(), ["ckpt-000000000002.pt"])
            self.assertEqual((job_dir / "ckpt-000000000002.pt").read_bytes(), data)
            code, details, reply = coordinator.call(
                SERVICE + "GetJob", coordinator_pb2.GetJobRequest(id=job_id).SerializeToString())
            self.assertEqual(job_record_pb2.Job.FromString(reply).checkpoint,
                             f"{job_id}/ckpt-000000000002.pt")
        finally:
            worker.close()
            coordinator.close()

class CheckpointDownloadTest(unittest.TestCase):
    """Trained models downloaded over Coordinator.DownloadCheckpoint from what a worker stored."""

    def test_a_caller_downloads_at_most_four_checkpoints_at_once(self):
        coordinator = Coordinator("download-limit")
        worker = FakeWorker(coordinator, "w-download")
        # No BDP probing: the window stays small, so a download nobody reads stays open.
        channel = grpc.insecure_channel(coordinator.address, [("grpc.http2.bdp_probe", 0)])
        try:
            session_key = worker.next_message().welcome.session_key
            code, details, reply = coordinator.call(SERVICE + "SubmitJob",
                                                    small_job("big").SerializeToString())
            self.assertEqual(code, grpc.StatusCode.OK, details)
            job_id = job_record_pb2.Job.FromString(reply).id
            attempt = worker.next_message().assignment.job.attempts
            data = bytes(range(256)) * (32 << 10)  # 8 MiB
            chunks = [worker_pb2.ArtifactChunk(data=data[i:i + (1 << 20)])
                      for i in range(0, len(data), 1 << 20)]
            chunks[0].job_id, chunks[0].attempt, chunks[0].session_key = job_id, attempt, session_key
            chunks[0].name = "ckpt-000000000007.pt"
            chunks[-1].last, chunks[-1].size, chunks[-1].crc32 = True, len(data), zlib.crc32(data)
            code, details, _ = worker_upload(coordinator, chunks)
            self.assertEqual(code, grpc.StatusCode.OK, details)

            download = channel.unary_stream(SERVICE + "DownloadCheckpoint")
            request = coordinator_pb2.DownloadCheckpointRequest(id=job_id).SerializeToString()
            held = [download(request, timeout=60) for _ in range(4)]
            firsts = [coordinator_pb2.CheckpointChunk.FromString(next(call)) for call in held]
            for first in firsts:
                self.assertEqual((first.name, first.step, list(first.passed_over)),
                                 ("ckpt-000000000007.pt", 7, []))
            with self.assertRaises(grpc.RpcError) as error:
                list(download(request, timeout=30))
            self.assertEqual((error.exception.code(), error.exception.details()), (
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "at most 4 checkpoint downloads at once per caller (a fixed limit); wait for one to end"))

            # One read to its end is the whole file, and gives its place back (once its stream
            # is done on the coordinator's side too: asked again until then).
            rest = [coordinator_pb2.CheckpointChunk.FromString(c) for c in held[0]]
            self.assertEqual(firsts[0].data + b"".join(c.data for c in rest), data)
            self.assertEqual((rest[-1].last, rest[-1].size, rest[-1].crc32),
                             (True, len(data), zlib.crc32(data)))
            deadline = time.monotonic() + 30
            while True:
                try:
                    again = [coordinator_pb2.CheckpointChunk.FromString(c)
                             for c in download(request, timeout=30)]
                    break
                except grpc.RpcError as refused:
                    if (refused.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or
                            time.monotonic() > deadline):
                        raise
                    time.sleep(0.01)
            self.assertEqual(b"".join(c.data for c in again), data)
            for call in held[1:]:
                call.cancel()
        finally:
            channel.close()
            worker.close()
            coordinator.close()


if __name__ == "__main__":
    run_tests()

#!/usr/bin/python3
"""The Python client against a real coordinator and worker on loopback: jobs from text, dicts and
messages, a TorchScript module and a tensor file uploaded from Python and swept over three
losses, the comparison as rows, errors as PolyTrainError naming the field, watches that fall
behind. Run from here too: the client's own argument checks
(client_arguments_test.py), spec files (client_spec_file_test.py), uploads that cannot be sent
or are interrupted (client_upload_test.py), its token and TLS
(client_security_test.py), listings (jobs and sweeps by state, pages, deletion of a sweep:
client_listing_test.py), a coordinator that restarts (client_connection_test.py), checkpoints
downloaded, the newest and the best (client_checkpoint_test.py).

Usage: client_test.py BUILD_DIR [TEST...] (BUILD_DIR/python holds the generated polytrain.v1; the
package's own modules are taken from this directory, so that the test sees them as edited,
without a build).
"""
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import warnings
from unittest import mock

import grpc

from client_support import SCRATCH, SMALL_JOB, Service, ServiceTestCase  # sets sys.path first
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import polytrain  # noqa: E402
from polytrain import Client, PolyTrainError  # noqa: E402
from polytrain.v1 import job_pb2, job_record_pb2, metrics_pb2  # noqa: E402
from client_arguments_test import ArgumentTest  # noqa: E402,F401 (run here)
from client_security_test import TlsTest, TokenTest  # noqa: E402,F401 (run here)
from client_spec_file_test import SpecFileTest  # noqa: E402,F401 (run here)
from client_upload_test import UploadTest  # noqa: E402,F401 (run here)
from client_listing_test import ListingTest, StateNameTest  # noqa: E402,F401 (run here)
from client_connection_test import ConnectionTest  # noqa: E402,F401 (run here)
from client_checkpoint_test import CheckpointTest  # noqa: E402,F401 (run here)


def raise_(error):
    raise error


class ClientTest(ServiceTestCase):
    SERVICE_NAME = "open"

    def test_a_job_from_text_runs_and_its_events_and_metrics_are_rows(self):
        job = self.client.submit(SMALL_JOB)
        self.assertTrue(job.id.startswith("job-"))
        events = list(self.client.watch(job.id))
        states = [e.job.state for e in events if e.HasField("job")]
        self.assertEqual(states[-1], job_record_pb2.JOB_STATE_SUCCEEDED)
        self.assertTrue(any(e.HasField("point") for e in events))
        rows = self.client.metrics(job.id)
        evals = [r for r in rows if r["kind"] == "KIND_EVAL"]
        self.assertEqual(len(evals), 2)  # one per epoch
        self.assertIn("eval_accuracy", evals[-1])
        self.assertEqual(evals[-1]["step"], 20)  # 300 samples / 30 x 2 epochs
        # A map's columns come in key order, the same every call (probe CE: a DataFrame's
        # columns came in the map's hash order).
        point = metrics_pb2.MetricPoint(step=1)
        for i in reversed(range(30)):
            point.values[f"v{i:02d}"] = i
        self.assertEqual([k for k in polytrain._messages.row(point) if k.startswith("v")],
                         [f"v{i:02d}" for i in range(30)])
        self.assertEqual(self.client.get(job.id).state, job_record_pb2.JOB_STATE_SUCCEEDED)
        self.assertIn(job.id, [j.id for j in self.client.jobs(labels={})])

    def test_a_submit_whose_answer_was_lost_is_sent_again_and_stored_once(self):
        # The coordinator stores the first try, then the connection is lost before its answer
        # (as when it restarts): the client sends the same request (its generated request id)
        # again and gets the job stored the first time.
        class Lost(grpc.RpcError):
            def code(self):
                return grpc.StatusCode.UNAVAILABLE

            def details(self):
                return "Socket closed"

        with Client(self.service.address) as client:
            real = client._stub.SubmitJob
            sent = []

            def lose_the_first_answer(request, **kwargs):
                sent.append(request.client_request_id)
                job = real(request, **kwargs)
                if len(sent) == 1:
                    raise Lost()
                return job

            client._stub.SubmitJob = lose_the_first_answer
            spec = SMALL_JOB.replace('name: "small"', 'name: "resent"')
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                job = client.submit(spec)
            self.assertEqual(len(sent), 2)
            self.assertEqual(sent[0], sent[1])
            self.assertTrue(sent[0].startswith("python-"), sent[0])
            self.assertTrue(any("sending it again" in str(w.message) for w in caught), caught)
            stored = [j for j in client.jobs() if j.client_request_id == sent[0]]
            self.assertEqual([j.id for j in stored], [job.id])
            # With reconnect_seconds 0, nothing is sent again: the error at once.
            client.reconnect_seconds = 0
            sent.clear()
            client._stub.SubmitJob = lambda request, **kwargs: (sent.append(1), raise_(Lost()))
            with self.assertRaises(PolyTrainError) as error:
                client.submit(spec)
            self.assertEqual(error.exception.code, "UNAVAILABLE")
            self.assertEqual(len(sent), 1)

    def test_closing_the_client_ends_a_watch_in_another_thread_with_its_error(self):
        # A job no worker here can run (it needs a GPU) stays queued: the watch waits on it.
        job = self.client.submit(SMALL_JOB.replace("epochs:", "device: DEVICE_CUDA\nepochs:"))
        own = Client(self.service.address)
        first_event, outcome = threading.Event(), []

        def watch():
            try:
                for _ in own.watch(job.id):
                    first_event.set()
            except Exception as error:  # noqa: BLE001 - the test asserts which one it was
                outcome.append(error)
            first_event.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        self.assertTrue(first_event.wait(30))
        own.close()
        watcher.join(30)
        self.assertFalse(watcher.is_alive())
        self.client.cancel(job.id)
        self.assertEqual(len(outcome), 1)
        self.assertIsInstance(outcome[0], PolyTrainError)
        self.assertEqual(outcome[0].code, "FAILED_PRECONDITION")
        self.assertIn("this Client is closed", outcome[0].message)

    def test_a_wait_with_a_timeout_gives_up_and_the_job_goes_on(self):
        # A job no worker here can run (it needs a GPU) stays queued (probe CC: wait() had no
        # timeout, and such a job blocked it for good).
        job = self.client.submit(SMALL_JOB.replace("epochs:", "device: DEVICE_CUDA\nepochs:"))
        with self.assertRaisesRegex(TimeoutError, f"job {job.id} did not end within wait\\(\\)'s "
                                                  r"timeout; it goes on \(cancel\(\) stops it\)"):
            self.client.wait(job.id, timeout=0.5)
        self.assertEqual(self.client.get(job.id).state, job_record_pb2.JOB_STATE_QUEUED)
        for bad in (0, -1, 1e9, float("nan")):
            with self.assertRaisesRegex(ValueError, r"timeout: expected seconds in \(0, "):
                self.client.wait(job.id, timeout=bad)
        for bad in ("1", True):
            with self.assertRaisesRegex(TypeError, "timeout: expected seconds"):
                self.client.wait(job.id, timeout=bad)
        self.client.cancel(job.id)
        self.assertEqual(self.client.wait(job.id, timeout=30).state,
                         job_record_pb2.JOB_STATE_CANCELLED)

    def test_a_watch_that_fell_behind_resumes_and_passes_each_event_once(self):
        # 4 KiB of backlog: a consumer that stops reading while hundreds of points are made
        # falls behind, and the coordinator ends its watch. One watch per caller: the resumed
        # watch may reach the coordinator before it has freed the place of the one that fell
        # behind.
        service = Service("behind", "--max_watch_backlog_bytes", "4096",
                          "--max_watches_per_caller", "1")
        try:
            with Client(service.address) as client:
                spec = SMALL_JOB.replace("epochs: 2", "epochs: 10000").replace(
                    "log_every_steps: 5", "log_every_steps: 1")
                job = client.submit(spec)
                watches = []  # WatchJob calls: the watch must have been resumed
                watch_job = client._stub.WatchJob
                client._stub.WatchJob = lambda *a, **k: watches.append(1) or watch_job(*a, **k)
                events = client.watch(job.id)
                first = next(events)  # the stream is open; nothing more is read for a while
                deadline = time.monotonic() + 120
                # Far more than 4 KiB of events, and than what gRPC's windows take in transit.
                while len(client.metrics(job.id)) < 3000:
                    self.assertLess(time.monotonic(), deadline, client.get(job.id))
                    time.sleep(0.05)
                # Read on while the job still runs: the watch resumes mid-run, where the job is
                # as it was, then cancel it and read to the end.
                seen = [first]
                while sum(e.HasField("point") for e in seen) < 3050:
                    seen.append(next(events))
                client.cancel(job.id)
                seen.extend(events)
                points = [(e.point.step, e.point.kind) for e in seen if e.HasField("point")]
                self.assertEqual(len(points), len(set(points)))
                self.assertEqual(len(points), len(client.metrics(job.id)))
                jobs = [e.job for e in seen if e.HasField("job")]
                self.assertEqual(jobs[-1].state, job_record_pb2.JOB_STATE_CANCELLED)
                for before, after in zip(jobs, jobs[1:]):
                    self.assertNotEqual(before, after)
                self.assertGreaterEqual(len(watches), 2)
        finally:
            service.close()

    def test_specs_as_dicts_and_messages_and_errors_naming_the_field(self):
        spec = job_pb2.JobSpec()
        from google.protobuf import text_format
        text_format.Parse(SMALL_JOB, spec)
        as_dict = {"name": "from-dict", "model": {"mlp": {}}, "dataset": {"synthetic": {
            "classes": 2, "features": 4, "train_samples": 40, "test_samples": 20}},
            "loss": {"crossEntropy": {}}, "optimizer": {"sgd": {}, "learningRate": 0.1},
            "epochs": 1, "batchSize": 10}
        for value in (spec, as_dict):
            self.assertEqual(self.client.wait(self.client.submit(value).id).state,
                             job_record_pb2.JOB_STATE_SUCCEEDED)
        spec.batch_size = 0
        with self.assertRaises(PolyTrainError) as error:
            self.client.submit(spec)
        self.assertEqual(error.exception.code, "INVALID_ARGUMENT")
        self.assertEqual(error.exception.message, "spec.batch_size: must be in [1, 65536], got 0")
        # The coordinator's INVALID_ARGUMENT is a ValueError, as the client's own checks are.
        self.assertIsInstance(error.exception, ValueError)
        self.assertIsInstance(error.exception, polytrain.ArgumentError)
        with self.assertRaises(PolyTrainError) as error:
            self.client.submit("model { mlp { hidden: x } }")
        self.assertEqual(error.exception.code, "INVALID_ARGUMENT")
        self.assertIn("spec:", error.exception.message)
        with self.assertRaises(PolyTrainError) as error:
            self.client.get("job-000000000000")
        self.assertEqual(error.exception.code, "NOT_FOUND")
        self.assertNotIsInstance(error.exception, ValueError)
        for beyond_loopback in ("192.0.2.1:50051", "localhost.example.com:50051",
                                "127.0.0.1.example.com:1", "128.0.0.1:1"):
            with self.assertRaises(ValueError):
                Client(beyond_loopback)  # plaintext only to a loopback address written out
        Client("localhost:1").close()
        Client("[::1]:1").close()

    def test_a_python_model_and_tensors_swept_over_three_losses(self):
        torch.manual_seed(0)
        module = torch.jit.script(nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3)))
        means = torch.randn(3, 8) * 3
        y, ty = torch.randint(0, 3, (600,)), torch.randint(0, 3, (150,))
        data_path = SCRATCH / "data.pt"
        torch.save({"train_x": means[y] + torch.randn(600, 8), "train_y": y,
                    "test_x": means[ty] + torch.randn(150, 8), "test_y": ty}, data_path)
        model = self.client.upload(module, name="mlp.pt")
        data = self.client.upload(data_path)
        self.assertEqual(data.id, "sha256:" + hashlib.sha256(data_path.read_bytes()).hexdigest())
        self.assertEqual(data.name, "data.pt")
        again = self.client.upload(data_path)
        self.assertEqual(again.create_time, data.create_time)

        base = {"name": "py-byo", "model": {"torchscript": {"artifact": model.id}},
                "dataset": {"tensors": {"artifact": data.id}},
                "optimizer": {"sgd": {}, "learningRate": 0.1}, "epochs": 2, "batchSize": 50}
        sweep = self.client.sweep(base, ["cross_entropy {}", {"poly1": {"epsilon": 1}},
                                         "focal { gamma: 2 }"], seeds=2)
        self.assertEqual(len(sweep.jobs), 6)
        for job in sweep.jobs:
            self.assertEqual(self.client.wait(job.id).state, job_record_pb2.JOB_STATE_SUCCEEDED)
        rows = self.client.compare(sweep_id=sweep.sweep_id)
        self.assertEqual(sorted(r["loss_name"] for r in rows), ["ce", "focal(g=2)", "poly1(e=1)"])
        for row in rows:
            self.assertEqual(row["runs"], 2)
            self.assertGreater(row["mean"], 0.5)  # separable classes: well above chance
        per_job = self.client.compare(sweep_id=sweep.sweep_id, per_job=True)
        self.assertEqual(len(per_job), 6)
        self.assertIn("eval_accuracy", per_job[0])
        listed = {a.id: a.active_jobs for a in self.client.artifacts()}
        self.assertEqual((listed[model.id], listed[data.id]), (0, 0))

        # A local path under `files` is uploaded for you; the caller's spec is left as it was.
        local = {"name": "py-files", "model": {"torchscript": {"artifact": model.id}},
                 "dataset": {"tensors": {"path": "data.pt"}},
                 "optimizer": {"sgd": {}, "learningRate": 0.1}, "epochs": 1, "batchSize": 50,
                 "loss": {"crossEntropy": {}}}
        job = self.client.submit(local, files=SCRATCH)
        self.assertEqual(job.spec.dataset.tensors.artifact, data.id)
        self.assertEqual(self.client.wait(job.id).state, job_record_pb2.JOB_STATE_SUCCEEDED)
        # A spec file's paths are uploaded from its own directory, as polyctl does.
        (SCRATCH / "local.json").write_text(json.dumps(local))
        from_file = self.client.submit(SCRATCH / "local.json")
        self.assertEqual(from_file.spec.dataset.tensors.artifact, data.id)
        self.client.cancel(from_file.id)
        # A retry (the same request_id) returns what its first call stored, sending no file
        # again (probe CV: it was refused as "submitted with another spec", the stored spec
        # naming the uploaded file by its hash); its dry run answers with the stored job too. A
        # CUDA job, which this service never places, stays queued until cancelled.
        on_cuda = {**local, "device": "DEVICE_CUDA"}
        first = self.client.submit(on_cuda, files=SCRATCH, request_id="py-retry")
        swept = self.client.sweep(on_cuda, ["cross_entropy {}"], files=SCRATCH,
                                  request_id="py-retry")
        changed = SCRATCH / "changed-files"
        changed.mkdir()
        (changed / "data.pt").write_bytes((SCRATCH / "data.pt").read_bytes() + b"x")
        with mock.patch.object(self.client, "_upload", side_effect=AssertionError("sent again")):
            self.assertEqual(self.client.submit(on_cuda, files=SCRATCH, request_id="py-retry").id,
                             first.id)
            self.assertEqual(self.client.submit(on_cuda, files=SCRATCH, request_id="py-retry",
                                                dry_run=True).id, first.id)
            self.assertEqual(self.client.sweep(on_cuda, ["cross_entropy {}"], files=SCRATCH,
                                               request_id="py-retry").sweep_id, swept.sweep_id)
            # Its file changed since: not a retry, said as such, nothing uploaded.
            with self.assertRaises(PolyTrainError) as other:
                self.client.submit(on_cuda, files=changed, request_id="py-retry")
        self.assertEqual(other.exception.code, "ALREADY_EXISTS")
        self.assertIn(f"already names job {first.id}, submitted with another spec; use a new id "
                      f"for a new job (the files it names compared by their sha256",
                      other.exception.message)
        self.client.cancel(first.id)
        self.client.cancel_sweep(swept.sweep_id)
        # An ended job is deleted with its history; one not ended is refused.
        with self.assertRaises(PolyTrainError) as refused:
            self.client.delete(self.client.submit(local, files=SCRATCH).id)
        self.assertEqual(refused.exception.code, "FAILED_PRECONDITION")
        deleted = self.client.delete(job.id)
        self.assertEqual((deleted.deleted.id, deleted.deleted.state),
                         (job.id, job_record_pb2.JOB_STATE_SUCCEEDED))
        self.assertGreater(deleted.metric_points, 0)
        with self.assertRaises(PolyTrainError) as gone:
            self.client.get(job.id)
        self.assertEqual(gone.exception.code, "NOT_FOUND")

        # A path is streamed in 1 MiB chunks: exactly two here, the second marked last; a name
        # the coordinator would refuse is made acceptable.
        odd = SCRATCH / ".my model (v2).bin"
        odd.write_bytes(bytes(range(256)) * 8192)
        stored = self.client.upload(odd)
        self.assertEqual((stored.name, stored.size_bytes), ("my_model__v2_.bin", 2 << 20))
        self.assertEqual(stored.id, "sha256:" + hashlib.sha256(odd.read_bytes()).hexdigest())
        empty = SCRATCH / "empty.bin"
        empty.write_bytes(b"")
        self.assertEqual(self.client.upload(empty).size_bytes, 0)

        other = self.client.upload(b"not referenced by any job", name="scratch.bin")
        deleted = self.client.delete_artifact(other.id)
        self.assertTrue(deleted.file_deleted)
        with self.assertRaises(PolyTrainError) as error:
            self.client.delete_artifact("sha256:nope")
        self.assertEqual(error.exception.code, "INVALID_ARGUMENT")
        self.assertIn("id: expected sha256:", error.exception.message)

    def test_a_refused_request_uploads_nothing_and_a_dry_run_stores_nothing(self):
        files = SCRATCH / "refused-files"
        files.mkdir()
        (files / "never-stored.pt").write_bytes(b"a model that no accepted request named")
        digest = "sha256:" + hashlib.sha256((files / "never-stored.pt").read_bytes()).hexdigest()
        base = {"name": "refused", "model": {"torchscript": {"path": "never-stored.pt"}},
                "dataset": {"synthetic": {"classes": 2, "features": 4, "train_samples": 40,
                                          "test_samples": 20}},
                "loss": {"crossEntropy": {}}, "optimizer": {"sgd": {}, "learningRate": 0.1},
                "epochs": 1, "batchSize": 0}
        jobs_before = len(self.client.jobs())
        for call, message in (
                (lambda: self.client.submit(base, files=files),
                 "spec.batch_size: must be in [1, 65536], got 0"),
                (lambda: self.client.sweep({**base, "batchSize": 10}, ["poly1 { epsilon: -5 }"],
                                           files=files), "losses[0].poly1.epsilon"),
                (lambda: self.client.search({**base, "batchSize": 10},
                                            {"strategy": "STRATEGY_RANDOM", "trials": 0},
                                            files=files), "search.")):
            with self.assertRaises(PolyTrainError) as error:
                call()
            self.assertEqual(error.exception.code, "INVALID_ARGUMENT")
            self.assertIn(message, error.exception.message)
        self.assertNotIn(digest, [a.id for a in self.client.artifacts()])

        # A dry run checks the whole request and answers with what would be queued.
        planned = self.client.submit({**base, "batchSize": 10}, dry_run=True)
        self.assertEqual((planned.id, planned.loss_name, planned.spec.batch_size), ("", "ce", 10))
        grid = self.client.sweep({**base, "batchSize": 10},
                                 ["cross_entropy {}", "focal { gamma: 2 }"], seeds=2, dry_run=True)
        self.assertEqual(grid.sweep_id, "")
        self.assertEqual([j.spec.name for j in grid.jobs],
                         ["refused-ce-s0", "refused-ce-s1", "refused-focal-g-2-s0",
                          "refused-focal-g-2-s1"])
        self.assertEqual(len(self.client.jobs()), jobs_before)
        self.assertNotIn(digest, [a.id for a in self.client.artifacts()])

    def test_a_named_file_that_is_not_a_file_goes_as_a_worker_path_with_a_warning(self):
        files = SCRATCH / "fifo-files"
        files.mkdir()
        os.mkfifo(files / "fifo.pt")
        spec = {"name": "fifo-model", "model": {"torchscript": {"path": "fifo.pt"}},
                "dataset": {"synthetic": {"classes": 2, "features": 4, "train_samples": 40,
                                          "test_samples": 20}},
                "loss": {"crossEntropy": {}}, "optimizer": {"sgd": {}, "learningRate": 0.1},
                "epochs": 1, "batchSize": 10}
        # A coordinator of its own, without a worker: the job stays queued, failing no listing.
        service = Service("fifo-coordinator", worker=False)
        try:
            with Client(service.address) as client:
                with self.assertWarnsRegex(UserWarning, "fifo.pt is not a file under .*: sent as "
                                                        "a path under the worker's --data_root"):
                    job = client.submit(spec, files=files)
                self.assertEqual(job.spec.model.torchscript.path, "fifo.pt")
                # An absolute path is the worker's even where this machine has the file.
                (files / "here.pt").write_bytes(b"not uploaded")
                spec["model"]["torchscript"]["path"] = str(files / "here.pt")
                with self.assertWarnsRegex(UserWarning, "here.pt is absolute: sent as a path on "
                                                        "the worker"):
                    client.submit(spec, files=files)
                # A dry run warns as the real submit does, and uploads nothing.
                with self.assertWarnsRegex(UserWarning, "here.pt is absolute"):
                    client.submit(spec, files=files, dry_run=True)
                spec["model"]["torchscript"]["path"] = "here.pt"
                with self.assertWarnsRegex(UserWarning, r"dry run: would upload .*/here.pt "
                                                        r"\(12 bytes\)"):
                    self.assertEqual(client.submit(spec, files=files, dry_run=True).id, "")
                self.assertEqual(client.artifacts(), [])  # nothing was uploaded
                # IDX files are never uploaded: one beside the spec is said to stay behind.
                (files / "train-images").write_bytes(b"idx")
                spec["dataset"] = {"idx": {"trainImages": "train-images", "trainLabels": "a",
                                           "testImages": "b", "testLabels": "c"}}
                with self.assertWarnsRegex(UserWarning, "spec.dataset.idx: train-images is not "
                                                        "uploaded"):
                    client.submit(spec, files=files, dry_run=True)
        finally:
            service.close()


if __name__ == "__main__":
    # Further arguments name tests to run (ClientTest.test_x), as unittest takes them.
    result = unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[2:], exit=False).result
    subprocess.run(["rm", "-rf", str(SCRATCH)])
    sys.exit(0 if result.wasSuccessful() else 1)

"""Client.download_checkpoint against a real coordinator and worker: the newest checkpoint, an
older one when the newest is missing, and the best by spec.checkpoint.keep_best_by."""
import contextlib
import subprocess
import warnings
from concurrent import futures
from unittest import mock

from client_support import BUILD, SCRATCH, SMALL_JOB, ServiceTestCase  # sets sys.path first
import grpc  # noqa: E402
import torch  # noqa: E402

from polytrain import PolyTrainError  # noqa: E402
from polytrain.v1 import coordinator_pb2, job_record_pb2  # noqa: E402


@contextlib.contextmanager
def older_coordinator_proxy(target):
    """A gRPC proxy to the coordinator at `target` that answers as one older than best
    checkpoints would: DownloadCheckpoint's chunks without `best`. Yields its address."""
    channel = grpc.insecure_channel(target)

    class Forward(grpc.GenericRpcHandler):
        def service(self, details):
            method = details.method
            if method.endswith("/DownloadCheckpoint"):
                call = channel.unary_stream(method)

                def stripped(request, context):
                    for raw in call(request, metadata=context.invocation_metadata()):
                        chunk = coordinator_pb2.CheckpointChunk.FromString(raw)
                        chunk.ClearField("best")
                        yield chunk.SerializeToString()
                return grpc.unary_stream_rpc_method_handler(stripped)
            call = channel.unary_unary(method)
            return grpc.unary_unary_rpc_method_handler(
                lambda request, context: call(request, metadata=context.invocation_metadata()))

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[Forward()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None)
        channel.close()


class CheckpointTest(ServiceTestCase):
    SERVICE_NAME = "checkpoints"

    def test_a_trained_model_is_downloaded_whole_and_loads_in_torch(self):
        job = self.client.submit(SMALL_JOB)
        self.assertEqual(self.client.wait(job.id).state, job_record_pb2.JOB_STATE_SUCCEEDED)
        path = SCRATCH / f"{job.id}.pt"
        first = self.client.download_checkpoint(job.id, path)
        self.assertEqual((first.name, first.step), ("ckpt-000000000020.pt", 20))
        weights = torch.jit.load(str(path)).model.state_dict()
        self.assertTrue(weights and all(t.isfinite().all() for t in weights.values()), weights)
        with self.assertRaises(FileExistsError):  # never over a file, and nothing downloaded
            self.client.download_checkpoint(job.id, path)
        with self.assertRaises(PolyTrainError) as error:
            self.client.download_checkpoint("job-000000000000", SCRATCH / "none.pt")
        self.assertEqual(error.exception.code, "NOT_FOUND")
        self.assertFalse((SCRATCH / "none.pt").exists())
        self.assertEqual([p.name for p in SCRATCH.glob(".*.download-*")], [])

    def test_a_checkpoint_older_than_the_jobs_end_is_said_to_be(self):
        # The final checkpoint not stored (here removed; a full disk does the same): the older
        # one comes, with a warning that says so.
        job = self.client.submit(SMALL_JOB + "checkpoint { every_steps: 10 }")
        self.assertEqual(self.client.wait(job.id).state, job_record_pb2.JOB_STATE_SUCCEEDED)
        stored = self.service.dir / "artifacts" / job.id
        (stored / "ckpt-000000000020.pt").unlink()
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            first = self.client.download_checkpoint(job.id, SCRATCH / f"{job.id}-older.pt")
        self.assertEqual(first.step, 10)
        self.assertIn(f"{job.id} trained 20 steps; the newest checkpoint the coordinator holds is "
                      "step 10's", [str(w.message) for w in said][-1])

    def test_the_best_checkpoint_is_kept_beside_the_newest_three_and_downloaded(self):
        # A learning rate of 1e-30 leaves the weights as they are: every evaluation scores the
        # same, and of equal scores the earliest checkpoint is the best, one that the newest
        # three leave behind. 10 steps an epoch, a checkpoint each.
        spec = (SMALL_JOB.replace("learning_rate: 0.1", "learning_rate: 1e-30")
                .replace("epochs: 2", "epochs: 5")
                + 'checkpoint { every_epochs: 1 keep_best_by: "eval_accuracy" }')
        job = self.client.submit(spec)
        done = self.client.wait(job.id)
        self.assertEqual(done.state, job_record_pb2.JOB_STATE_SUCCEEDED)
        best = done.best_checkpoint
        self.assertEqual((best.path, best.step, best.metric),
                         (f"{job.id}/ckpt-000000000010.pt", 10, "eval_accuracy"))
        evals = [r["eval_accuracy"] for r in self.client.metrics(job.id)
                 if r["kind"] == "KIND_EVAL"]
        self.assertEqual(evals, [best.value] * 5)
        stored = sorted(p.name for p in (self.service.dir / "artifacts" / job.id).glob("ckpt-*"))
        self.assertEqual(stored, [f"ckpt-0000000000{s}.pt" for s in (10, 30, 40, 50)])
        path = SCRATCH / f"{job.id}-best.pt"
        first = self.client.download_checkpoint(job.id, path, best=True)
        self.assertEqual((first.name, first.step), ("ckpt-000000000010.pt", 10))
        newest = SCRATCH / f"{job.id}-newest.pt"
        self.assertEqual(self.client.download_checkpoint(job.id, newest).step, 50)
        ten, fifty = (torch.jit.load(str(p)).model.state_dict() for p in (path, newest))
        self.assertTrue(all(torch.equal(ten[k], fifty[k]) for k in ten))
        # A coordinator older than best checkpoints ignores `best` and sends its newest, whose
        # first chunk does not say best: refused, nothing written.
        real = self.client._stub.DownloadCheckpoint

        def as_an_older_coordinator(request, **kwargs):
            for chunk in real(request, **kwargs):
                chunk.ClearField("best")
                yield chunk

        with mock.patch.object(self.client._stub, "DownloadCheckpoint", as_an_older_coordinator):
            with self.assertRaises(PolyTrainError) as error:
                self.client.download_checkpoint(job.id, SCRATCH / "older.pt", best=True)
        self.assertEqual(error.exception.code, "FAILED_PRECONDITION")
        self.assertIn("not the best", str(error.exception))
        self.assertFalse((SCRATCH / "older.pt").exists())
        # polyctl's own check, through a proxy to the real coordinator that strips the echo.
        with older_coordinator_proxy(self.service.address) as address:
            done = subprocess.run(
                [str(BUILD / "client/polyctl"), "--coordinator", address, "checkpoint", job.id,
                 "--best", "--output", str(SCRATCH / "older-polyctl.pt")],
                capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 5, done.stderr)  # FAILED_PRECONDITION
        self.assertIn("--best: the coordinator sent its newest checkpoint, not the best",
                      done.stderr)
        self.assertFalse((SCRATCH / "older-polyctl.pt").exists())

    def test_the_best_by_a_loss_is_the_lowest_of_the_evaluations_at_checkpoints(self):
        spec = (SMALL_JOB.replace("epochs: 2", "epochs: 4")
                + 'checkpoint { every_epochs: 1 keep_best_by: "eval_loss" }')
        job = self.client.submit(spec)
        best = self.client.wait(job.id).best_checkpoint
        losses = {r["step"]: r["eval_loss"] for r in self.client.metrics(job.id)
                  if r["kind"] == "KIND_EVAL"}
        self.assertEqual(sorted(losses), [10, 20, 30, 40])
        lowest = min(losses, key=lambda step: (losses[step], step))
        self.assertEqual((best.step, best.value), (lowest, losses[lowest]))

    def test_the_last_checkpoint_is_scored_by_the_evaluation_that_ends_the_run(self):
        # Checkpoints at steps 20 and 40 (every 2 epochs), evaluations at 30 (every 3) and at
        # the end, 40: taken after the checkpoint of 40 (probe DM: it was never scored).
        spec = (SMALL_JOB.replace("epochs: 2", "epochs: 4") + "eval { every_epochs: 3 } "
                + 'checkpoint { every_epochs: 2 keep_best_by: "eval_nll" }')
        job = self.client.submit(spec)
        best = self.client.wait(job.id).best_checkpoint
        evals = {r["step"]: r["eval_nll"] for r in self.client.metrics(job.id)
                 if r["kind"] == "KIND_EVAL"}
        self.assertEqual(sorted(evals), [30, 40])
        self.assertEqual((best.step, best.value), (40, evals[40]))

    def test_a_job_without_a_best_says_so_and_a_bad_metric_is_refused_by_name(self):
        job = self.client.submit(SMALL_JOB)
        self.client.wait(job.id)
        with self.assertRaises(PolyTrainError) as error:
            self.client.download_checkpoint(job.id, SCRATCH / "no-best.pt", best=True)
        self.assertEqual(error.exception.code, "NOT_FOUND")
        self.assertIn(f"best: job {job.id} keeps no best checkpoint", str(error.exception))
        self.assertFalse((SCRATCH / "no-best.pt").exists())
        with self.assertRaises(TypeError):
            self.client.download_checkpoint(job.id, SCRATCH / "x.pt", best="yes")
        with self.assertRaises(PolyTrainError) as error:
            self.client.submit(SMALL_JOB + 'checkpoint { keep_best_by: "val_accuracy" }')
        self.assertEqual(error.exception.code, "INVALID_ARGUMENT")
        self.assertIn("spec.checkpoint.keep_best_by: 'val_accuracy' needs a validation split",
                      str(error.exception))

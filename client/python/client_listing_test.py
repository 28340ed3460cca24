"""Listings through the Python client against a real coordinator and worker: jobs by state
names and pages, sweeps by state and their deletion with their jobs, the warning of a comparison
of jobs trained differently, and state names as polyctl prints them. Run from client_test.py.
"""
import pickle
import unittest
import warnings
from unittest import mock

from client_support import SMALL_JOB, ServiceTestCase  # sets sys.path first

import polytrain  # noqa: E402
from polytrain import PolyTrainError, state_name  # noqa: E402
from polytrain.v1 import coordinator_pb2, job_record_pb2  # noqa: E402


class ListingTest(ServiceTestCase):
    SERVICE_NAME = "listing"

    def test_a_sweep_is_cancelled_whole_listed_by_state_and_deleted_with_its_jobs(self):
        # Gangs of two on a service of one worker: queued until the cancel.
        base = {"name": "cancelled", "model": {"mlp": {}},
                "dataset": {"synthetic": {"classes": 2, "features": 4, "train_samples": 40,
                                          "test_samples": 20}},
                "optimizer": {"sgd": {}, "learningRate": 0.1}, "epochs": 1, "batchSize": 8,
                "replicas": 2}
        older = self.client.sweep(base, ["cross_entropy {}"])
        sweep = self.client.sweep(base, ["cross_entropy {}", "poly1 { epsilon: 1 }"], seeds=2)
        self.assertEqual([s.id for s in self.client.sweeps(limit=2)],
                         [sweep.sweep_id, older.sweep_id])  # newest first
        with self.assertRaises(PolyTrainError) as running:
            self.client.delete_sweep(older.sweep_id)
        self.assertEqual(running.exception.code, "FAILED_PRECONDITION")
        self.client.cancel_sweep(older.sweep_id)
        cancelled = self.client.cancel(sweep.sweep_id)  # a sweep id: the whole sweep
        self.assertEqual(state_name(cancelled), "cancelled")
        self.assertEqual(len(cancelled.trials), 4)
        self.assertEqual({state_name(t) for t in cancelled.trials}, {"cancelled"})
        self.assertEqual(state_name(self.client.get_sweep(sweep.sweep_id)), "cancelled")
        self.assertEqual(self.client.get(sweep.sweep_id).id, sweep.sweep_id)  # as polyctl get
        self.assertEqual(state_name(self.client.cancel_sweep(sweep.sweep_id)), "cancelled")
        with self.assertRaises(PolyTrainError) as error:
            self.client.cancel_sweep("sweep-000000000000")
        self.assertEqual(error.exception.code, "NOT_FOUND")
        self.assertIn("id: no sweep sweep-000000000000", error.exception.message)
        self.assertIn(sweep.sweep_id, [s.id for s in self.client.sweeps(states="cancelled")])
        self.assertNotIn(sweep.sweep_id,
                         [s.id for s in self.client.sweeps(states=["done", "running"])])
        with self.assertRaises(PolyTrainError) as error:
            self.client.sweeps(states=["finished"])
        self.assertIn("states[0]: unknown state 'finished'; expected one of running, done, "
                      "cancelled", error.exception.message)
        deleted = self.client.delete(sweep.sweep_id)  # a sweep id: the sweep with its jobs
        self.assertEqual((deleted.deleted.id, deleted.jobs), (sweep.sweep_id, 4))
        for trial in cancelled.trials:
            with self.assertRaises(PolyTrainError) as error:
                self.client.get(trial.job_id)
            self.assertEqual(error.exception.code, "NOT_FOUND")
        with self.assertRaises(PolyTrainError) as error:
            self.client.delete_sweep(sweep.sweep_id)
        self.assertEqual(error.exception.code, "NOT_FOUND")

    def test_a_job_of_a_sweep_is_submitted_again_without_its_sweep_labels(self):
        # A gang of two on a service of one worker: queued until cancelled.
        base = {"name": "again", "model": {"mlp": {}}, "labels": {"team": "a"},
                "dataset": {"synthetic": {"classes": 2, "features": 4, "train_samples": 40,
                                          "test_samples": 20}},
                "optimizer": {"sgd": {}, "learningRate": 0.1}, "epochs": 1, "batchSize": 8,
                "replicas": 2}
        sweep = self.client.sweep(base, ["poly1 { epsilon: 2 }"])
        member = self.client.get(sweep.jobs[0].id)
        member.spec.optimizer.learning_rate = 0.25  # a variant of it
        with self.assertWarns(UserWarning) as warned:
            again = self.client.submit(member)
        self.assertIn(f"{member.id} is one of sweep {sweep.sweep_id}'s jobs; the new job is not, "
                      f"so its labels sweep={sweep.sweep_id}, loss=", str(warned.warning))
        self.assertEqual(warned.filename, __file__)  # the warning points at the caller's line
        self.assertEqual(dict(again.spec.labels), {"team": "a"})
        self.assertEqual(again.spec.optimizer.learning_rate, 0.25)
        self.assertEqual(again.spec.loss, member.spec.loss)
        self.assertIn("sweep", self.client.get(member.id).spec.labels)  # the original unchanged
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a job of no sweep keeps every label: no warning
            again.spec.labels["loss"] = "mine"  # a label of the user's own on a job of no sweep
            self.assertEqual(self.client.submit(again).spec, again.spec)
        self.client.cancel_sweep(sweep.sweep_id)
        for job in self.client.iter_jobs(states="queued"):
            self.client.cancel(job.id)

    def test_comparing_jobs_trained_differently_warns_which_fields_differ(self):
        first = self.client.submit(SMALL_JOB)
        other = self.client.submit(SMALL_JOB.replace("batch_size: 30", "batch_size: 10"))
        with self.assertWarns(UserWarning) as warned:
            self.client.compare(job_ids=[first.id, other.id])
        self.assertIn(f"jobs {first.id} and {other.id} differ in more than their loss and seed "
                      f"(spec.batch_size)", str(warned.warning))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the same setup: no warning
            self.client.compare(job_ids=[first.id, self.client.submit(SMALL_JOB).id])

    def test_compare_takes_sweeps_and_jobs_and_answers_as_polyctl_compare_json(self):
        sweep = self.client.sweep(SMALL_JOB.replace("loss { poly1 { epsilon: 1 } }", ""),
                                  ["cross_entropy {}", "poly1 { epsilon: 1 }"])
        extra = self.client.submit(SMALL_JOB)
        for job in list(sweep.jobs) + [extra]:
            self.assertEqual(state_name(self.client.wait(job.id)), "succeeded")
        compared = self.client.compare(sweep_id=sweep.sweep_id, as_message=True)
        self.assertIsInstance(compared, coordinator_pb2.CompareJobsResponse)
        self.assertEqual((compared.metric, compared.baseline_loss), ("eval_accuracy", "ce"))
        self.assertEqual(sorted(row.loss_name for row in compared.losses), ["ce", "poly1(e=1)"])
        self.assertEqual({curve.job_id for curve in compared.curves},
                         {job.id for job in sweep.jobs})
        for curve in compared.curves:
            self.assertEqual(len(curve.eval_steps), 2)  # an evaluation per epoch
            self.assertEqual(len(curve.eval_values), 2)
            self.assertGreater(len(curve.train_loss), 0)
        # A job and sweeps together (one named twice): every job once, as polyctl compare does.
        mixed = self.client.compare(job_ids=[extra.id], sweep_id=[sweep.sweep_id, sweep.sweep_id],
                                    per_job=True)
        self.assertEqual(sorted(row["job_id"] for row in mixed),
                         sorted([extra.id] + [job.id for job in sweep.jobs]))
        # Grouped by sweep: the sweep's runs apart from the job of no sweep.
        grouped = self.client.compare(job_ids=[extra.id], sweep_id=[sweep.sweep_id],
                                      group_by="sweep")
        self.assertEqual(sorted((row["group"], row["loss_name"], row["runs"]) for row in grouped),
                         [("", "poly1(e=1)", 1), (sweep.sweep_id, "ce", 1),
                          (sweep.sweep_id, "poly1(e=1)", 1)])
        with self.assertRaises(PolyTrainError) as error:
            self.client.compare(job_ids=[extra.id],
                                sweep_id=[sweep.sweep_id, "sweep-000000000000", sweep.sweep_id])
        self.assertEqual((error.exception.code, error.exception.message),
                         ("NOT_FOUND", "sweep_id[1]: no sweep sweep-000000000000"))
        with self.assertRaises(polytrain.ArgumentError) as error:
            self.client.compare(job_ids=[extra.id], per_job=True, as_message=True)
        self.assertTrue(error.exception.message.startswith("per_job: leave it out"))

    def test_jobs_by_state_names_as_polyctl_takes_them_and_enum_names_and_values(self):
        job = self.client.submit(SMALL_JOB)
        self.assertEqual(state_name(self.client.wait(job.id)), "succeeded")
        for states in (["succeeded"], "succeeded", ["Succeeded"], ["JOB_STATE_SUCCEEDED"],
                       [polytrain.JOB_STATE_SUCCEEDED], [3], ("failed", "succeeded")):
            listed = self.client.jobs(states=states)
            self.assertIn(job.id, [j.id for j in listed], states)
            self.assertEqual({state_name(j) for j in listed}, {"succeeded"}, states)
        self.assertNotIn(job.id, [j.id for j in self.client.jobs(states=["failed", "queued"])])
        for states, named in ((["done"], "states[0]: unknown state 'done'"),
                              (["succeeded", 0], "states[1]: unknown state 0"),
                              (["unspecified"], "states[0]: unknown state 'unspecified'")):
            with self.assertRaises(PolyTrainError) as error:
                self.client.jobs(states=states)
            self.assertEqual(error.exception.code, "INVALID_ARGUMENT")
            self.assertIn(named, error.exception.message)
            self.assertIn("queued, running, succeeded, failed, cancelled, paused, stopped",
                          error.exception.message)

    def test_jobs_is_a_list_every_page_of_it_or_the_newest_up_to_a_limit(self):
        submitted = [self.client.submit(SMALL_JOB).id for _ in range(3)]
        for job_id in submitted:
            self.client.wait(job_id)
        everything = self.client.jobs()
        self.assertIsInstance(everything, list)
        self.assertGreaterEqual(len(everything), 3)
        self.assertEqual([j.id for j in everything[:3]], submitted[::-1])  # newest first
        self.assertEqual([j.id for j in everything], [j.id for j in self.client.jobs()])
        self.assertEqual([j.id for j in self.client.jobs(limit=2)], submitted[:0:-1])
        # Pages of two: every page fetched, or only those that hold `limit`.
        with mock.patch.object(polytrain._calls, "MAX_PAGE_SIZE", 2):
            self.assertEqual([j.id for j in self.client.jobs()], [j.id for j in everything])
            self.assertEqual([j.id for j in self.client.jobs(limit=3)],
                             [j.id for j in everything[:3]])
        self.assertIsInstance(self.client.artifacts(), list)
        # iter_jobs: the same, lazily: the first item comes after the first page only.
        with mock.patch.object(polytrain._calls, "MAX_PAGE_SIZE", 2):
            calls = []
            real = self.client._call
            with mock.patch.object(self.client, "_call",
                                   side_effect=lambda *a, **k: calls.append(1) or real(*a, **k)):
                lazy = self.client.iter_jobs()
                self.assertEqual(next(lazy).id, everything[0].id)
                self.assertEqual(len(calls), 1)
                self.assertEqual([j.id for j in lazy], [j.id for j in everything[1:]])
            self.assertEqual([j.id for j in self.client.iter_jobs(limit=3)],
                             [j.id for j in everything[:3]])
        for limit in (0, -1):
            with self.assertRaises(PolyTrainError) as error:
                self.client.jobs(limit=limit)
            self.assertIn("limit: expected a whole number from 1", error.exception.message)
        for limit in (1.5, True):
            with self.assertRaises(TypeError):
                self.client.jobs(limit=limit)


class StateNameTest(unittest.TestCase):
    def test_state_names_as_polyctl_prints_them_and_the_enum_from_the_package(self):
        self.assertEqual(polytrain.JOB_STATE_SUCCEEDED, job_record_pb2.JOB_STATE_SUCCEEDED)
        self.assertIs(polytrain.JobState, job_record_pb2.JobState)
        self.assertEqual(polytrain.JobState.Name(polytrain.JOB_STATE_STOPPED), "JOB_STATE_STOPPED")
        self.assertIn(polytrain.JOB_STATE_CANCELLED, polytrain.FINAL_STATES)
        self.assertEqual(polytrain.STATE_NAMES, ("queued", "running", "succeeded", "failed",
                                                 "cancelled", "paused", "stopped"))
        job = job_record_pb2.Job(id="job-1", state=job_record_pb2.JOB_STATE_SUCCEEDED)
        self.assertEqual(state_name(job), "succeeded")
        self.assertEqual(state_name(3), "succeeded")
        self.assertEqual(state_name(polytrain.JOB_STATE_FAILED), "failed")
        self.assertEqual(state_name("JOB_STATE_PAUSED"), "paused")
        self.assertEqual(state_name("Queued"), "queued")
        self.assertEqual(state_name(0), "unspecified")
        self.assertEqual(state_name(42), "unknown(42)")  # a newer coordinator's state
        self.assertEqual([state_name(v) for v in polytrain.JobState.values()[1:]],
                         list(polytrain.STATE_NAMES))
        with self.assertRaises(PolyTrainError) as error:
            state_name("done")
        self.assertIn("state: unknown state 'done'", error.exception.message)
        with self.assertRaises(TypeError):
            state_name(None)
        # A sweep's states are its own.
        done = coordinator_pb2.Sweep(state=coordinator_pb2.Sweep.SWEEP_STATE_DONE)
        self.assertEqual(state_name(done), "done")
        self.assertEqual(state_name(coordinator_pb2.Sweep(
            state=coordinator_pb2.Sweep.SWEEP_STATE_RUNNING)), "running")
        self.assertEqual(state_name(coordinator_pb2.Sweep(
            state=coordinator_pb2.Sweep.SWEEP_STATE_CANCELLED)), "cancelled")

    def test_an_error_survives_pickling_as_multiprocessing_sends_it(self):
        error = pickle.loads(pickle.dumps(PolyTrainError("NOT_FOUND", "id: no job job-1")))
        self.assertEqual((error.code, error.message, str(error)),
                         ("NOT_FOUND", "id: no job job-1", "NOT_FOUND: id: no job job-1"))

"""The Python client and a coordinator that stops and comes back: a watch that outlives the
restart, passing each point once and saying that it waits; a new Client made after the restart
reaching it at once; what a call says of a coordinator that is down, and of one that went away.
Run by client_test.py (python_client_test).
"""
import time
import unittest
import warnings

from client_support import SMALL_JOB, Service  # sets sys.path first
from polytrain import Client, PolyTrainError  # noqa: E402
from polytrain.v1 import job_record_pb2, metrics_pb2  # noqa: E402


class ConnectionTest(unittest.TestCase):

    def test_a_watch_outlives_a_coordinator_restart_and_passes_each_point_once(self):
        service = Service("restarted")
        try:
            with Client(service.address) as client:
                job = client.submit(SMALL_JOB.replace("epochs: 2", "epochs: 60"))
                events = client.watch(job.id)
                points = []
                for event in events:  # until it trains
                    if event.HasField("point"):
                        points.append((event.point.step, event.point.kind))
                        break
                service.restart_coordinator()
                states = []
                with warnings.catch_warnings(record=True) as said:
                    warnings.simplefilter("always")
                    for event in events:
                        if event.HasField("point"):
                            points.append((event.point.step, event.point.kind))
                        else:
                            states.append(event.job.state)
                # Said once, as polyctl says it on stderr.
                away = [str(w.message) for w in said if "went away" in str(w.message)]
                self.assertEqual(len(away), 1, away)
                self.assertTrue(away[0].startswith(f"the coordinator at {service.address} went "
                                                   f"away ("), away)
                self.assertTrue(away[0].endswith(f"); watching {job.id} again for up to 120 s"),
                                away)
                self.assertEqual(states[-1], job_record_pb2.JOB_STATE_SUCCEEDED)
                self.assertEqual(len(points), len(set(points)))  # each point once
                self.assertEqual(sorted(points),
                                 sorted((r["step"], metrics_pb2.MetricPoint.Kind.Value(r["kind"]))
                                        for r in client.metrics(job.id)))
        finally:
            service.close()

    def test_a_client_made_after_a_restart_reaches_the_coordinator_at_once(self):
        # An older Client's failed calls while the coordinator was down put its connection in
        # gRPC's backoff (up to 2 s); a new Client has a connection of its own (probe DE: it
        # failed for 1-2 s after the restart, as the older one's was shared).
        service = Service("comes-back", worker=False)
        try:
            with Client(service.address, timeout=5) as older:
                older.jobs()
                service.kill_coordinator()
                # Calls for 3 s of the outage, as a notebook's loop makes them: the older
                # connection's backoff grows to its longest.
                outage_end = time.monotonic() + 3
                while time.monotonic() < outage_end:
                    with self.assertRaises(PolyTrainError) as down:
                        older.jobs()
                    self.assertEqual(down.exception.code, "UNAVAILABLE")
                    time.sleep(0.25)
                # Down: nothing could have reached it (no "lost the connection").
                self.assertTrue(down.exception.message.startswith(
                    f"cannot reach the coordinator at {service.address}: failed to connect"),
                    down.exception.message)
                service.start_coordinator()  # serving once this returns
                # The older connection's backoff (up to 2 s) is still on: else the restart took
                # longer than it, and the test would prove nothing.
                try:
                    older.jobs()
                    self.skipTest("the restart outlasted the older Client's backoff")
                except PolyTrainError:
                    pass
                with Client(service.address, timeout=5) as newer:
                    self.assertEqual(newer.jobs(), [])  # its first call, at once
        finally:
            service.close()

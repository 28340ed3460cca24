#!/usr/bin/python3
"""polyctl's and the Python client's change requests (cancel, delete) whose connection is cut after the coordinator got
them: the coordinator made the change, and polyctl must say that it may have (exit 3), not that
the coordinator could not be reached (probe DA: "cannot reach ... give --tls_ca", and the retry
then said "no sweep"). A coordinator never reached is still "cannot reach", with no such hint.

The cut is a real one: a TCP relay between polyctl and a real coordinator passes the bytes both
ways until polyctl's request message has gone by, drops whatever the coordinator answers, and
closes polyctl's connection once the change is visible through another connection.

Usage: cut_call_test.py BUILD_DIR REPO_ROOT
"""
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest

import grpc

from raw_grpc import (BUILD, SERVICE, Coordinator, coordinator_pb2, job_record_pb2, run_tests,
                      small_job)

HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA_FRAME = 0x0


class CuttingRelay:
    """Relays one client connection to `upstream`; `request_sent` is set as the client's first
    request message (an HTTP/2 DATA frame) is passed on, and nothing the server sends after that
    reaches the client."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.request_sent = threading.Event()
        self.client = self.server = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.client, _ = self.listener.accept()
        host, port = self.upstream.rsplit(":", 1)
        self.server = socket.create_connection((host, int(port)))
        threading.Thread(target=self._up, args=(self.client, self.server), daemon=True).start()
        threading.Thread(target=self._down, args=(self.server, self.client), daemon=True).start()

    def _up(self, client, server):
        try:
            self._relay_up(client, server)
        except OSError:  # the cut, or polyctl gone
            pass

    def _relay_up(self, client, server):
        pending = b""
        preface_seen = False
        while True:
            data = client.recv(65536)
            if not data:
                return
            pending += data
            if not preface_seen and len(pending) >= len(HTTP2_PREFACE):
                pending = pending[len(HTTP2_PREFACE):]
                preface_seen = True
            # Frames: a 24-bit length, a type byte, flags, a 31-bit stream id, the payload.
            while preface_seen and len(pending) >= 9:
                length = struct.unpack(">I", b"\0" + pending[:3])[0]
                if len(pending) < 9 + length:
                    break
                if pending[3] == DATA_FRAME:
                    self.request_sent.set()  # before the server can answer it
                pending = pending[9 + length:]
            server.sendall(data)

    def _down(self, server, client):
        try:
            while data := server.recv(65536):
                if not self.request_sent.is_set():
                    client.sendall(data)
        except OSError:  # the cut
            pass

    def cut(self):
        for connection in (self.client, self.server):
            connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self.listener.close()


def polyctl(address, *args):
    """Starts polyctl against `address`: the process, its stderr readable once it ends."""
    return subprocess.Popen([str(BUILD / "client/polyctl"), "--coordinator", address] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def python_client(address, call):
    """Starts a Python process calling `call` (e.g. "cancel('job-...')") on the Python client's
    Client at `address`: the process; its stderr has the PolyTrainError, and it exits 1."""
    script = (f"import sys\nfrom polytrain import Client, PolyTrainError\n"
              f"try:\n    Client({address!r}).{call}\n"
              f"except PolyTrainError as error:\n    sys.exit(f'{{error}}')\n")
    return subprocess.Popen(["/usr/bin/python3", "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={"PYTHONPATH": str(BUILD / "python"), "PATH": "/usr/bin:/bin"})


class CutCallTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.coordinator = Coordinator("cut")

    @classmethod
    def tearDownClass(cls):
        cls.coordinator.close()

    def job(self, name, cancel):
        """A job queued (there is no worker), or cancelled too: its id."""
        code, details, reply = self.coordinator.call(SERVICE + "SubmitJob",
                                                     small_job(name).SerializeToString())
        self.assertEqual(code, grpc.StatusCode.OK, details)
        job_id = job_record_pb2.Job.FromString(reply).id
        if cancel:
            request = coordinator_pb2.CancelJobRequest(id=job_id).SerializeToString()
            code, details, _ = self.coordinator.call(SERVICE + "CancelJob", request)
            self.assertEqual(code, grpc.StatusCode.OK, details)
        return job_id

    def state(self, job_id):
        """The job's state name, or None once it is gone."""
        request = coordinator_pb2.GetJobRequest(id=job_id).SerializeToString()
        code, details, reply = self.coordinator.call(SERVICE + "GetJob", request)
        if code == grpc.StatusCode.NOT_FOUND:
            return None
        self.assertEqual(code, grpc.StatusCode.OK, details)
        return job_record_pb2.JobState.Name(job_record_pb2.Job.FromString(reply).state)

    def cut_after(self, args, done, client=polyctl):
        """Runs polyctl ARGS (or `client`(address, *args)) through a relay that cuts the
        connection once `done()` holds; returns (exit code, stderr)."""
        relay = CuttingRelay(self.coordinator.address)
        process = client(relay.address, *args)
        self.addCleanup(process.kill)  # a no-op once it has ended
        self.assertTrue(relay.request_sent.wait(30), "polyctl sent no request")
        deadline = time.monotonic() + 30
        while not done() and time.monotonic() < deadline:
            time.sleep(0.02)  # polling the coordinator's own answer
        self.assertTrue(done(), "the coordinator did not make the change")
        relay.cut()
        _, err = process.communicate(timeout=60)
        return process.returncode, err

    def test_a_delete_cut_after_the_coordinator_made_it_says_it_may_have_been_done(self):
        job_id = self.job("deleted-then-cut", cancel=True)
        code, err = self.cut_after(["delete", job_id], lambda: self.state(job_id) is None)
        self.assertEqual(code, 3, err)
        self.assertIn("polyctl: lost the connection to the coordinator at ", err)
        self.assertIn(f"; it may have deleted {job_id} before it went: `polyctl get {job_id}` "
                      "tells once it is back", err)
        self.assertNotIn("give --tls_ca", err)

    def test_a_cancel_cut_after_the_coordinator_made_it_says_it_may_have_been_done(self):
        job_id = self.job("cancelled-then-cut", cancel=False)
        code, err = self.cut_after(["cancel", job_id],
                                   lambda: self.state(job_id) == "JOB_STATE_CANCELLED")
        self.assertEqual(code, 3, err)
        self.assertIn(f"; it may have cancelled {job_id} before it went", err)

    def test_the_python_clients_cut_delete_says_it_may_have_been_done(self):
        job_id = self.job("python-deleted-then-cut", cancel=True)
        code, err = self.cut_after([f"delete({job_id!r})"], lambda: self.state(job_id) is None,
                                   client=python_client)
        self.assertEqual(code, 1, err)
        self.assertIn("UNAVAILABLE: lost the connection to the coordinator at ", err)
        self.assertIn(f"; it may have deleted {job_id} before it went: get('{job_id}') tells "
                      "once it is back", err)
        self.assertNotIn("give tls_ca", err)  # the connection was up: TLS was not the trouble

    def test_the_python_clients_cut_cancel_says_it_may_have_been_done(self):
        job_id = self.job("python-cancelled-then-cut", cancel=False)
        code, err = self.cut_after([f"cancel({job_id!r})"],
                                   lambda: self.state(job_id) == "JOB_STATE_CANCELLED",
                                   client=python_client)
        self.assertEqual(code, 1, err)
        self.assertIn(f"; it may have cancelled {job_id} before it went", err)

    def test_the_python_client_never_reaching_the_coordinator_says_no_such_thing(self):
        closed = socket.create_server(("127.0.0.1", 0))
        address = f"127.0.0.1:{closed.getsockname()[1]}"
        closed.close()
        process = python_client(address, "delete('job-0123456789ab')")
        _, err = process.communicate(timeout=60)
        self.assertEqual(process.returncode, 1, err)
        self.assertIn(f"UNAVAILABLE: cannot reach the coordinator at {address}: ", err)
        self.assertNotIn("may have", err)

    def test_a_python_script_that_keeps_its_client_open_exits(self):
        # (An earlier version watched the channel's state before a cancel: gRPC's poller then
        # held the script at its exit, probe DF.)
        job_id = self.job("cancelled-by-a-script", cancel=False)
        script = ("from polytrain import Client\n"
                  f"client = Client({self.coordinator.address!r})\n"
                  f"client.cancel({job_id!r})\nprint('cancelled')\n")
        process = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True,
                                 text=True, timeout=60,
                                 env={"PYTHONPATH": str(BUILD / "python"), "PATH": "/usr/bin:/bin"})
        self.assertEqual((process.returncode, process.stdout), (0, "cancelled\n"), process.stderr)
        self.assertEqual(self.state(job_id), "JOB_STATE_CANCELLED")

    def test_the_python_client_says_a_coordinator_that_does_not_answer_did_not(self):
        # A stopped coordinator: its kernel takes the connection, nothing answers on it.
        self.addCleanup(os.kill, self.coordinator.process.pid, signal.SIGCONT)
        os.kill(self.coordinator.process.pid, signal.SIGSTOP)
        process = subprocess.Popen(
            ["/usr/bin/python3", "-c",
             "import sys\nfrom polytrain import Client, PolyTrainError\ntry:\n"
             f"    Client({self.coordinator.address!r}, timeout=1).jobs()\n"
             "except PolyTrainError as error:\n    sys.exit(f'{error}')\n"],
            stderr=subprocess.PIPE, text=True,
            env={"PYTHONPATH": str(BUILD / "python"), "PATH": "/usr/bin:/bin"})
        _, err = process.communicate(timeout=60)
        os.kill(self.coordinator.process.pid, signal.SIGCONT)
        self.assertEqual(err.strip(), f"DEADLINE_EXCEEDED: the coordinator at "
                                      f"{self.coordinator.address} did not answer within 1 s: "
                                      f"Deadline Exceeded")

    def test_a_coordinator_never_reached_is_said_so_without_the_hint(self):
        closed = socket.create_server(("127.0.0.1", 0))
        address = f"127.0.0.1:{closed.getsockname()[1]}"
        closed.close()  # nothing listens there now
        process = polyctl(address, "delete", "job-0123456789ab")
        _, err = process.communicate(timeout=60)
        self.assertEqual(process.returncode, 3, err)
        self.assertIn(f"polyctl: cannot reach the coordinator at {address}", err)
        self.assertNotIn("may have", err)


if __name__ == "__main__":
    run_tests()

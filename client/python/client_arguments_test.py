"""The Python client's own checks, before anything is sent (arguments of the wrong type or value,
PEM files, addresses, spec files). Its token and TLS: client_security_test.py. Run by
client_test.py.
"""
import errno
import os
import subprocess
import unittest
import zlib
from unittest import mock

import grpc

from client_support import PKI, SCRATCH, make_dev_pki  # sets sys.path first
import numpy  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import polytrain  # noqa: E402
import polytrain._arguments  # noqa: E402
import polytrain._download  # noqa: E402
import polytrain._messages  # noqa: E402
import polytrain._upload  # noqa: E402
import polytrain.states  # noqa: E402
from polytrain import Client, PolyTrainError  # noqa: E402
from polytrain.v1 import coordinator_pb2, job_record_pb2  # noqa: E402


class ArgumentTest(unittest.TestCase):
    """The client's own checks, with nothing listening: refusals are PolyTrainError (and the
    built-in error a caller expects), wrong types TypeError."""

    def test_an_artifact_name_is_made_as_polyctl_makes_it(self):
        # Byte by byte of the UTF-8, as ArtifactNameFor in C++: one file, one name from either.
        self.assertEqual(polytrain.artifact_name("modèle final.pt"), "mod__le_final.pt")
        self.assertEqual(polytrain.artifact_name("..hidden"), "hidden")
        self.assertEqual(polytrain.artifact_name("é" * 100), "_" * 128)
        self.assertEqual(polytrain.artifact_name("..."), "artifact")

    def setUp(self):
        self.client = Client("127.0.0.1:1")

    def tearDown(self):
        self.client.close()

    def test_pem_arguments_must_hold_what_they_are_for(self):
        pem = SCRATCH / "garbage.pem"
        pem.write_bytes(b"not a certificate")
        make_dev_pki()
        worker_cert, worker_key = PKI / "worker.pem", PKI / "worker.key"
        encrypted = SCRATCH / "encrypted.key"
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-aes256", "-pass", "pass:secret",
                        "-out", str(encrypted)], check=True, capture_output=True)
        for arguments, message in (
                ({"tls_ca": b"garbage"}, "tls_ca: no PEM certificate in it (expected -----BEGIN "
                                         "CERTIFICATE-----)"),
                ({"tls_ca": pem}, f"tls_ca {pem}: no PEM certificate in it"),
                ({"tls_ca": worker_cert, "tls_cert": worker_key, "tls_key": worker_cert},
                 f"tls_cert {worker_key}: no PEM certificate in it"),
                ({"tls_ca": worker_cert, "tls_cert": worker_cert, "tls_key": worker_cert},
                 f"tls_key {worker_cert}: no PEM key in it"),
                ({"tls_ca": worker_cert, "tls_cert": worker_cert, "tls_key": encrypted},
                 f"tls_key {encrypted}: no unencrypted private key that OpenSSL reads in it"),
                ({"tls_ca": b"-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n"},
                 "tls_ca: its certificate is not valid base64"),
                # base64, but no certificate: the CA is named, and the certificate, not the key.
                ({"tls_ca": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
                 "tls_ca: no certificate that OpenSSL reads in it"),
                ({"tls_ca": worker_cert, "tls_key": worker_key,
                  "tls_cert": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
                 "tls_cert: no certificate that OpenSSL reads in it"),
                ({"tls_ca": worker_cert, "tls_cert": worker_cert,
                  "tls_key": PKI / "impostor.key"},
                 f"tls_key {PKI / 'impostor.key'}: not the key of the certificate in "
                 f"tls_cert {worker_cert}")):
            with self.assertRaises(PolyTrainError) as error:
                Client("127.0.0.1:1", **arguments)
            self.assertEqual(error.exception.code, "INVALID_ARGUMENT")
            self.assertIn(message, error.exception.message)
        with self.assertRaises(FileNotFoundError) as error:
            Client("127.0.0.1:1", tls_ca=SCRATCH / "nonexistent.pem")
        self.assertIn(f"tls_ca {SCRATCH / 'nonexistent.pem'}: no such file", str(error.exception))
        self.assertEqual(error.exception.errno, errno.ENOENT)
        self.assertEqual(error.exception.filename, str(SCRATCH / "nonexistent.pem"))
        Client("127.0.0.1:1", tls_ca=PKI / "ca.pem", tls_cert=worker_cert,
               tls_key=worker_key).close()

    def test_a_download_clears_what_killed_downloads_to_its_path_left(self):
        target = SCRATCH / "again.pt"
        gone_pid = 4194304 + 7  # past Linux's largest pid: no process has it
        abandoned = SCRATCH / f".again.pt.download-{gone_pid}-00ff"
        fresh = SCRATCH / f".again.pt.download-{gone_pid}-0aaa"  # written just now: kept
        running = SCRATCH / f".again.pt.download-{os.getpid()}-0bbb"  # its process runs: kept
        other = SCRATCH / f".other.pt.download-{gone_pid}-0ccc"  # another path's: kept
        # A download to "again.pt.download-<gone pid>-x": its temporary name starts alike. Kept.
        longer = SCRATCH / f".again.pt.download-{gone_pid}-x.download-{os.getpid()}-0ddd"
        huge = SCRATCH / ".again.pt.download-99999999999999999999-0eee"  # no pid: kept
        for leftover in (abandoned, fresh, running, other, longer, huge):
            leftover.write_bytes(b"part of a model")
        for old in (abandoned, running, other, longer, huge):
            os.utime(old, (0, 0))

        def chunks():
            yield coordinator_pb2.CheckpointChunk(name="ckpt-000000000001.pt", step=1,
                                                  data=b"model", last=True, size=5,
                                                  crc32=zlib.crc32(b"model"))

        polytrain._download.write_checkpoint(chunks(), target)
        self.assertEqual(target.read_bytes(), b"model")
        kept = (fresh, running, other, longer, huge)
        self.assertEqual(sorted(p.name for p in SCRATCH.glob(".*.download-*")),
                         sorted(p.name for p in kept))
        for leftover in kept:
            leftover.unlink()

    def test_a_download_never_replaces_a_file_made_meanwhile(self):
        # Two downloads to one path: the second to finish finds the first's file and keeps it.
        target = SCRATCH / "raced.pt"
        data = [b"newer model", b" bytes"]

        def chunks():
            yield coordinator_pb2.CheckpointChunk(name="ckpt-000000000002.pt", step=2,
                                                  data=data[0], passed_over=["ckpt-3: damaged"])
            target.write_bytes(b"the other download's model")
            whole = b"".join(data)
            yield coordinator_pb2.CheckpointChunk(data=data[1], last=True, size=len(whole),
                                                  crc32=zlib.crc32(whole))

        with self.assertRaisesRegex(FileExistsError, "raced.pt was made while the checkpoint "
                                    "downloaded; remove it or name another file"):
            polytrain._download.write_checkpoint(chunks(), target)
        self.assertEqual(target.read_bytes(), b"the other download's model")
        self.assertEqual(list(SCRATCH.glob(".raced.pt.download-*")), [])
        first = polytrain._download.write_checkpoint(chunks(), SCRATCH / "other.pt")
        self.assertEqual((first.name, first.step, list(first.passed_over)),
                         ("ckpt-000000000002.pt", 2, ["ckpt-3: damaged"]))
        self.assertEqual((SCRATCH / "other.pt").read_bytes(), b"".join(data))
        # Where the file system has no hard links, the name is taken, then renamed over.
        with mock.patch("os.link", side_effect=OSError(errno.EPERM, "Operation not permitted")):
            polytrain._download.write_checkpoint(chunks(), SCRATCH / "nolink.pt")
            self.assertEqual((SCRATCH / "nolink.pt").read_bytes(), b"".join(data))
            target.unlink()
            with self.assertRaises(FileExistsError):
                polytrain._download.write_checkpoint(chunks(), target)
            self.assertEqual(target.read_bytes(), b"the other download's model")
        self.assertEqual(list(SCRATCH.glob(".*.download-*")), [])
        # A full disk names the file asked for, not the hidden one written first (probe CG).
        with mock.patch("os.fsync", side_effect=OSError(errno.ENOSPC, "No space left on device")):
            with self.assertRaises(OSError) as full:
                polytrain._download.write_checkpoint(chunks(), SCRATCH / "full.pt")
        self.assertEqual((full.exception.errno, full.exception.filename),
                         (errno.ENOSPC, str(SCRATCH / "full.pt")))
        self.assertEqual(list(SCRATCH.glob(".*.download-*")), [])
        self.assertFalse((SCRATCH / "full.pt").exists())
        with self.assertRaisesRegex(FileNotFoundError, "no directory .*missing"):
            self.client.download_checkpoint("job-1", SCRATCH / "missing" / "x.pt")

    def test_addresses_left_out_empty_or_unbracketed(self):
        with self.assertRaises(PolyTrainError) as error:
            Client("::1:52111")
        self.assertIn("an IPv6 address goes in brackets, as [::1]:52111", error.exception.message)
        # A list's later entries would be dialled in plaintext unchecked.
        with self.assertRaises(PolyTrainError) as error:
            Client("ipv6:[::1]:52111,[fd00::2]:52111")
        self.assertIn("address: one host:port, not a list", error.exception.message)
        with self.assertRaises(PolyTrainError) as error:
            Client("")
        self.assertIn("address: empty", error.exception.message)
        with mock.patch.dict(os.environ, {"POLYTRAIN_COORDINATOR": ""}):
            with Client() as default:
                self.assertEqual(default.address, "127.0.0.1:50051")
        with mock.patch.dict(os.environ, {"POLYTRAIN_COORDINATOR": "127.0.0.1:7"}):
            with Client() as from_environment:
                self.assertEqual(from_environment.address, "127.0.0.1:7")

    def test_values_that_do_not_parse_name_the_argument(self):
        huge = {"name": "x", "loss": {"poly1": {"epsilon": 10**400}}}
        with self.assertRaises(PolyTrainError) as error:
            self.client.submit(huge, dry_run=True)
        self.assertEqual(error.exception.code, "INVALID_ARGUMENT")
        self.assertEqual(error.exception.message,
                         "spec.loss.poly1.epsilon: out of a double's range")
        with self.assertRaises(PolyTrainError) as error:
            self.client.submit('name: "a\ud800"')
        str(error.exception).encode("utf-8")  # printable: the surrogate is escaped
        with self.assertRaises(PolyTrainError):
            self.client.jobs(states=["\u017fucceeded"])  # a long s upper-cases to S
        with self.assertRaises(PolyTrainError) as error:
            self.client.watch("job-1", reconnect_seconds=-1)
        self.assertIn("reconnect_seconds: expected seconds in [0, ", error.exception.message)
        for call in (lambda: self.client.compare(job_ids=["job-1"], per_job="no"),
                     lambda: self.client.watch(None),
                     lambda: self.client.watch("job-1", reconnect_seconds="5"),
                     lambda: self.client.metrics("job-1", max_points=1.0)):
            with self.assertRaises(TypeError):
                call()

    def test_rows_keep_an_enum_value_this_client_does_not_know(self):
        reply = coordinator_pb2.CompareJobsResponse()
        reply.jobs.add(job_id="job-1", state=42)
        self.assertEqual(polytrain._messages.rows(reply.jobs)[0]["state"], 42)
        reply.jobs.add(job_id="job-2", state=job_record_pb2.JOB_STATE_FAILED)
        self.assertEqual(polytrain._messages.rows(reply.jobs)[1]["state"], "JOB_STATE_FAILED")

    def test_a_bad_token_from_the_environment_is_named_as_such(self):
        with mock.patch.dict(os.environ, {"POLYTRAIN_TOKEN": "to ken"}):
            with self.assertRaises(PolyTrainError) as error:
                Client("127.0.0.1:1")
        self.assertEqual(error.exception.message,
                         "$POLYTRAIN_TOKEN: printable ASCII without spaces, as tokens are minted")

    def test_an_outage_says_whether_a_connection_was_up(self):
        # gRPC's words of a connection that never came up, in grpcio 1.51's and later ones'.
        with Client("127.0.0.1:1") as client:
            for never in ("failed to connect to all addresses; last error: UNKNOWN: ipv4:...",
                          "DNS resolution failed for x.invalid:1: C-ares status is not ...",
                          "errors resolving x.invalid:1: ...", "empty address list: "):
                self.assertEqual(client._refusal(grpc.StatusCode.UNAVAILABLE, never).message,
                                 f"cannot reach the coordinator at 127.0.0.1:1: {never}")
            self.assertEqual(client._refusal(grpc.StatusCode.UNAVAILABLE, "Socket closed").message,
                             "lost the connection to the coordinator at 127.0.0.1:1 (it stopped "
                             "or restarted?): Socket closed")

    def test_a_closed_client_says_so(self):
        self.client.close()
        for call in (lambda: self.client.get("job-1"), lambda: self.client.watch("job-1"),
                     lambda: self.client.upload(b"x")):
            with self.assertRaises(PolyTrainError) as error:
                call()
            self.assertEqual(error.exception.code, "FAILED_PRECONDITION")

    def test_a_script_module_is_named_after_its_class(self):
        class Doubler(nn.Module):
            def forward(self, x):
                return x * 2

        traced = torch.jit.trace(Doubler(), torch.zeros(2))
        self.assertEqual(polytrain._upload.Upload(traced, None).name, "Doubler.pt")

    def test_misused_arguments_are_named_before_anything_is_sent(self):
        client = Client("127.0.0.1:1")  # nothing listens: every error below is the client's own
        spec = {"name": "x"}
        looped = {"name": "x"}
        looped["labels"] = {"self": looped}
        dangling = SCRATCH / "dangling.pt"
        dangling.unlink(missing_ok=True)
        dangling.symlink_to(SCRATCH / "nowhere")
        for call, error, message in (
                (lambda: client.get(123), TypeError, "job_id: expected a string, got int"),
                (lambda: client.cancel(None), TypeError, "job_id: expected a string"),
                (lambda: client.metrics("job-1", max_points="5"), TypeError,
                 "max_points: expected a whole number, got str"),
                (lambda: client.compare(job_ids="job-abc"), TypeError,
                 "job_ids: expected a list of strings, got str"),
                (lambda: client.compare(job_ids=["job-a", 1]), TypeError,
                 "job_ids[1]: expected a string, got int"),
                (lambda: client.sweep(spec, "poly1 {}"), TypeError,
                 "losses: expected a list, got str"),
                (lambda: client.sweep(spec, ["poly1 {}"], seeds="3"), TypeError,
                 "seeds: expected a whole number, got str"),
                (lambda: client.submit(spec, request_id=5), TypeError,
                 "request_id: expected a string, got int"),
                (lambda: client.jobs(labels=["a"]), TypeError,
                 "labels: expected a dict of str to str, got list"),
                (lambda: client.jobs(labels={"a": 1}), TypeError,
                 "labels['a']: expected a string, got int"),
                (lambda: client.upload(b"x", name=5), TypeError, "name: expected a string"),
                (lambda: Client(5), TypeError, "address: expected a string, got int"),
                (lambda: Client("127.0.0.1"), ValueError,
                 "address: expected host:port, got '127.0.0.1'"),
                (lambda: Client("127.0.0.1:notaport"), ValueError, "address: expected host:port"),
                (lambda: Client("127.0.0.1:1", timeout="3"), TypeError,
                 "timeout: expected seconds (a number), got str"),
                (lambda: Client("127.0.0.1:1", token="t\u00f6k\n"), ValueError,
                 "token: printable ASCII without spaces"),
                (lambda: Client("127.0.0.1:1", token="to ken"), ValueError,
                 "token: printable ASCII without spaces"),
                (lambda: Client("127.0.0.1:1", token=" \n"), ValueError,
                 "token: only whitespace, no token"),
                (lambda: Client("127.0.0.1:1").watch("sweep-0123456789ab"), ValueError,
                 "job_id: sweep-0123456789ab is a sweep's id: get_sweep() reads it (watch() and "
                 "wait() follow one job: one of its jobs' ids)"),
                (lambda: Client("127.0.0.1:99999"), ValueError,
                 "address: the port must be in [1, 65535], got '127.0.0.1:99999'"),
                (lambda: Client("127.0.0.1:1", token="a" * 15), ValueError,
                 "token: a token has 16 to 4096 characters, got 15"),
                (lambda: Client("127.0.0.1:1", token="a" * 4097), ValueError,
                 "token: a token has 16 to 4096 characters, got 4097"),
                (lambda: Client("coordinator.example:1"), ValueError,
                 "address: plaintext only to a loopback address"),
                (lambda: Client("127.0.0.1:1", tls_ca=""), ValueError, "tls_ca: empty path"),
                (lambda: Client("127.0.0.1:1", timeout=float("inf")), ValueError,
                 "timeout: expected seconds > 0 (at most 100000000), got inf"),
                (lambda: Client("127.0.0.1:\uff15\uff10"), ValueError,
                 "address: expected host:port"),
                (lambda: Client("[::1]evil.example:1"), ValueError,
                 "address: expected [IPv6]:port, got '[::1]evil.example:1'"),
                (lambda: client.metrics("job-1", max_points=2**40), PolyTrainError,
                 "INVALID_ARGUMENT: max_points: must be in [0, 10000000], got 1099511627776"),
                (lambda: client.sweep(spec, ["poly1 {}"], seeds=2**40), PolyTrainError,
                 "seeds: must be in [1, 100], got 1099511627776"),
                (lambda: client.search(spec, {}, seeds=101), PolyTrainError,
                 "seeds: must be in [1, 100], got 101"),
                (lambda: client.sweep(spec, ["poly1 {}"], seeds=0), PolyTrainError,
                 "seeds: must be in [1, 100], got 0"),  # as polyctl's --seeds (probe CE)
                (lambda: client.search(spec, {}), PolyTrainError,
                 "search: empty; give its strategy, ranges or trials"),
                (lambda: client.jobs(states=3.0), TypeError,
                 "states: expected a state or a list of states, got float"),
                (lambda: client.get("job-\udc80"), ValueError,
                 "job_id: not valid Unicode text (it holds a lone surrogate)"),
                (lambda: client.upload(""), ValueError, "source: empty path"),
                (lambda: client.upload(SCRATCH), IsADirectoryError, "is a directory, not a file"),
                (lambda: client.upload(b"q", name="a/b.pt"), PolyTrainError,
                 "INVALID_ARGUMENT: name: not a file name: 'a/b.pt'"),
                (lambda: client.upload(b"q", name=""), PolyTrainError,
                 "name: not a file name: ''"),
                (lambda: client.upload(b"q", name="n" * 129), PolyTrainError,
                 "name: not a file name"),
                (lambda: client.submit(spec, files=SCRATCH / "missing"), FileNotFoundError,
                 "NOT_FOUND: files " + str(SCRATCH / "missing") + ": no such directory"),
                (lambda: client.submit(spec, dry_run="yes"), TypeError,
                 "dry_run: expected a bool, got str"),
                (lambda: client.submit("examples/jobs/synthetic_poly1.txtpb"), PolyTrainError,
                 "spec: 'examples/jobs/synthetic_poly1.txtpb' is a file's name, not a spec: pass "
                 "pathlib.Path('examples/jobs/synthetic_poly1.txtpb'), its text or a dict"),
                (lambda: client.submit({"loss": {"poly1": {"epsilon": float("nan")}}}),
                 PolyTrainError, "spec.loss.poly1.epsilon: must be a finite number, got nan"),
                (lambda: client.sweep(spec, [{"polyN": {"epsilons": [1, -float("inf")]}}]),
                 PolyTrainError, "losses[0].poly_n.epsilons[1]: must be a finite number, "
                                 "got -inf"),
                (lambda: client.compare(job_ids=["job-" + "0" * 1000] * 17000), PolyTrainError,
                 "job_ids: the request would be 17119000 bytes, over the coordinator's limit "
                 "of 16777216 bytes (16 MiB) per message"),
                (lambda: client.jobs(labels={"k" * (17 << 20): "v"}), PolyTrainError,
                 "labels: the request would be"),
                # A field under both its names, a bool for a number, a dict holding itself.
                (lambda: client.submit({"batch_size": 8, "batchSize": 16}), PolyTrainError,
                 "spec.batch_size: given twice, as batch_size and batchSize"),
                (lambda: client.submit({"optimizer": {"learning_rate": True}}), PolyTrainError,
                 "spec.optimizer.learning_rate: expected a number, got a bool"),
                (lambda: client.submit(looped), PolyTrainError, "nested more than 100 deep"),
                (lambda: client.submit({"device": True}), PolyTrainError,
                 "spec.device: expected a name, got a bool"),
                (lambda: client.submit({"loss": {"cross_entropy": []}}), PolyTrainError,
                 "spec.loss.cross_entropy: expected one value, got a list"),
                (lambda: client.submit({"loss": {"polyN": {"epsilons": [1, "-Infinity"]}}}),
                 PolyTrainError, "spec.loss.poly_n.epsilons[1]: must be a finite number"),
                # Named as the coordinator names a field.
                (lambda: client.submit({"model": "mlp"}), PolyTrainError,
                 "spec.model: expected a map of its fields, got str"),
                (lambda: client.submit({"optimizer": {"learning_rate": "fast"}}), PolyTrainError,
                 "spec.optimizer.learning_rate: must be a number, got \"fast\""),
                # download_checkpoint's path as polyctl's --output.
                (lambda: client.download_checkpoint("job-1", None), TypeError,
                 "path: expected a path, got NoneType"),
                (lambda: client.download_checkpoint("job-1", ""), ValueError, "path: empty path"),
                (lambda: client.download_checkpoint("job-1", f"{SCRATCH}/newdir/"),
                 FileNotFoundError, f"path {SCRATCH}/newdir/: no directory {SCRATCH}/newdir/"),
                (lambda: client.download_checkpoint("job-1", dangling), FileExistsError,
                 f"path {dangling} exists"),
                (lambda: client.download_checkpoint("job-1", SCRATCH), IsADirectoryError,
                 f"path {SCRATCH} is a directory: name the file to write, e.g. "
                 f"{SCRATCH / 'model.pt'}")):
            with self.assertRaises(error) as raised:
                call()
            self.assertIn(message, str(raised.exception))
        # numpy's whole numbers are whole numbers (a loop over np.arange gives them).
        client.close()
        self.assertEqual(Client("127.0.0.1:1", timeout=numpy.int64(5)).timeout, 5.0)
        self.assertEqual(polytrain.states.state_value(numpy.int64(3), "states[0]"), 3)
        self.assertEqual(polytrain.state_name(numpy.int64(3)), "succeeded")
        self.assertEqual(polytrain._arguments.whole(numpy.int32(7), "seeds"), 7)
        # A token read from a file keeps no newline, as polyctl reads it; a gRPC target with a
        # scheme is loopback when its host is.
        with Client("127.0.0.1:1", token="token-from-a-file-1234\r\n") as filed:
            self.assertEqual(filed._metadata, [("authorization", "Bearer token-from-a-file-1234")])
        for target in ("dns:///127.0.0.1:1", "ipv4:127.0.0.1:1", "dns:localhost:1",
                       "unix:/run/polytrain.sock"):
            Client(target).close()

"""The Python client's own checks, before anything is sent (arguments of the wrong type or value,
PEM files, addresses), its token on every call, and TLS with certificates made by
deploy/pki/make-dev-pki.sh (server name override, mutual TLS). Run by client_test.py.
"""
import errno
import hashlib
import os
import subprocess
import unittest
import zlib
from unittest import mock

from client_support import SCRATCH, SMALL_JOB, SOURCE, TOKEN, Service  # sets sys.path first
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
from polytrain.v1 import coordinator_pb2, job_pb2, job_record_pb2  # noqa: E402


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
        TlsTest.make_pki()
        worker_cert, worker_key = TlsTest.pki / "worker.pem", TlsTest.pki / "worker.key"
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
                  "tls_key": TlsTest.pki / "impostor.key"},
                 f"tls_key {TlsTest.pki / 'impostor.key'}: not the key of the certificate in "
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
        Client("127.0.0.1:1", tls_ca=TlsTest.pki / "ca.pem", tls_cert=worker_cert,
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

    def test_a_spec_file_is_read_by_its_extension_and_its_errors_name_the_file(self):
        expected = job_pb2.JobSpec(name="from-a-file", epochs=2)
        files = {"spec.txtpb": 'name: "from-a-file" epochs: 2',
                 "spec.json": '{"name": "from-a-file", "epochs": 2}',
                 "spec.yaml": "name: from-a-file\nepochs: 2\n"}
        for name, text in files.items():
            (SCRATCH / name).write_text(text)
            self.assertEqual(polytrain._messages.message(SCRATCH / name, job_pb2.JobSpec, "spec"),
                             expected, name)
        # YAML as polyctl reads it: a null message is that message, empty; yes/no are strings.
        (SCRATCH / "null.yaml").write_text("loss:\n  cross_entropy:\nlabels:\n  on: yes\n")
        from_yaml = polytrain._messages.message(SCRATCH / "null.yaml", job_pb2.JobSpec, "spec")
        self.assertTrue(from_yaml.loss.HasField("cross_entropy"))
        self.assertEqual(dict(from_yaml.labels), {"on": "yes"})
        # Plain scalars as polyctl's yaml-cpp and absl read them, so that one file is one spec.
        def read(text):
            (SCRATCH / "read.yaml").write_text(text)
            return polytrain._messages.message(SCRATCH / "read.yaml", job_pb2.JobSpec, "spec")

        self.assertEqual(read("seed: 010\n").seed, 10)  # not octal 8
        self.assertEqual(read("seed: !!int 010\n").seed, 10)  # yaml-cpp ignores the tag
        self.assertEqual(read("seed: 18446744073709551615\n").seed, 2**64 - 1)  # exact
        self.assertEqual(read("name: ! 10\n").name, "10")  # yaml-cpp's "!": a string
        self.assertEqual(read("name: !!str ~\n").name, "~")  # tagged: never null
        self.assertEqual(read("name: !!binary aGVsbG8=\n").name, "aGVsbG8=")  # tag ignored
        self.assertEqual(dict(read("labels: {a: , ~: b}\n---\n").labels), {"a": "", "null": "b"})
        self.assertEqual(read("seed: 1e3\n").seed, 1000)
        self.assertEqual(read("name: 2024-01-01\n").name, "2024-01-01")  # not a date
        self.assertEqual(read("name: 'true'\nseed:\n"), job_pb2.JobSpec(name="true"))
        self.assertEqual(read("name: ~\nmodel: {mlp: {hidden: [32, 8]}}\n").model.mlp.hidden,
                         [32, 8])
        for text, named in (("seed: 1_000\n", "seed"), ("seed: 1:30\n", "seed"),
                            ("seed: 0x_1F\n", "seed"), ("seed: 0b101\n", "seed"),
                            ("name: 1e3\n", "name"),
                            ("model: {mlp: {hidden: [32, null]}}\n",
                             "model.mlp.hidden[1]: null in a list"),
                            ("seed: \u0661\u0660\n",  # not ASCII
                             "seed: must be a whole number from 0 to 2^64-1, got \"\u0661\u0660\""),
                            ("loss: {poly1: {epsilon: '1_0.5'}}\n",
                             'spec.loss.poly1.epsilon: must be a number, got "1_0.5"'),
                            ("loss: {poly1: {epsilon: 1e400}}\n", "out of a double's range"),
                            ("loss: {poly1: {epsilon: -.Inf}}\n",
                             'loss.poly1.epsilon: must be a finite number, got "-.Inf"'),
                            ("? [a, b]\n: 1\n", "a key that is a list or a map"),
                            ("max_steps: 5\nmaxSteps: 6\n",
                             "max_steps: given twice, as max_steps and maxSteps"),
                            ("optimizer: {sgd: {nesterov: yes}}\n",
                             "spec.optimizer.sgd.nesterov: must be true or false, got a string"),
                            ("optimizer: {sgd: {}, learning_rate: true}\n",
                             "spec.optimizer.learning_rate: must be a number, got a boolean"),
                            ("name: a\n---\nname: b\n", "a second YAML document")):
            with self.assertRaises(PolyTrainError, msg=text) as refused:
                read(text)
            self.assertIn(named, refused.exception.message, text)
        # Aliases count as expanded: a few hundred bytes that would be 10^8 values are refused
        # at once, as polyctl refuses them.
        bomb = "a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
            f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 10)}]\n" for k in range(1, 8))
        with self.assertRaises(PolyTrainError) as refused:
            read(bomb)
        self.assertIn("more than 250000 values once its aliases are expanded",
                      refused.exception.message)
        # A spec file's named files are uploaded from its directory, as polyctl's --files.
        self.assertEqual(polytrain._upload.files_for(SCRATCH / "spec.json", None), SCRATCH)
        self.assertEqual(polytrain._upload.files_for("name: 'x'", None), None)
        self.assertEqual(polytrain._upload.files_for(SCRATCH / "spec.json", False), None)
        for name, text, error, message in (
                ("spec.toml", "x", ValueError, "spec.toml: unknown file extension"),
                ("twice.json", '{"name": "a", "name": "b"}', ValueError,
                 "twice.json: the key 'name' is given twice"),
                ("list.json", "[1]", ValueError, "list.json: expected an object at the top, "
                                                 "got list"),
                ("broken.yaml", "name: [", ValueError, "broken.yaml:1:8: expected the node content"),
                ("twice.yaml", "name: a\nname: b\n", ValueError, "the key 'name' is given twice"),
                ("typo.txtpb", "nmae: 1", ValueError, "typo.txtpb:1:1: Message type "
                                                      '"polytrain.v1.JobSpec" has no field '
                                                      'named "nmae"'),
                ("typo.json", '{"loss": {"poyl1": {}}}', ValueError,
                 "typo.json: spec.loss.poyl1: no such field"),
                ("enum.yaml", "precision: FP64\n", ValueError,
                 "enum.yaml: spec.precision: must be one of PRECISION_UNSPECIFIED, PRECISION_FP32, "
                 "PRECISION_BF16, got \"FP64\""),
                ("hidden.json", '{"model": {"mlp": {"hidden": [8, "x"]}}}', ValueError,
                 "hidden.json: spec.model.mlp.hidden[1]: must be a whole number from -2147483648 "
                 "to 2147483647, got \"x\""),
                ("eps.json", '{"loss": {"polyN": {"epsilons": [1, 2, "x"]}}}', ValueError,
                 "eps.json: spec.loss.poly_n.epsilons[2]: must be a number, got \"x\""),
                ("camel.json", '{"batchSize": 1.5}', ValueError,
                 "camel.json: spec.batch_size: must be a whole number from -2147483648 to "
                 "2147483647, got 1.5"),
                ("label.json", '{"labels": {"a": "b", "c": 5}}', ValueError,
                 "label.json: spec.labels[\"c\"]: must be a string, got 5"),
                ("labels.json", '{"labels": 5}', ValueError,
                 "labels.json: spec.labels: must be an object of names to values, got 5"),
                ("scalar.yaml", "model: {mlp: {hidden: 5}}\n", ValueError,
                 "scalar.yaml: spec.model.mlp.hidden: must be a list, got 5"),
                ("object.json", '{"model": {"mlp": {"hidden": {"a": 1}}}}', ValueError,
                 "object.json: spec.model.mlp.hidden: must be a list, got an object"),
                ("nested.json", '{"labels": {"a": [1]}}', ValueError,
                 'nested.json: spec.labels["a"]: must be a string, got a list'),
                ("syntax.json", '{"name": "a",\n "seed": }', ValueError,
                 "syntax.json:2:10: Expecting value"),
                ("nan.json", '{"loss": {"poly1": {"epsilon": NaN}}}', ValueError,
                 "nan.json: spec.loss.poly1.epsilon: must be a finite number")):
            (SCRATCH / name).write_text(text)
            with self.assertRaises(error) as raised:
                self.client.submit(SCRATCH / name)
            self.assertIn(message, str(raised.exception))
            self.assertIsInstance(raised.exception, PolyTrainError)
        with self.assertRaises(FileNotFoundError) as missing:
            self.client.submit(SCRATCH / "missing.txtpb")
        self.assertIn("missing.txtpb: no such file", str(missing.exception))


class TokenTest(unittest.TestCase):
    def test_the_token_goes_with_every_call(self):
        (SCRATCH / "tokens.txt").write_text(
            f"client carol sha256:{hashlib.sha256(TOKEN.encode()).hexdigest()}\n"
            f"client dave sha256:{hashlib.sha256(b'dave-token-of-the-tests').hexdigest()}\n")
        service = Service("tokens", "--tokens", str(SCRATCH / "tokens.txt"), worker=False)
        try:
            with Client(service.address) as anonymous:
                with self.assertRaises(PolyTrainError) as error:
                    list(anonymous.jobs())
                self.assertEqual(error.exception.code, "UNAUTHENTICATED")
            with Client(service.address, token=TOKEN) as carol:
                self.assertEqual(carol.upload(b"carol's").owner, "carol")
                job = carol.submit(SMALL_JOB)
                self.assertEqual(job.owner, "carol")
            # Another client's job, its model included, is not hers to read.
            with Client(service.address, token="dave-token-of-the-tests") as dave:
                with self.assertRaises(PolyTrainError) as error:
                    dave.download_checkpoint(job.id, SCRATCH / "daves.pt")
                self.assertEqual(error.exception.code, "PERMISSION_DENIED")
                self.assertFalse((SCRATCH / "daves.pt").exists())
        finally:
            service.close()


class TlsTest(unittest.TestCase):
    """A TLS coordinator that verifies client certificates when presented (as for workers), its
    certificates made by deploy/pki/make-dev-pki.sh (for the names coordinator, localhost and
    127.0.0.1), and an impostor's self-signed certificate."""

    pki = SCRATCH / "pki"

    @classmethod
    def make_pki(cls):
        """The certificates, made once for every test that needs them."""
        if (cls.pki / "impostor.pem").exists():
            return
        subprocess.run([str(SOURCE.parents[1] / "deploy/pki/make-dev-pki.sh"), str(cls.pki)],
                       check=True, stderr=subprocess.DEVNULL)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                        "/CN=impostor", "-keyout", str(cls.pki / "impostor.key"), "-out",
                        str(cls.pki / "impostor.pem")], check=True, stderr=subprocess.DEVNULL)

    @classmethod
    def setUpClass(cls):
        cls.make_pki()
        cls.service = Service("tls", "--tls_cert", str(cls.pki / "coordinator.pem"), "--tls_key",
                              str(cls.pki / "coordinator.key"), "--tls_client_ca",
                              str(cls.pki / "ca.pem"), worker=False, plaintext=False)

    @classmethod
    def tearDownClass(cls):
        cls.service.close()

    def reaches(self, **tls):
        """Whether a call over a Client made with `tls` (and the CA) gets through."""
        tls.setdefault("tls_ca", self.pki / "ca.pem")
        with Client(self.service.address, timeout=10, **tls) as client:
            try:
                client.jobs()
                return True
            except PolyTrainError as error:
                self.assertEqual(error.code, "UNAVAILABLE", error.message)
                return False

    def test_a_server_name_override_names_the_certificate(self):
        self.assertTrue(self.reaches())  # its certificate names 127.0.0.1
        self.assertTrue(self.reaches(tls_server_name="coordinator"))
        self.assertFalse(self.reaches(tls_server_name="elsewhere.example"))
        self.assertTrue(self.reaches(tls_ca=(self.pki / "ca.pem").read_bytes()))  # PEM bytes
        self.assertFalse(self.reaches(tls_ca=self.pki / "impostor.pem"))
        with self.assertRaises(PolyTrainError) as error:
            with Client(self.service.address, timeout=10) as plaintext:
                plaintext.jobs()
        self.assertEqual(error.exception.code, "UNAVAILABLE")
        self.assertIn("this client speaks plaintext: if the coordinator serves TLS, give tls_ca",
                      error.exception.message)

    def test_a_client_certificate_is_presented_for_mutual_tls(self):
        # The coordinator verifies a certificate that is presented: one from its CA gets
        # through, the impostor's fails the handshake (so it was presented).
        self.assertTrue(self.reaches(tls_cert=self.pki / "worker.pem",
                                     tls_key=self.pki / "worker.key"))
        self.assertTrue(self.reaches(tls_cert=str(self.pki / "worker.pem"),
                                     tls_key=(self.pki / "worker.key").read_bytes(),
                                     tls_server_name="localhost"))
        self.assertFalse(self.reaches(tls_cert=self.pki / "impostor.pem",
                                      tls_key=self.pki / "impostor.key"))

    def test_tls_arguments_that_do_not_fit_together_name_the_argument(self):
        pem = self.pki / "worker.pem"
        (SCRATCH / "empty.pem").write_bytes(b"")
        for arguments, message in (
                ({"tls_cert": pem}, "tls_key: needed with tls_cert"),
                ({"tls_key": pem, "tls_ca": pem}, "tls_cert: needed with tls_key"),
                ({"tls_cert": pem, "tls_key": pem}, "tls_ca: needed with tls_cert"),
                ({"tls_server_name": "coordinator"}, "tls_ca: needed with tls_server_name"),
                ({"tls_ca": SCRATCH / "empty.pem"}, f"tls_ca {SCRATCH / 'empty.pem'}: empty"),
                ({"tls_ca": pem, "tls_cert": pem, "tls_key": b" "}, "tls_key: empty")):
            with self.assertRaises(ValueError) as error:
                Client("127.0.0.1:1", **arguments)
            self.assertIn(message, str(error.exception))
        with self.assertRaises(TypeError):
            Client("127.0.0.1:1", tls_ca=3)

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
                 "seeds: must be in [0, 100], got 1099511627776"),
                (lambda: client.search(spec, {}, seeds=101), PolyTrainError,
                 "seeds: must be in [0, 100], got 101"),
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
                 f"path {dangling} exists")):
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

"""The Python client's token on every call, and TLS with certificates made by
deploy/pki/make-dev-pki.sh (server name override, mutual TLS, arguments that do not fit
together). Run by client_test.py.
"""
import hashlib
import unittest

from client_support import PKI, SCRATCH, SMALL_JOB, TOKEN, Service, make_dev_pki  # sets sys.path

from polytrain import Client, PolyTrainError  # noqa: E402


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

    def test_a_client_sees_its_storage_quota_and_is_held_to_it(self):
        (SCRATCH / "quota-tokens.txt").write_text(
            f"client erin sha256:{hashlib.sha256(TOKEN.encode()).hexdigest()}\n")
        service = Service("quota", "--tokens", str(SCRATCH / "quota-tokens.txt"),
                          "--max_artifact_bytes_per_client", "12", worker=False)
        try:
            with Client(service.address, token=TOKEN) as erin:
                self.assertEqual(erin.artifact_storage(),
                                 {"records": 0, "bytes": 0, "quota_bytes": 12})
                erin.upload(b"erin's bytes")  # 12: the edge
                self.assertEqual(erin.artifact_storage(),
                                 {"records": 1, "bytes": 12, "quota_bytes": 12})
                with self.assertRaises(PolyTrainError) as error:
                    erin.upload(b"!")
                self.assertEqual(error.exception.code, "RESOURCE_EXHAUSTED")
                self.assertIn("size_bytes: the artifact's 1 byte would take client 'erin' past "
                              "its storage quota of 12 bytes", str(error.exception))
                self.assertEqual(len(erin.artifacts()), 1)
        finally:
            service.close()


class TlsTest(unittest.TestCase):
    """A TLS coordinator that verifies client certificates when presented (as for workers), its
    certificates made by deploy/pki/make-dev-pki.sh (for the names coordinator, localhost and
    127.0.0.1), and an impostor's self-signed certificate."""

    pki = PKI

    @classmethod
    def setUpClass(cls):
        make_dev_pki()
        cls.service = Service("tls", "--tls_cert", str(cls.pki / "coordinator.pem"), "--tls_key",
                              str(cls.pki / "coordinator.key"), "--tls_client_ca",
                              str(cls.pki / "ca.pem"), worker=False, plaintext=False)

    @classmethod
    def tearDownClass(cls):
        cls.service.close()

    def reaches(self, said="", **tls):
        """Whether a call over a Client made with `tls` (and the CA) gets through; a failure's
        message must hold `said`."""
        tls.setdefault("tls_ca", self.pki / "ca.pem")
        with Client(self.service.address, timeout=10, **tls) as client:
            try:
                client.jobs()
                return True
            except PolyTrainError as error:
                self.assertEqual(error.code, "UNAVAILABLE", error.message)
                self.assertIn(said, error.message)
                return False

    def test_a_server_name_override_names_the_certificate(self):
        self.assertTrue(self.reaches())  # its certificate names 127.0.0.1
        self.assertTrue(self.reaches(tls_server_name="coordinator"))
        self.assertFalse(self.reaches("(the coordinator's certificate does not name the host "
                                      "dialled: give tls_server_name with a name it has)",
                                      tls_server_name="elsewhere.example"))
        self.assertTrue(self.reaches(tls_ca=(self.pki / "ca.pem").read_bytes()))  # PEM bytes
        self.assertFalse(self.reaches("(the coordinator's certificate is not signed by the CA in "
                                      "tls_ca: give the CA that signed it)",
                                      tls_ca=self.pki / "impostor.pem"))
        with self.assertRaises(PolyTrainError) as error:
            with Client(self.service.address, timeout=10) as plaintext:
                plaintext.jobs()
        self.assertEqual(error.exception.code, "UNAVAILABLE")
        self.assertIn("this client speaks plaintext: if the coordinator serves TLS, give tls_ca",
                      error.exception.message)

    def test_a_tls_client_of_a_plaintext_coordinator_is_told_so(self):
        plain = Service("plain-for-tls", worker=False)
        try:
            with self.assertRaises(PolyTrainError) as error:
                with Client(plain.address, timeout=10, tls_ca=self.pki / "ca.pem") as client:
                    client.jobs()
            self.assertEqual(error.exception.code, "UNAVAILABLE")
            self.assertIn("(this client speaks TLS: the coordinator there answers in plaintext, "
                          "which it serves only on loopback; leave tls_ca out to reach it)",
                          error.exception.message)
        finally:
            plain.close()

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

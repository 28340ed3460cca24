"""What the Python client's tests share: the package (from this directory, as edited) and its
generated messages (BUILD_DIR/python) on sys.path, a scratch directory, a small job, and Service,
a real coordinator and worker on loopback. client_test.py takes BUILD_DIR as its first argument.
"""
import pathlib
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = pathlib.Path(sys.argv[1])
SOURCE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(SOURCE), str(BUILD / "python")]
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import polytrain  # noqa: E402
import polytrain._messages  # noqa: E402
import polytrain._upload  # noqa: E402
from polytrain import Client, PolyTrainError, state_name  # noqa: E402
from polytrain.v1 import coordinator_pb2, job_pb2, job_record_pb2, metrics_pb2  # noqa: E402

SCRATCH = pathlib.Path(tempfile.mkdtemp(prefix="python_client_test_"))
TOKEN = "a-python-client-token"

SMALL_JOB = """
name: "small"
model { mlp { hidden: 16 } }
dataset { synthetic { classes: 3 features: 8 train_samples: 300 test_samples: 90 } }
loss { poly1 { epsilon: 1 } }
optimizer { sgd {} learning_rate: 0.1 }
epochs: 2
batch_size: 30
log_every_steps: 5
"""


PKI = SCRATCH / "pki"


def make_dev_pki():
    """Certificates by deploy/pki/make-dev-pki.sh in PKI (for the names coordinator, localhost and
    127.0.0.1), and an impostor's self-signed one; made once for every test that needs them."""
    if (PKI / "impostor.pem").exists():
        return
    subprocess.run([str(SOURCE.parents[1] / "deploy/pki/make-dev-pki.sh"), str(PKI)],
                   check=True, stderr=subprocess.DEVNULL)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    "/CN=impostor", "-keyout", str(PKI / "impostor.key"), "-out",
                    str(PKI / "impostor.pem")], check=True, stderr=subprocess.DEVNULL)


class Service:
    """A coordinator (with `flags`; plaintext unless `plaintext` is false, when the flags give
    its TLS) and, unless `worker` is false, one worker."""

    def __init__(self, name, *flags, worker=True, plaintext=True):
        self.dir = SCRATCH / name
        self.dir.mkdir()
        self.flags = list(flags) + (["--plaintext"] if plaintext else [])
        self.logs = [open(self.dir / "coordinator.log", "w"), open(self.dir / "worker.log", "w")]
        self.processes = [self._coordinator("127.0.0.1:0")]
        self.address = f"127.0.0.1:{(self.dir / 'port').read_text().strip()}"
        if worker:
            self.processes.append(subprocess.Popen(
                [str(BUILD / "worker/polytrain-worker"), "--coordinator", self.address,
                 "--name", "py-worker", "--data_root", str(self.dir),
                 "--artifact_cache_dir", str(self.dir / "cache")], stderr=self.logs[1]))

    def _coordinator(self, listen):
        """Starts the coordinator on `listen` and waits until it serves."""
        port_file = self.dir / "port"
        port_file.unlink(missing_ok=True)
        process = subprocess.Popen(
            [str(BUILD / "server/polytrain-coordinator"), "--listen", listen,
             "--port_file", str(port_file), "--db", str(self.dir / "db"),
             "--artifacts", str(self.dir / "artifacts"), "--metrics_listen", ""] + self.flags,
            stderr=self.logs[0])
        for _ in range(400):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.05)
        return process

    def restart_coordinator(self):
        """SIGKILLs the coordinator and starts it again on the same database and address."""
        self.kill_coordinator()
        self.start_coordinator()

    def kill_coordinator(self):
        """SIGKILLs the coordinator (start_coordinator() brings it back)."""
        self.processes[0].kill()
        self.processes[0].wait(timeout=30)

    def start_coordinator(self):
        """Starts the coordinator again on the same database and address, once it serves."""
        self.processes[0] = self._coordinator(self.address)

    def close(self):
        for process in reversed(self.processes):
            process.terminate()
            process.wait(timeout=30)
        for log in self.logs:
            log.close()


class ServiceTestCase(unittest.TestCase):
    """Tests against one Service (named SERVICE_NAME) and a Client of it, for the whole class."""
    SERVICE_NAME = "open"

    @classmethod
    def setUpClass(cls):
        cls.service = Service(cls.SERVICE_NAME)
        cls.client = Client(cls.service.address)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.service.close()

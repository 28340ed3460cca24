"""Uploads that cannot be sent (a FIFO, a device, a file failing or changing while it streams),
bytes stored before under another name, and an upload interrupted by Ctrl-C, which gives the
caller's upload place back at once. Run by client_test.py.
"""
import _thread
import itertools
import os
import threading
import time
import warnings
from unittest import mock

from client_support import SCRATCH, ServiceTestCase  # sets sys.path first

import polytrain._upload  # noqa: E402
from polytrain import PolyTrainError  # noqa: E402
from polytrain.v1 import coordinator_pb2  # noqa: E402


class UploadTest(ServiceTestCase):
    SERVICE_NAME = "uploads"

    def test_the_first_chunk_announces_the_size_hashed(self):
        # So that a file past the coordinator's limit is refused before its bytes are sent.
        source = SCRATCH / "announced.bin"
        source.write_bytes(b"x" * 1500000)
        for upload, size in ((polytrain._upload.Upload(source, None), 1500000),
                             (polytrain._upload.Upload(b"", None), 0)):
            try:
                first = next(upload.chunks())
                self.assertTrue(first.HasField("size_bytes"))
                self.assertEqual(first.size_bytes, size)
            finally:
                upload.close()

        # A file that grows after its hash: the coordinator refuses the bytes past the size
        # announced, and the upload is named as changed; nothing is stored.
        def grown_pieces(upload):
            yield b"x" * (1 << 20)  # chunks of at most 1 MiB, as _pieces reads them
            yield b"x" * (1500000 - (1 << 20))
            yield b"more"

        before = {a.id for a in self.client.artifacts()}
        with mock.patch.object(polytrain._upload.Upload, "_pieces", grown_pieces):
            with self.assertRaises(PolyTrainError) as error:
                self.client.upload(source)
        self.assertEqual(error.exception.code, "FAILED_PRECONDITION")
        self.assertIn(f"source {source} changed while it was uploaded (1500000 bytes when hashed, "
                      f"more sent)", error.exception.message)
        self.assertEqual({a.id for a in self.client.artifacts()}, before)

    def test_what_an_upload_cannot_send_is_refused_by_name_and_a_read_error_is_the_os_error(self):
        folder = SCRATCH / "odd-sources"
        folder.mkdir()
        os.mkfifo(folder / "fifo.pt")
        (folder / "zero.pt").symlink_to("/dev/zero")
        for source in (folder / "fifo.pt", "/dev/zero", folder / "zero.pt"):  # would never end
            with self.assertRaises(PolyTrainError) as error:
                self.client.upload(source)
            self.assertEqual(error.exception.code, "INVALID_ARGUMENT")
            self.assertIn(f"source {source}: not a regular file", error.exception.message)
        with self.assertRaises(FileNotFoundError) as error:
            self.client.upload(folder / "missing.pt")
        self.assertEqual(error.exception.code, "NOT_FOUND")

        # A file that fails while it streams: the OS error, not gRPC's UNKNOWN.
        (folder / "model.pt").write_bytes(b"m" * (3 << 20))

        def failing_pieces(upload):
            yield b"m" * (1 << 20)
            raise OSError(5, "Input/output error")

        with mock.patch.object(polytrain._upload.Upload, "_pieces", failing_pieces):
            with self.assertRaises(OSError) as error:
                self.client.upload(folder / "model.pt")
        self.assertNotIsInstance(error.exception, PolyTrainError)
        self.assertIn(f"source {folder / 'model.pt'}: Input/output error", str(error.exception))
        self.assertEqual(self.client.upload(folder / "model.pt").size_bytes, 3 << 20)

        # A file whose bytes change between the hash and the stream (each read of this one
        # differs) is named as such; nothing is stored.
        uuid = "/proc/sys/kernel/random/uuid"
        before = {a.id for a in self.client.artifacts()}
        with self.assertRaises(PolyTrainError) as error:
            self.client.upload(uuid)
        self.assertEqual(error.exception.code, "FAILED_PRECONDITION")
        self.assertIn(f"source {uuid} changed while it was uploaded", error.exception.message)
        self.assertEqual({a.id for a in self.client.artifacts()}, before)

        # Bytes stored before under another name: that record, and a warning saying so.
        first = self.client.upload(b"named twice", name="first.bin")
        with self.assertWarnsRegex(UserWarning, "stored before as 'first.bin'"):
            again = self.client.upload(b"named twice", name="second.bin")
        self.assertEqual(again.id, first.id)
        # Without name=, the name taken from the source is the one compared.
        same_bytes = SCRATCH / "renamed.bin"
        same_bytes.write_bytes(b"named twice")
        with self.assertWarnsRegex(UserWarning, r"these bytes \(uploaded as 'renamed.bin'\) were "
                                                "stored before as 'first.bin'"):
            self.assertEqual(self.client.upload(same_bytes).id, first.id)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the same name again: no warning
            self.assertEqual(self.client.upload(b"named twice", name="first.bin").id, first.id)

    def test_an_interrupted_upload_gives_its_place_back_at_once(self):
        # Each upload sends its first chunk and the user presses Ctrl-C while the rest streams
        # on (a large file over a slow link: a chunk every 0.1 s, never idle for the
        # coordinator): the KeyboardInterrupt reaches the caller, the call is cancelled, and the
        # coordinator frees the upload place (4 per caller) at once, rather than when the stream
        # would have ended in gRPC's threads (measured: a 400 MB file's four interrupted uploads
        # held every place for 57 s).
        stalled = threading.Event()
        real_chunks = polytrain._upload.Upload.chunks

        def slow_chunks(upload):
            yield next(real_chunks(upload))
            for sent in itertools.count(1):
                if stalled.wait(0.1):
                    return
                yield coordinator_pb2.UploadArtifactRequest(data=b"x" * 65536)
                if sent == 3:  # Ctrl-C, once the call is well under way (waiting for its answer)
                    _thread.interrupt_main()

        try:
            with mock.patch.object(polytrain._upload.Upload, "chunks", slow_chunks):
                for attempt in range(4):  # as many as the coordinator lets one caller hold
                    with self.assertRaises(KeyboardInterrupt):
                        self.client.upload(b"interrupted %d" % attempt + b"x" * (2 << 20))
            # The places come back as the coordinator sees each cancel (a stream left open would
            # hold its place as long as its chunks come: to the end of this test).
            deadline = time.monotonic() + 20
            while True:
                try:
                    stored = self.client.upload(b"after the interrupts", name="after.bin")
                    break
                except PolyTrainError as error:
                    self.assertEqual(error.code, "RESOURCE_EXHAUSTED", error.message)
                    self.assertLess(time.monotonic(), deadline, error.message)
                    time.sleep(0.05)
            self.assertEqual(stored.name, "after.bin")
            self.assertNotIn("interrupted", " ".join(a.name for a in self.client.artifacts()))
        finally:
            stalled.set()

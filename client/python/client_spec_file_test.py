"""Spec files as the Python client reads them, by extension (.txtpb, .json, .yaml) and as polyctl
reads them (YAML's plain scalars as yaml-cpp and absl take them, aliases counted expanded),
each error naming the file and the field. Run by client_test.py.
"""
import unittest

from client_support import SCRATCH  # sets sys.path first

import polytrain._messages  # noqa: E402
import polytrain._upload  # noqa: E402
from polytrain import Client, PolyTrainError  # noqa: E402
from polytrain.v1 import job_pb2  # noqa: E402


class SpecFileTest(unittest.TestCase):
    """Read with nothing listening: every error is the client's own."""

    def setUp(self):
        self.client = Client("127.0.0.1:1")

    def tearDown(self):
        self.client.close()

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
                ("broken.yaml", "name: [", ValueError,
                 "broken.yaml:1:8: expected the node content"),
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
                ("path.json", '{"model": {"torchscript": {"path": {"a": 1}}}}', ValueError,
                 "path.json: spec.model.torchscript.path: must be a string, got an object"),
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

    def test_a_dict_spec_takes_tuples_as_lists(self):
        spec = polytrain._messages.message(
            {"model": {"mlp": {"hidden": (8, 4)}}, "loss": {"poly_n": {"epsilons": (1.0, 0.5)}}},
            job_pb2.JobSpec, "spec")
        self.assertEqual(list(spec.model.mlp.hidden), [8, 4])
        self.assertEqual(list(spec.loss.poly_n.epsilons), [1.0, 0.5])

#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<harness>/ (committed; rerun after a proto change).

Seeds are small valid and invalid inputs: the example specs, hand-written broken ones, and
worker-stream scripts. Binary protos are encoded by protoc from text, so the seeds follow the
.proto files. Usage: fuzz/make_corpus.py  (needs protoc on PATH).
"""
import json
import pathlib
import shutil
import struct
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
PROTO = ROOT / "proto"


def encode(message_type, text):
    """The binary encoding of a polytrain.v1 message written in text format."""
    return subprocess.run(
        ["protoc", f"--encode=polytrain.v1.{message_type}", f"-I{PROTO}",
         "polytrain/v1/coordinator.proto", "polytrain/v1/worker.proto"],
        input=text.encode(), stdout=subprocess.PIPE, check=True).stdout


def write(harness, name, data):
    path = CORPUS / harness / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def reset(harness):
    shutil.rmtree(CORPUS / harness, ignore_errors=True)
    (CORPUS / harness).mkdir(parents=True)


# --- job_spec_text_fuzzer: the examples, and specs each wrong in one way -------------------------
BAD_TEXT_JOBS = {
    "bad_epsilon.txtpb": 'name: "x" model { mlp {} } dataset { fashion_mnist {} }\n'
                         'loss { poly_n { epsilons: [1, 0, 0, -0.5] } }\n'
                         'optimizer { sgd {} learning_rate: 0.1 } epochs: 1 batch_size: 8\n',
    "no_model.txtpb": 'name: "x" dataset { fashion_mnist {} } loss { cross_entropy {} }\n'
                      'optimizer { adam {} learning_rate: 0.001 } epochs: 1 batch_size: 8\n',
    "dotdot_path.txtpb": 'name: "x" model { mlp {} }\n'
                         'dataset { idx { train_images: "../etc/passwd" train_labels: "a"\n'
                         '  test_images: "b" test_labels: "c" } }\n'
                         'loss { drop { n: 10 } } optimizer { sgd {} learning_rate: 0.1 }\n'
                         'max_steps: 10 batch_size: 8\n',
    "syntax_error.txtpb": 'name: "x" model { mlp { hidden: [64, } }\n',
    "unknown_field.txtpb": 'name: "x" model { transformer {} }\n',
    "nan_lr.txtpb": 'name: "x" model { resnet { stage_channels: [16] } }\n'
                    'dataset { synthetic { classes: 3 features: 4 train_samples: 10\n'
                    '  test_samples: 10 imbalance: 2 label_noise: 0.1 } }\n'
                    'loss { coefficients { alpha: [1, 0.5] gamma: 0.5 add_ce_tail: true } }\n'
                    'optimizer { adamw { beta1: 0.9 beta2: 0.999 eps: 1e-8 } learning_rate: nan }\n'
                    'schedule { step { step_size: 10 gamma: 0.5 } } epochs: 1 batch_size: 8\n',
    "labels.txtpb": 'name: "x-1.y_2" labels { key: "team/vision" value: "a b" }\n'
                    'labels { key: "Upper" value: "" } model { cnn {} }\n'
                    'dataset { fashion_mnist { dir: "fmnist" } train_limit: 100 }\n'
                    'loss { focal { gamma: 2 } label_smoothing: 0.1 class_weights: [1, 2]\n'
                    '  reduction: REDUCTION_SUM ignore_index: -100 }\n'
                    'optimizer { sgd { momentum: 0.9 nesterov: true } learning_rate: 0.1 }\n'
                    'eval { every_steps: 5 calibration_bins: 10 } checkpoint { keep_last: 1 }\n'
                    'device: DEVICE_CUDA threads: 2 priority: -3 max_attempts: 4\n'
                    'epochs: 1 batch_size: 8\n',
}


def text_jobs():
    reset("job_spec_text_fuzzer")
    for path in sorted((ROOT / "examples" / "jobs").glob("*.txtpb")):
        write("job_spec_text_fuzzer", path.name, path.read_text())
    for name, text in BAD_TEXT_JOBS.items():
        write("job_spec_text_fuzzer", name, text)


# --- job_spec_json_fuzzer -------------------------------------------------------------------------
GOOD_JSON_JOB = {
    "name": "synthetic-poly3",
    "labels": {"sweep": "s1"},
    "model": {"mlp": {"hidden": [64, 32], "dropout": 0.1}},
    "dataset": {"synthetic": {"classes": 5, "features": 20, "trainSamples": "4000",
                              "test_samples": 1000, "seed": "7"},
                "validationFraction": 0.1},
    "loss": {"poly_n": {"epsilons": [1.0, 0.5, -0.2]}, "label_smoothing": 0.1},
    "optimizer": {"sgd": {"momentum": 0.9}, "learning_rate": 0.05},
    "schedule": {"cosine": {"min_factor": 0.05}, "warmup_steps": "100"},
    "epochs": 5,
    "batch_size": 64,
    "device": "DEVICE_CPU",
}


def json_jobs():
    reset("job_spec_json_fuzzer")
    write("job_spec_json_fuzzer", "good.json", json.dumps(GOOD_JSON_JOB, indent=1))
    sigmoid = dict(GOOD_JSON_JOB, loss={"poly_focal": {"gamma": 2, "epsilons": [1]},
                                        "activation": "ACTIVATION_SIGMOID", "alpha": 0.25,
                                        "ignore_index": "-1", "reduction": 3})
    write("job_spec_json_fuzzer", "sigmoid.json", json.dumps(sigmoid))
    write("job_spec_json_fuzzer", "drop.json",
          json.dumps(dict(GOOD_JSON_JOB, loss={"drop": {"n": 10}}, max_steps="1000",
                          model={"cnn": {"channels": [8, 16], "hidden": 32}})))
    write("job_spec_json_fuzzer", "bad_epsilon.json",
          json.dumps(dict(GOOD_JSON_JOB, loss={"poly1": {"epsilon": -2}})))
    write("job_spec_json_fuzzer", "infinity.json",
          json.dumps(dict(GOOD_JSON_JOB, loss={"focal": {"gamma": "Infinity"}})))
    write("job_spec_json_fuzzer", "unknown_field.json", '{"name": "x", "modle": {}}')
    write("job_spec_json_fuzzer", "wrong_type.json", '{"name": 5, "epochs": "many"}')
    write("job_spec_json_fuzzer", "truncated.json", json.dumps(GOOD_JSON_JOB)[:120])


# --- loss_spec_fuzzer: byte 0 = format (0 binary, 1 text), byte 1 = extra pts, then the spec ------
LOSS_TEXTS = {
    "ce": "cross_entropy {}",
    "poly_n_neg": "poly_n { epsilons: [-1, -0.5, -0.3333333333333333] }",
    "coef_no_tail": "coefficients { alpha: [0, 0, 2] gamma: 0.25 }",
    "coef_tail": "coefficients { alpha: [1000, 0] add_ce_tail: true gamma: 50 }",
    "weights": "poly1 { epsilon: 1000 } class_weights: [0, 1e6] reduction: REDUCTION_NONE",
    "bad_gamma": "focal { gamma: 51 }",
    "bad_smoothing": "cross_entropy {} label_smoothing: 1",
    "alpha_softmax": "poly1 { epsilon: 1 } alpha: 0.5",
    # -0 is 0: it once gave the loss a second short name (a fuzzer's find).
    "negative_zero": "coefficients { alpha: [1e-307, 3e-312, 1e-307, 3e-306] add_ce_tail: true "
                     "gamma: -0 }",
    "empty": "",
}


def losses():
    reset("loss_spec_fuzzer")
    sources = {p.stem: p.read_text() for p in sorted((ROOT / "examples" / "losses").glob("*.txtpb"))}
    sources.update(LOSS_TEXTS)
    for name, text in sources.items():
        write("loss_spec_fuzzer", f"text_{name}", b"\x01\x00" + text.encode())
        try:
            binary = encode("LossSpec", text)
        except subprocess.CalledProcessError:
            continue
        write("loss_spec_fuzzer", f"binary_{name}", b"\x00\x00" + binary)
    # Extra pts: one just below 1, one tiny, one folded from above 1.
    pts = struct.pack("<3d", 1.0 - 2.0**-52, 1e-310, 3.0)
    write("loss_spec_fuzzer", "pts_poly_focal",
          b"\x01\x03" + pts + b"poly_focal { gamma: 0.5 epsilons: [2, -0.5] }")


# --- worker_protocol_fuzzer: op, arg, len (u16 LE), payload; jobs "0" (cpu) and "1" (gpu) -------
CONNECT, MESSAGE, DISCONNECT, EXPIRE, SUBMIT, CANCEL, ARTIFACT, READ = range(8)


def op(kind, arg=0, payload=b""):
    return struct.pack("<BBH", kind, arg, len(payload)) + payload


def hello(text):
    return encode("Hello", text)


def msg(text):
    return encode("WorkerMessage", text)


POINT = ('points { kind: KIND_TRAIN step: 10 epoch: 0 epoch_progress: 0.5 elapsed_seconds: 1\n'
         '  values { key: "loss" value: 0.7 } values { key: "accuracy" value: 0.8 }\n'
         '  values { key: "samples_per_second" value: 1000 } }\n'
         'points { kind: KIND_EVAL step: 20 values { key: "loss" value: nan } }')


def worker_protocol():
    h = "worker_protocol_fuzzer"
    reset(h)
    # A CPU worker runs job 0 to the end.
    write(h, "happy_path", b"".join([
        op(CONNECT, 0, hello('name: "w1" slots: 1 devices: "cpu" threads: 1')),
        op(MESSAGE, 0, msg('heartbeat { running_job_ids: "0" }')),
        op(MESSAGE, 0, msg(f'metrics {{ job_id: "0" attempt: 1 {POINT} }}')),
        op(MESSAGE, 0, msg('finished { job_id: "0" attempt: 1 steps: 20 seconds: 2 '
                           'resumed_from_step: 10 final_metrics { key: "eval_loss" value: 0.5 } }')),
        op(READ, 0),
    ]))
    # A GPU worker takes both jobs; one fails, the other's lease lapses.
    write(h, "gpu_fail_and_expire", b"".join([
        op(CONNECT, 0, hello('name: "gpu-1" slots: 2 devices: "cpu" devices: "cuda"')),
        op(MESSAGE, 0, msg('failed { job_id: "1" attempt: 1 error: "training diverged" }')),
        op(EXPIRE, 11),
        op(READ, 1),
    ]))
    # The worker goes away; the job is requeued, re-attached by a reconnect, then runs out of
    # attempts (max_attempts 2).
    write(h, "disconnect_requeue", b"".join([
        op(CONNECT, 0, hello('name: "w1"')),
        op(DISCONNECT, 0),
        op(CONNECT, 0, hello('name: "w1" running_job_ids: "0"')),
        op(EXPIRE, 11),
        op(EXPIRE, 22),
        op(CONNECT, 0, hello('name: "w2" slots: 64')),
        op(EXPIRE, 33),
        op(READ, 0),
    ]))
    # What a confused or hostile worker sends.
    write(h, "bad_messages", b"".join([
        op(MESSAGE, 7, msg('heartbeat {}')),
        op(CONNECT, 0, hello('name: "" slots: 65')),
        op(CONNECT, 0, hello('name: "w" slots: -1')),
        op(CONNECT, 0, hello('name: "w"')),
        op(CONNECT, 0, hello('name: "w"')),
        op(MESSAGE, 0, msg('hello { name: "again" }')),
        op(MESSAGE, 0, b""),
        op(MESSAGE, 0, msg('finished { job_id: "0" attempt: 7 }')),
        op(MESSAGE, 0, msg('metrics { job_id: "nope" attempt: 1 }')),
        op(MESSAGE, 0, msg('failed { job_id: "1" }')),
        op(DISCONNECT, 9),
        op(MESSAGE, 0, b"\xff\xff\xff"),
    ]))
    # Cancel a running job, its artifact arrives, the worker reports the stop.
    write(h, "cancel_running", b"".join([
        op(CONNECT, 0, hello('name: "w1" devices: "cuda" slots: 2')),
        op(CANCEL, 0),
        op(ARTIFACT, 0, b"ckpt-000000000010.pt"),
        op(ARTIFACT, 1, b"metrics.jsonl"),
        op(MESSAGE, 0, msg('failed { job_id: "0" attempt: 1 cancelled: true }')),
        op(CANCEL, 1),
        op(EXPIRE, 200),
        op(READ, 1),
    ]))
    # More jobs through the submission path, one retried with its request id.
    job = encode("SubmitJobRequest", 'client_request_id: "r1" spec { name: "more" '
                 'model { mlp {} } dataset { synthetic { classes: 2 features: 2 '
                 'train_samples: 4 test_samples: 4 } } loss { drop { n: 3 } } '
                 'optimizer { sgd {} learning_rate: 0.1 } epochs: 1 batch_size: 2 priority: 9 }')
    # Two clients submit; each may cancel only its own job (arg of a cancel: caller << 6 | job).
    write(h, "owners", b"".join([
        op(SUBMIT, 1),
        op(SUBMIT, 2),
        op(CANCEL, 1 << 6 | 3),
        op(CANCEL, 2 << 6 | 0),
        op(CANCEL, 1 << 6 | 2),
        op(CONNECT, 0, hello('name: "w1" slots: 4')),
        op(MESSAGE, 0, msg('finished { job_id: "3" attempt: 1 }')),
        op(READ, 3),
    ]))
    write(h, "submit_more", b"".join([
        op(SUBMIT, 0, job),
        op(SUBMIT, 0, job),
        op(SUBMIT, 0),
        op(SUBMIT, 0, encode("SubmitJobRequest", 'spec { name: "bad" }')),
        op(CONNECT, 0, hello('name: "w1" slots: 3')),
        op(MESSAGE, 0, msg('finished { job_id: "2" }')),
        op(READ, 2),
    ]))


# --- request_bytes_fuzzer: byte 0 picks the message (0 SubmitJobRequest, 1 SubmitSweepRequest,
# 2 CompareJobsRequest, 3 ListJobsRequest, 4 WorkerMessage, 5 ArtifactChunk), then its bytes -----
def request_bytes():
    h = "request_bytes_fuzzer"
    reset(h)
    example = (ROOT / "examples" / "jobs" / "fashion_mnist_mlp_poly1.txtpb").read_text()
    write(h, "submit.bin", b"\x00" + encode("SubmitJobRequest", f"spec {{ {example} }}"))
    write(h, "submit_labels.bin",
          b"\x00" + encode("SubmitJobRequest", 'spec { name: "x" labels { key: "k" value: "v" } }'))
    write(h, "bad_label_value.bin", b"\x00\x0a\x09\x12\x07\x0a\x01k\x12\x02\xff\xfe")
    write(h, "spec_as_varint.bin", b"\x00\x08\x01")
    write(h, "sweep.bin", b"\x01" + encode(
        "SubmitSweepRequest", 'base { name: "b" } losses { cross_entropy {} } seeds: 2'))
    write(h, "compare.bin", b"\x02" + encode("CompareJobsRequest", 'job_ids: ["a", "b"]'))
    write(h, "compare_bad_id.bin", b"\x02\x0a\x01a\x0a\x02\xc3\x28")
    write(h, "list.bin", b"\x03" + encode("ListJobsRequest", 'labels { key: "a" value: "b" }'))
    write(h, "hello.bin", b"\x04" + encode("WorkerMessage", 'hello { name: "w" slots: 2 }'))
    write(h, "truncated.bin", b"\x04\x0a\x05ab")
    write(h, "chunk.bin", b"\x05" + encode("ArtifactChunk", 'data: "abc"'))


# --- zip_records_fuzzer: byte 0 = kind (0 a zip archive, 1 a pickle), then the bytes -------------
def zip_archive(records, compress_names=()):
    """A zip archive of (name, bytes) records, deflated where named in `compress_names`."""
    import io
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in records:
            method = zipfile.ZIP_DEFLATED if name in compress_names else zipfile.ZIP_STORED
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return out.getvalue()


def torch_files():
    import pickle
    h = "zip_records_fuzzer"
    reset(h)
    # What torch.save writes: a dict, a tuple rebuilding a tensor from a persistent id.
    data = (b"\x80\x02}q\x00(X\x01\x00\x00\x00xq\x01ctorch._utils\n_rebuild_tensor_v2\n"
            b"q\x02((X\x07\x00\x00\x00storageq\x03ctorch\nFloatStorage\nq\x04X\x01\x00\x00\x000"
            b"q\x05X\x03\x00\x00\x00cpuq\x06K\x02tq\x07QK\x00K\x02\x85q\x08K\x01\x85q\t\x89"
            b"ccollections\nOrderedDict\nq\n)Rq\x0btq\x0cRq\rs.")
    nested = b"\x80\x02" + b"](" * 2000 + b"]" + b"e" * 2000 + b"."
    memo = b"\x80\x02" + b"".join(b"]r" + struct.pack("<I", i) + b"0" for i in range(50)) + \
        b"".join(b"j" + struct.pack("<I", i) + b"j" + struct.pack("<I", i + 1) + b"a0"
                 for i in range(49)) + b"N."
    for name, pickled in (("data", data), ("nested", nested), ("memo", memo),
                          ("python", pickle.dumps({"a": [1, (2, 3.0)], "b": {"c": None}},
                                                  protocol=2)),
                          ("protocol4", pickle.dumps([[1], (2,), {3: b"x"}], protocol=4))):
        write(h, f"pickle_{name}", b"\x01" + pickled)
    write(h, "zip_tensors", b"\x00" + zip_archive([("t/data.pkl", data), ("t/data/0", b"\0" * 8),
                                                     ("t/version", b"3\n")]))
    write(h, "zip_model", b"\x00" + zip_archive(
        [("m/data.pkl", data), ("m/code/m.py", b"def forward(self, x):\n  return x\n"),
         ("m/code/m.py.debug_pkl", pickle.dumps((0, ("m.py", 1)), protocol=2)),
         ("m/constants.pkl", b"\x80\x02).")],
        compress_names=("m/code/m.py", "m/code/m.py.debug_pkl")))
    write(h, "zip_nested", b"\x00" + zip_archive([("n/data.pkl", nested)]))
    write(h, "zip_empty", b"\x00" + zip_archive([]))


# --- dictionaries: field and enum names help the text and JSON fuzzers reach deep fields --------
def dictionary():
    import re
    words = set()
    for proto in ("job.proto", "loss.proto"):
        text = (PROTO / "polytrain" / "v1" / proto).read_text()
        words.update(re.findall(r"^\s*(?:repeated |optional )?[\w.]+ (\w+) = \d+;", text, re.M))
        words.update(re.findall(r"^\s*([A-Z][A-Z0-9_]+) = \d+;", text, re.M))
    words.update(["labels", "key", "value", "true", "false"])
    lines = [f'"{w}"' for w in sorted(words)]
    lines += ['"{"', '"}"', '"["', '"]"', '":"', '"nan"', '"inf"', '"-1e308"', '"1e-320"']
    (ROOT / "fuzz" / "job_spec.dict").write_text(
        "# Field and enum names of job.proto and loss.proto (fuzz/make_corpus.py writes this).\n"
        + "\n".join(lines) + "\n")


if __name__ == "__main__":
    text_jobs()
    json_jobs()
    losses()
    worker_protocol()
    request_bytes()
    torch_files()
    dictionary()

"""PolyTrain's Python client: submit training jobs whose loss is a point of the PolyLoss family,
bring your own TorchScript model and tensor data, watch runs and compare losses.

    from polytrain import Client
    client = Client("127.0.0.1:50051")
    job = client.submit('name: "mlp" model { mlp {} } dataset { fashion_mnist {} } ...')
    for event in client.watch(job.id): ...

Depends on grpcio and protobuf only (Debian: python3-grpcio, python3-protobuf); torch only to
upload a torch.jit.ScriptModule directly. The message classes (polytrain.v1.*_pb2) are generated
from proto/ by the build (`cmake --build build --target polytrain_python`, into build/python).
"""
from polytrain.client import Client, PolyTrainError, artifact_name

__all__ = ["Client", "PolyTrainError", "artifact_name"]

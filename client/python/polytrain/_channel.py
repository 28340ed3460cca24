"""How a Client reaches its coordinator, by polyctl's rules: TLS when given a CA (with a client
certificate for mutual TLS, and a server name override), plaintext only to a loopback address."""
import grpc

from polytrain import _arguments
from polytrain.errors import ArgumentError

# What MakeChannel (common/grpc_security.cc) gives polyctl's and the worker's channels: replies up
# to 16 MiB (a ListJobs page may be 8 MiB; gRPC's default is 4), and a keepalive ping every 20 s
# so that a coordinator whose host died is noticed in seconds, not after TCP's quarter of an hour;
# a coordinator back from a restart is dialled again within 2 s (gRPC's backoff grows to 120 s).
# Python's channel, called now and then (not streaming as a worker's), also needs a short first
# backoff for that: with gRPC's 1 s one, calls kept failing ("Connection refused") for 6 s after
# the coordinator was back (measured with grpcio 1.51). Each Client's connection is its own
# (gRPC shares them between channels to one address by default): a new Client made after a
# restart dials at once, not when an older one's backoff ends (measured: 1.96 s, now 0.0 s).
CHANNEL_OPTIONS = (("grpc.max_receive_message_length", 16 << 20),
                   ("grpc.use_local_subchannel_pool", 1),
                   ("grpc.max_reconnect_backoff_ms", 2000),
                   ("grpc.initial_reconnect_backoff_ms", 200),
                   ("grpc.keepalive_time_ms", 20000), ("grpc.keepalive_timeout_ms", 20000),
                   ("grpc.keepalive_permit_without_calls", 1),
                   ("grpc.http2.max_pings_without_data", 0))


def open_channel(address, tls_ca, tls_cert, tls_key, tls_server_name):
    """The gRPC channel to `address` (already checked) for the Client's TLS arguments; an
    argument refused raises ArgumentError naming it."""
    if tls_server_name is not None:
        _arguments.text(tls_server_name, "tls_server_name")
    if (tls_cert is None) != (tls_key is None):
        missing, given = ("tls_key", "tls_cert") if tls_key is None else ("tls_cert", "tls_key")
        raise ArgumentError(f"{missing}: needed with {given} (a client certificate and its "
                            f"private key)")
    options = list(CHANNEL_OPTIONS)
    if tls_ca is not None:
        key = cert = None
        if tls_cert is not None:
            cert = _arguments.read_pem(tls_cert, "tls_cert", "certificate")
            key = _arguments.read_pem(tls_key, "tls_key", "key")
            _arguments.check_key_pair(cert, key, _arguments.pem_source(tls_cert, "tls_cert"),
                                      _arguments.pem_source(tls_key, "tls_key"))
        ca = _arguments.read_pem(tls_ca, "tls_ca", "certificate")
        _arguments.check_certificates(ca, _arguments.pem_source(tls_ca, "tls_ca"))
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=key, certificate_chain=cert)
        if tls_server_name:
            options.append(("grpc.ssl_target_name_override", tls_server_name))
        return grpc.secure_channel(address, credentials, options=options)
    if tls_cert is not None:
        raise ArgumentError("tls_ca: needed with tls_cert (a client certificate is for TLS)")
    if tls_server_name:
        raise ArgumentError("tls_ca: needed with tls_server_name (it names the "
                            "coordinator's certificate, and plaintext has none)")
    if _arguments.is_loopback(address):
        return grpc.insecure_channel(address, options=options)
    raise ArgumentError(f"address: plaintext only to a loopback address; give tls_ca to "
                        f"reach {address}")

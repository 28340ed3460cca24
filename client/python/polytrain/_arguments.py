"""The client's checks of its arguments, made before anything is sent: a value of the wrong type
is a TypeError naming the argument, a value the coordinator would refuse (or that cannot work,
like a FIFO to upload) an ArgumentError (a PolyTrainError and a ValueError) naming it."""
import base64
import binascii
import errno
import numbers
import operator
import os
import pathlib
import re
import ssl
import stat
import tempfile

from polytrain.errors import (ArgumentError, MissingFileError, NotADirectoryArgumentError,
                              NotAFileError)

INT32_MAX = 2**31 - 1
PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def text(value, what):
    """`value`, a str: anything else (an int, bytes, None) is a TypeError naming the argument,
    not protobuf's complaint from deep inside."""
    if not isinstance(value, str):
        raise TypeError(f"{what}: expected a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ArgumentError(f"{what}: not valid Unicode text (it holds a lone surrogate)") from None
    return value


def texts(values, what):
    """A list of str: one str alone is a TypeError (it would be taken a character at a time)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{what}: expected a list of strings, got {type(values).__name__}")
    return [text(value, f"{what}[{i}]") for i, value in enumerate(values)]


def boolean(value, what):
    """True or False: "no" or 0 would pass as a truth value and mean the opposite."""
    if not isinstance(value, bool):
        raise TypeError(f"{what}: expected a bool, got {type(value).__name__}")
    return value


def whole(value, what, low=-INT32_MAX - 1, high=INT32_MAX):
    """An int (not a bool, a float or a string of digits) in [low, high] (an int32 unless the
    coordinator's range for the field is given): beyond it, a refusal naming the argument as the
    coordinator would name its field, not protobuf's ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):  # numpy's too
        raise TypeError(f"{what}: expected a whole number, got {type(value).__name__}")
    value = operator.index(value)
    if not low <= value <= high:
        raise ArgumentError(f"{what}: must be in [{low}, {high}], got {value}")
    return value


def path(value, what):
    """A file system path argument, as str: empty is refused (it would mean ".")."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{what}: expected a path, got {type(value).__name__}")
    value = text(os.fspath(value), what)
    if not value:
        raise ArgumentError(f"{what}: empty path")
    return value


def regular_file(value, what):
    """A path argument that must name a regular file (or a link to one), as a pathlib.Path: a
    FIFO would block the client and /dev/zero never end, as polyctl refuses them."""
    file = pathlib.Path(path(value, what))
    try:
        mode = file.stat().st_mode
    except FileNotFoundError:
        missing = MissingFileError(f"{what} {file}: no such file")
        missing.errno, missing.filename = errno.ENOENT, str(file)  # as OSError's own would say
        raise missing from None
    except OSError as error:
        raise ArgumentError(f"{what} {file}: {error.strerror}") from None
    if stat.S_ISDIR(mode):
        raise NotAFileError(f"{what} {file}: is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise NotAFileError(f"{what} {file}: not a regular file")
    return file


def directory(value, what):
    """A path argument that must name a directory, as a pathlib.Path."""
    folder = pathlib.Path(path(value, what))
    if not folder.exists():
        raise MissingFileError(f"{what} {folder}: no such directory")
    if not folder.is_dir():
        raise NotADirectoryArgumentError(f"{what} {folder}: not a directory")
    return folder


def labels(value, what):
    """{str: str}, or None for none."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{what}: expected a dict of str to str, got {type(value).__name__}")
    for key, item in value.items():
        text(key, f"{what} key")
        text(item, f"{what}[{key!r}]")
    return value


def states(value, parse):
    """A list of states from one state or several, each read by `parse(state, "states[i]")`
    (states.state_value or sweep_state_value); None for none."""
    if value is None:
        return []
    if isinstance(value, (str, numbers.Integral)):
        value = [value]
    elif isinstance(value, bytes) or not hasattr(value, "__iter__"):
        raise TypeError(f"states: expected a state or a list of states, got "
                        f"{type(value).__name__}")
    return [parse(state, f"states[{i}]") for i, state in enumerate(value)]


def limit(value):
    """A list call's `limit`: None (all) or a whole number from 1."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"limit: expected a whole number, got {type(value).__name__}")
    if value < 1:
        raise ArgumentError(f"limit: expected a whole number from 1, got {value!r}")


def _without_scheme(target):
    """A gRPC target without its resolver scheme ("dns:///", "ipv4:", ...)."""
    for scheme in ("dns:///", "dns:", "ipv4:", "ipv6:"):
        if target.startswith(scheme):
            return target[len(scheme):]
    return target


def address(value):
    """"host:port" with a port in [1, 65535] ("[::1]:50051" for IPv6), a gRPC target with a
    scheme ("dns:///host:port", "ipv4:127.0.0.1:1"), or a unix: socket ("unix:/run/x.sock")."""
    text(value, "address")
    if value.startswith("unix:") and len(value) > len("unix:"):
        return value
    if "," in value:  # a gRPC address list: one unchecked entry could be dialled in plaintext
        raise ArgumentError(f"address: one host:port, not a list; got {value!r}")
    host, _, port = value.rpartition(":")
    if not host or not re.fullmatch(r"[0-9]{1,5}", port):
        raise ArgumentError(f"address: expected host:port, got {value!r}")
    if not 1 <= int(port) <= 65535:
        raise ArgumentError(f"address: the port must be in [1, 65535], got {value!r}")
    bare = _without_scheme(host)
    if ":" in bare and not bare.startswith("["):
        raise ArgumentError(f"address: an IPv6 address goes in brackets, as [{bare}]:{port}; "
                            f"got {value!r}")
    if bare.startswith("[") and (not bare.endswith("]") or "]" in bare[:-1]):
        raise ArgumentError(f"address: expected [IPv6]:port, got {value!r}")
    return value


def is_loopback(target):
    """The rule polyctl follows (common/grpc_security.cc): unix: sockets, localhost, ::1 and
    127.x.y.z written out, never a name that DNS might resolve elsewhere."""
    if target.startswith("unix:"):
        return True
    host = _without_scheme(target)
    if host.startswith("["):
        host = host[1:host.find("]")]
    elif ":" in host:
        host = host.rsplit(":", 1)[0]
    if host in ("localhost", "::1"):
        return True
    parts = host.split(".")
    return (len(parts) == 4 and parts[0] == "127" and
            all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts))


def plain_name(name):
    """A name given for an upload, as the coordinator and polyctl take it: plain already."""
    if not PLAIN_NAME.fullmatch(text(name, "name")):
        raise ArgumentError(f"name: not a file name: {name!r} (1 to 128 characters from "
                            f"[A-Za-z0-9._-], not starting with '.')")
    return name


def artifact_name(file_name):
    """A name the coordinator takes for a file ([A-Za-z0-9._-], 1 to 128, no leading dot), made
    from any file name as polyctl makes it: each other byte of its UTF-8 becomes '_' (so
    "modèle.pt" is "mod__le.pt" from either, and the same file gets the same name)."""
    raw = text(file_name, "name").lstrip(".").encode("utf-8", "surrogateescape")
    name = re.sub(rb"[^A-Za-z0-9._-]", b"_", raw)[:128].decode("ascii")
    return name or "artifact"


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)


def read_pem(value, what, kind):
    """A PEM argument's bytes: `value` is a file's path, or the PEM itself as bytes. It must hold
    a block of `kind` ("certificate" or "key") whose body is base64, as polyctl checks its flags'
    files, so that a wrong file fails here naming the argument, not at every call after."""
    if isinstance(value, (bytes, bytearray)):
        data, where = bytes(value), what
    elif isinstance(value, (str, os.PathLike)):
        file = regular_file(value, what)
        data, where = file.read_bytes(), f"{what} {file}"
    else:
        raise TypeError(f"{what}: expected a PEM file's path or PEM bytes, got "
                        f"{type(value).__name__}")
    if not data.strip():
        raise ArgumentError(f"{where}: empty")
    for label, body in _PEM_BLOCK.findall(data):
        wanted = label == b"CERTIFICATE" if kind == "certificate" else label.endswith(
            b"PRIVATE KEY")
        if not wanted:
            continue
        try:
            base64.b64decode(re.sub(rb"\s+", b"", body), validate=True)
            return data
        except binascii.Error:
            raise ArgumentError(f"{where}: its {label.decode().lower()} is not valid "
                                f"base64") from None
    expected = ("-----BEGIN CERTIFICATE-----" if kind == "certificate" else
                "-----BEGIN PRIVATE KEY----- or another -----BEGIN ... PRIVATE KEY-----")
    raise ArgumentError(f"{where}: no PEM {kind} in it (expected {expected})")


def pem_source(value, what):
    """How an error names a PEM argument: "tls_key /path/key.pem", or "tls_key" for bytes."""
    return f"{what} {value}" if isinstance(value, (str, os.PathLike)) else what


def check_certificates(pem, source):
    """PEM bytes (read by read_pem) must hold certificates OpenSSL reads, as polyctl checks
    them: a block of base64 that is no certificate would otherwise fail every call later ("empty
    address list") naming no argument. `source` names them in errors (pem_source)."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(
            cadata=pem.decode("ascii", "replace"))
    except ssl.SSLError:
        raise ArgumentError(f"{source}: no certificate that OpenSSL reads in it") from None


def check_key_pair(cert, key, cert_source="tls_cert", key_source="tls_key"):
    """A client certificate and its key (PEM bytes, each read by read_pem) must be ones OpenSSL
    reads, and belong together, as polyctl checks them: otherwise every call fails later with a
    handshake error naming neither. An encrypted key is refused (gRPC cannot use one) rather
    than prompted for. `cert_source` and `key_source` name them in errors (pem_source)."""
    check_certificates(cert, cert_source)
    try:
        scratch = tempfile.TemporaryDirectory(prefix="polytrain-tls-")
    except OSError:
        return  # no place for the files ssl reads: gRPC will say it at the first call
    with scratch:
        cert_file, key_file = os.path.join(scratch.name, "cert.pem"), os.path.join(
            scratch.name, "key.pem")
        for name, data in ((cert_file, cert), (key_file, key)):
            with open(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                out.write(data)
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(
                cert_file, key_file, password=lambda: b"")
        except ssl.SSLError as error:
            if error.reason == "KEY_VALUES_MISMATCH":
                raise ArgumentError(f"{key_source}: not the key of the certificate in "
                                    f"{cert_source}") from None
            raise ArgumentError(f"{key_source}: no unencrypted private key that OpenSSL reads in "
                                f"it (gRPC cannot use an encrypted key)") from None

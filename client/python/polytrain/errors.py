"""The client's one error type. The coordinator's refusals arrive as PolyTrainError with its gRPC
status code's name; the client's own checks of an argument's value raise the same type, so that
`except PolyTrainError` catches every refusal. An INVALID_ARGUMENT about a value (the client's or
the coordinator's) is also a ValueError, and the client's checks of paths derive from the built-in
exception a Python caller would expect (FileNotFoundError, IsADirectoryError, ...). A value of the
wrong Python type is a TypeError naming the argument: a mistake in the calling code, not a
refusal."""


def _printable(text):
    """`text` with any lone surrogate (from a caller's string echoed back) escaped, so that
    printing the error cannot itself fail with UnicodeEncodeError."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class PolyTrainError(Exception):
    """A call the coordinator refused or could not answer, or an argument the client refused
    before sending it: `code` is the gRPC status code's name ("INVALID_ARGUMENT", "NOT_FOUND",
    ...), `message` says why and names the field or argument."""

    def __init__(self, code, message):
        message = _printable(message)
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self):  # pickled (multiprocessing) and copied with both arguments
        return type(self), (self.code, self.message)


class _ClientRefusal(PolyTrainError):
    """A refusal by the client's own check: raised with the message alone, its code the class's;
    with both arguments when unpickled."""

    CODE = "INVALID_ARGUMENT"

    def __init__(self, code, message=None):
        if message is None:
            code, message = self.CODE, code
        super().__init__(code, message)


class ArgumentError(_ClientRefusal, ValueError):
    """INVALID_ARGUMENT: an argument's value refused, by the client's own check before sending
    or by the coordinator (a spec field it refused)."""


class MissingFileError(_ClientRefusal, FileNotFoundError):
    """NOT_FOUND: a path argument names nothing. `errno` is ENOENT and `filename` the path, as
    on the OSError it stands for."""

    CODE = "NOT_FOUND"

    def __str__(self):  # OSError's own would print "[Errno 2] ..." once errno is set
        return f"{self.code}: {self.message}"


class NotAFileError(_ClientRefusal, IsADirectoryError):
    """INVALID_ARGUMENT: a path argument that must be a regular file is a directory, a FIFO or a
    device."""


class NotADirectoryArgumentError(_ClientRefusal, NotADirectoryError):
    """INVALID_ARGUMENT: a path argument that must be a directory is not one."""

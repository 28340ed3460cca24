"""Requests from what a caller writes (a message, its text format, a dict), and replies as rows
(flat dicts a pandas DataFrame takes)."""
from google.protobuf import json_format, text_format

from polytrain.errors import ArgumentError


def messages(values, cls, what):
    """A list of `cls` messages (each as message() takes it): one alone, or a str, is a
    TypeError."""
    if isinstance(values, (str, bytes, dict, cls)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{what}: expected a list, got {type(values).__name__}")
    return [message(value, cls, f"{what}[{i}]") for i, value in enumerate(values)]


def message(value, cls, what):
    """`value` as a `cls` message: a message of that type, protobuf text format or a dict (the
    JSON form: field names as in the .proto or lowerCamelCase). A value that does not parse is
    refused naming `what`: protobuf's parse errors, and the ValueError or OverflowError a dict's
    value can raise (an int too large for a double, a string where a number goes)."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, (str, dict)):
        raise TypeError(f"{what}: expected text, a dict or {cls.__name__}, got "
                        f"{type(value).__name__}")
    parsed = cls()
    try:
        if isinstance(value, str):
            text_format.Parse(value, parsed)
        else:
            json_format.ParseDict(value, parsed)
    except (text_format.ParseError, json_format.ParseError, ValueError, OverflowError,
            TypeError, RecursionError) as error:
        raise ArgumentError(f"{what}: {error}") from None
    return parsed


def _enum_name(field, value):
    """An enum value's name, or the number itself when this client does not know it (a newer
    coordinator's value), as state_name() gives "unknown(N)"."""
    known = field.enum_type.values_by_number.get(value)
    return known.name if known is not None else value


def row(reply):
    """A message as a flat dict of Python values: enums by name, maps spread into columns,
    nested messages as dicts, 64-bit integers as ints (JSON would make them strings)."""
    flat = {}
    for field in reply.DESCRIPTOR.fields:
        value = getattr(reply, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            flat.update(value)
        elif field.label == field.LABEL_REPEATED:
            flat[field.name] = list(value)
        elif field.message_type is not None:
            flat[field.name] = json_format.MessageToDict(value, preserving_proto_field_name=True)
        elif field.enum_type is not None:
            flat[field.name] = _enum_name(field, value)
        else:
            flat[field.name] = value
    return flat


def rows(replies):
    """Repeated messages as rows a pandas DataFrame takes."""
    return [row(reply) for reply in replies]

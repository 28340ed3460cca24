"""What a value of a field must be, in the words polyctl uses (common/json_complaint.cc), for the
spec readers' errors: "must be a whole number from 0 to 4294967295, got "x""."""
import json

from google.protobuf.descriptor import FieldDescriptor

_INT32, _UINT32 = "from -2147483648 to 2147483647", "from 0 to 4294967295"
_INT64, _UINT64 = "from -2^63 to 2^63-1", "from 0 to 2^64-1"
_WHOLE_NUMBERS = {
    FieldDescriptor.TYPE_INT32: _INT32, FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32, FieldDescriptor.TYPE_UINT32: _UINT32,
    FieldDescriptor.TYPE_FIXED32: _UINT32, FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64, FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT64: _UINT64, FieldDescriptor.TYPE_FIXED64: _UINT64}


def expected(field):
    """"must be ..." for a value of the scalar or enum `field`; None for a message field."""
    if field.message_type is not None:
        return None
    if field.enum_type is not None:
        return "must be one of " + ", ".join(v.name for v in field.enum_type.values)
    if field.type == field.TYPE_BOOL:
        return "must be true or false"
    if field.type in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
        return "must be a number"
    if field.type in (field.TYPE_STRING, field.TYPE_BYTES):
        return "must be a string"
    return f"must be a whole number {_WHOLE_NUMBERS[field.type]}"


def as_json(given, otherwise=None):
    """`given` as JSON writes it (polyctl quotes a value so) when it is a scalar, "a list" or "an
    object" (polyctl's words) when it is one; else `otherwise`."""
    if isinstance(given, (str, int, float)):  # bool too
        return json.dumps(given, ensure_ascii=False)
    if isinstance(given, (list, tuple)):
        return "a list"
    if isinstance(given, dict):
        return "an object"
    return otherwise

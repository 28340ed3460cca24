"""Requests from what a caller writes (a message, its text format, a dict), and replies as rows
(flat dicts a pandas DataFrame takes)."""
import json
import math
import numbers
import os
import re
import sys

from google.protobuf import json_format, message_factory, text_format

from polytrain import _arguments, _field_values, _yaml_spec
from polytrain.errors import ArgumentError

# A text that is one spec file's name (what polyctl takes), not a spec's text.
_SPEC_FILE_NAME = re.compile(r"[^\s{}:<>]*\.(txtpb|textproto|pbtxt|txt|json|ya?ml)")


def messages(values, cls, what):
    """A list of `cls` messages (each as message() takes it): one alone, or a str, is a
    TypeError."""
    if isinstance(values, (str, bytes, dict, cls)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{what}: expected a list, got {type(values).__name__}")
    return [message(value, cls, f"{what}[{i}]") for i, value in enumerate(values)]


def message(value, cls, what):
    """`value` as a `cls` message: a message of that type, protobuf text format, a dict (the
    JSON form: field names as in the .proto or lowerCamelCase) or a spec file's os.PathLike. A
    value that does not parse is refused naming `what`: protobuf's parse errors, and the
    ValueError or OverflowError a dict's value can raise (an int too large for a double, a string
    where a number goes)."""
    if isinstance(value, cls):
        return value
    if isinstance(value, os.PathLike):
        return _message_from_file(value, cls, what)
    if not isinstance(value, (str, dict)):
        raise TypeError(f"{what}: expected text, a dict or {cls.__name__}, got "
                        f"{type(value).__name__}")
    if isinstance(value, dict):
        try:
            value = _tuples_as_lists(value)  # protobuf's ParseDict takes only lists
        except RecursionError:  # a dict that holds itself: refused below, naming the field
            pass
        _check_dict(value, cls.DESCRIPTOR, what)
    parsed = cls()
    try:
        if isinstance(value, str):
            text_format.Parse(value, parsed)
        else:
            json_format.ParseDict(value, parsed)
    except (text_format.ParseError, json_format.ParseError, ValueError, OverflowError,
            TypeError, RecursionError) as error:
        if isinstance(value, str) and _SPEC_FILE_NAME.fullmatch(value.strip()):
            raise ArgumentError(f"{what}: {value.strip()!r} is a file's name, not a spec: pass "
                                f"pathlib.Path({value.strip()!r}), its text or a dict") from None
        raise ArgumentError(_named_parse_error(what, error, cls.DESCRIPTOR, value)) from None
    return parsed


def _tuples_as_lists(value):
    """`value` with every tuple in it (hidden=(8, 4)) a list, as Python code often gives them."""
    if isinstance(value, dict):
        return {key: _tuples_as_lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tuples_as_lists(item) for item in value]
    return value


# protobuf's json_format says where a value failed as "Failed to parse optimizer field: Failed to
# parse learning_rate field: why at JobSpec.optimizer.learning_rate.".
_PARSE_FIELD = re.compile(r"Failed to parse (\w+) field: ")
_PARSE_AT = re.compile(r'^(?P<why>.*?) at "?[A-Za-z0-9_]+(?P<path>(?:\.[\w\[\]]+)*)"?\.*'
                       r'(?P<rest>\n.*)?$', re.S)


def _named_parse_error(what, error, descriptor, value):
    """A parse error as the coordinator names a field: "spec.optimizer.learning_rate: why", in
    polyctl's words where protobuf's are about its internals (common/proto_file.cc)."""
    text = str(error)
    if isinstance(error, json_format.ParseError):
        no_field = _NO_FIELD.search(text)
        if no_field:  # not protobuf's list of every field there is
            # Where protobuf says ('at "JobSpec.model.mlp"'), else the fields it failed to parse
            # with the gaps filled in (it leaves out a oneof's member).
            at = re.search(r' at "[A-Za-z0-9_]+(?P<path>(?:\.[\w\[\]]+)*)"', text)
            path = at.group("path") if at else "." + ".".join(_PARSE_FIELD.findall(text))
            if not at:
                path, _, _ = _field_at(descriptor, path, value)
            return f"{what}{path.rstrip('.')}.{no_field.group('name')}: no such field"
    fields = _PARSE_FIELD.findall(text)
    if not isinstance(error, json_format.ParseError) or not fields:
        return f"{what}: {text}"
    text = _PARSE_FIELD.sub("", text)
    at = _PARSE_AT.match(text)
    if at and at.group("path"):
        path, why = at.group("path"), f"{at.group('why')}{at.group('rest') or ''}"
    else:
        path, why = "." + ".".join(fields), text
    not_a_list = _NOT_A_LIST.match(why)
    if not_a_list:  # protobuf names the message holding the list
        path = f"{path.rstrip('.')}.{not_a_list.group('name')}"
    path, field, given = _field_at(descriptor, path, value)
    if field is not None and isinstance(given, (list, dict)):  # protobuf left out which element
        bad = _first_unparsed_element(field, given)
        if bad is not None:
            path, given = f"{path}[{json.dumps(bad, ensure_ascii=False)}]", given[bad]
    return f"{what}{path}: {_readable_value_error(field, why, given)}"


def _first_unparsed_element(field, items):
    """The index (a list's) or key (a map's) of the first of `items` that protobuf does not take
    as an element of the repeated `field` of scalars; None when each does, or it is no such
    field."""
    is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
    if field.label != field.LABEL_REPEATED or (field.message_type is not None and not is_map) \
            or isinstance(items, dict) != is_map:
        return None
    if hasattr(message_factory, "GetMessageClass"):
        holder = message_factory.GetMessageClass(field.containing_type)
    else:  # protobuf before 4.22 (Debian 12's 4.21)
        holder = message_factory.MessageFactory().GetPrototype(field.containing_type)
    for i in items if is_map else range(len(items)):
        try:
            json_format.ParseDict({field.name: {i: items[i]} if is_map else [items[i]]}, holder())
        except (json_format.ParseError, ValueError, OverflowError, TypeError):
            return i
    return None


def _field_at(descriptor, path, value):
    """The path (".a.b[0]") with what protobuf leaves out filled in: it says "model.hidden" for
    model.mlp.hidden (the one of the message's fields holding a "hidden" that `value`, the dict
    parsed, has); the field of a `descriptor` message it names, or None; and its value in
    `value` (None when not found)."""
    field, named = None, []
    for name in path.strip(".").split(".") if path else []:
        indexed = re.fullmatch(r"(?P<bare>\w+)(?:\[(?P<index>\d+)\])?", name)
        if indexed is None:
            return path, None, None
        bare, index = indexed.group("bare"), indexed.group("index")
        field = _field_named(descriptor, bare) if descriptor else None
        if field is None and descriptor is not None:
            holders = [f for f in descriptor.fields if f.message_type is not None
                       and _field_named(f.message_type, bare) is not None
                       and _member(value, f) is not None]
            if len(holders) != 1:
                return path, None, None
            named.append(holders[0].name)
            value = _member(value, holders[0])
            field = _field_named(holders[0].message_type, bare)
        if field is None:
            return path, None, None
        named.append(field.name + (f"[{index}]" if index is not None else ""))
        value = _member(value, field)
        if index is not None:
            value = value[int(index)] if isinstance(value, list) and \
                int(index) < len(value) else None
        descriptor = field.message_type
    return "." + ".".join(named) if named else path, field, value


def _field_named(descriptor, name):
    """`descriptor`'s field called `name` in the .proto or in JSON (lowerCamelCase); None."""
    field = descriptor.fields_by_name.get(name)
    if field is None:
        field = next((f for f in descriptor.fields if f.json_name == name), None)
    return field


def _member(value, field):
    """`field`'s member of a dict, under its name or its JSON name; None when there is none."""
    if not isinstance(value, dict):
        return None
    return value.get(field.name, value.get(field.json_name))


_NO_FIELD = re.compile(r'Message type "[\w.]+" has no field named "(?P<name>[^"]+)"')
# protobuf's complaints about one value, with the value they quote (if any).
_VALUE_ERROR = re.compile(r"^(?:invalid literal for int\(\) with base 10: (?P<literal>.*?)\.*"
                          r"|Couldn't parse (?:integer|float): (?P<parsed>.*)"
                          r"|Value out of range: (?P<range>.*?)\.?"
                          r"|Invalid enum value (?P<enum>.*) for enum type [\w.]+"
                          r"|Expected true or false without quotes"
                          r"|expected string or bytes-like object, got '\w+'\.*)$")
_ONEOF = re.compile(r'^Message type "[\w.]+" should not have multiple "(?P<oneof>\w+)" oneof '
                    r'fields')
_NOT_A_LIST = re.compile(r"^repeated field (?P<name>\w+) must be in \[\] which is (?P<given>.*)$",
                         re.S)
_NOT_A_MAP = re.compile(r"^Map field \w+ must be in a dict which is (?P<given>.*)$", re.S)


def _readable_value_error(field, why, given=None):
    """`why` about a value of `field` (`given`, if known) as polyctl says it: "must be a whole
    number from 0 to 4294967295, got "x""; as it was when it is about something else."""
    oneof = _ONEOF.match(why)
    if oneof:
        return f"more than one field of '{oneof.group('oneof')}' is set; give one"
    for pattern, expected in ((_NOT_A_LIST, "must be a list"),
                              (_NOT_A_MAP, "must be an object of names to values")):
        said = pattern.match(why)
        if said:
            return f"{expected}, got {_field_values.as_json(given, said.group('given'))}"
    said = _VALUE_ERROR.match(why)
    if field is not None and field.message_type is not None and \
            field.message_type.GetOptions().map_entry:
        field = field.message_type.fields_by_name["value"]  # a map's value is what failed
    if not said or field is None or field.message_type is not None:
        return why
    value = _field_values.as_json(given, next((v for v in said.groups() if v is not None), None))
    return _field_values.expected(field) + ("" if value is None else f", got {value}")


def _message_from_file(value, cls, what):
    """A `cls` message from a spec file, by its extension as polyctl reads one: .txtpb,
    .textproto, .pbtxt or .txt (text format), .json, .yaml or .yml. Errors name `what` and the
    file."""
    file = _arguments.regular_file(value, what)
    suffix = file.suffix  # as polyctl: ".JSON" is no known extension
    if suffix not in (".txtpb", ".textproto", ".pbtxt", ".txt", ".json", ".yaml", ".yml"):
        raise ArgumentError(f"{file}: unknown file extension; use .txtpb (protobuf text "
                            f"format), .json or .yaml")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ArgumentError(f"{file}: cannot read: {error}") from None
    if suffix == ".json":
        try:
            parsed = json.loads(text, object_pairs_hook=_object_without_repeated_keys)
        except json.JSONDecodeError as error:  # "FILE:LINE:COLUMN: why", as polyctl says it
            raise ArgumentError(f"{file}:{error.lineno}:{error.colno}: {error.msg}") from None
        except ValueError as error:  # a key given twice
            raise ArgumentError(f"{file}: {error}") from None
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml  # pylint: disable=import-outside-toplevel: only YAML files need it
        except ImportError:
            raise ArgumentError(f"{file}: reading YAML needs PyYAML (pip install pyyaml, or "
                                f"Debian's python3-yaml)") from None
        try:
            parsed = _yaml_spec.load(yaml, text, cls.DESCRIPTOR, what)
        except yaml.YAMLError as error:
            raise ArgumentError(_yaml_syntax_error(file, error)) from None
        except ArgumentError as error:  # "FILE: spec.path: why", as below
            raise ArgumentError(f"{file}: {error.message}") from None
    else:
        try:
            return text_format.Parse(text, cls())
        except text_format.ParseError as error:  # "FILE:LINE:COLUMN: why", as polyctl says it
            why = re.sub(r"^\d+:\d+ : ", "", str(error))
            raise ArgumentError(f"{file}:{error.GetLine()}:{error.GetColumn()}: {why}") from None
    if not isinstance(parsed, dict):  # JSON or YAML that is no object
        raise ArgumentError(f"{file}: expected an object at the top, got "
                            f"{type(parsed).__name__}")
    try:
        return message(parsed, cls, what)
    except ArgumentError as error:  # "FILE: spec.loss.poly1.epsilon: why", as polyctl names it
        raise ArgumentError(f"{file}: {error.message}") from None


def _yaml_syntax_error(file, error):
    """PyYAML's error as polyctl says one: "FILE:LINE:COLUMN: problem" (PyYAML counts from 0)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if mark is None or not problem:
        return f"{file}: {' '.join(str(error).split())}"
    return f"{file}:{mark.line + 1}:{mark.column + 1}: {problem}"


def _object_without_repeated_keys(pairs):
    """A JSON object as a dict; a key given twice is refused, as polyctl refuses it (json keeps
    the last silently)."""
    parsed = {}
    for key, item in pairs:
        if key in parsed:
            raise ValueError(f"the key {key!r} is given twice")
        parsed[key] = item
    return parsed


# As protobuf's own parsers: a message nests at most this deep (a dict that holds itself would
# otherwise recurse until Python's stack gives out).
_MAX_DEPTH = 100


def _not_finite(value):
    """A float, numpy's too, or a string protobuf reads as one ("NaN", "-Infinity"), that is NaN
    or infinite."""
    if isinstance(value, str):
        try:
            return not math.isfinite(float(value))
        except ValueError:
            return False  # not a number at all: protobuf names it
    if isinstance(value, numbers.Integral):
        return False  # whole numbers are finite (too large for a double is another error)
    return isinstance(value, numbers.Real) and not math.isfinite(value)


def _is_bool(value):
    """True or False, numpy's too (np.bool_ is no bool, nor a number)."""
    return isinstance(value, bool) or type(value).__name__ == "bool_"


def _check_dict(value, descriptor, where, depth=0):
    """What ParseDict lets pass and polyctl refuses, named by its field as the coordinator names
    it (spec.loss.poly_n.epsilons[3]): a NaN or infinity (no field of a request takes one, and
    protobuf's own error would suggest the quoted "NaN" that the coordinator then refuses), a
    field given twice under its two names (batch_size and batchSize: ParseDict keeps one
    silently), a bool where a number or an enum goes (it would be 1), a list for a field that is
    not repeated, a value that is not a map for a message."""
    if depth > _MAX_DEPTH:
        raise ArgumentError(f"{where[:60]}...: nested more than {_MAX_DEPTH} deep")
    if not isinstance(value, dict) or descriptor is None:
        # A map's values, or what is not a message: only NaN and infinity are looked for.
        items = value.items() if isinstance(value, dict) else (
            enumerate(value) if isinstance(value, (list, tuple)) else ())
        if _not_finite(value) and not isinstance(value, str):
            raise ArgumentError(f"{where}: must be a finite number, got {value}")
        for key, item in items:
            inner = f"{where}[{key}]" if isinstance(value, (list, tuple)) else f'{where}["{key}"]'
            _check_dict(item, None, inner, depth + 1)
        return
    seen = {}
    for key, item in value.items():
        field = None
        if isinstance(key, str):
            field = (descriptor.fields_by_name.get(key)
                     or descriptor.fields_by_camelcase_name.get(key))
        if field is None:  # protobuf names an unknown key
            _check_dict(item, None, f"{where}.{key}", depth + 1)
            continue
        if field.name in seen:
            raise ArgumentError(f"{where}.{field.name}: given twice, as {seen[field.name]} and "
                                f"{key}")
        seen[field.name] = key
        named = f"{where}.{field.name}"
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        repeated = field.label == field.LABEL_REPEATED and not is_map
        if isinstance(item, (list, tuple)) and not repeated:
            raise ArgumentError(f"{named}: " + ("must be an object of names to values, got a list"
                                                if is_map else "expected one value, got a list"))
        items = list(enumerate(item)) if repeated and isinstance(item, (list, tuple)) else [
            (None, item)]
        for i, x in items:
            at = named if i is None else f"{named}[{i}]"
            if field.type in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
                if _not_finite(x):
                    raise ArgumentError(f"{at}: must be a finite number, got {x}")
                whole = isinstance(x, numbers.Integral) and not _is_bool(x)
                if whole and abs(x) > sys.float_info.max:
                    raise ArgumentError(f"{at}: out of a double's range")
            if field.cpp_type != field.CPPTYPE_BOOL and _is_bool(x):
                raise ArgumentError(f"{at}: expected {'a name' if field.enum_type else 'a number'}"
                                    f", got a bool")
            # A message's value is a map of its fields (ParseDict would take "mlp" for the
            # letters m, l, p); protobuf's own well-known types aside.
            message = None if is_map else field.message_type
            if message is not None and message.full_name.startswith("polytrain."):
                if not isinstance(x, dict) and x is not None:  # JSON's null: unset
                    raise ArgumentError(f"{at}: expected a map of its fields, got "
                                        f"{type(x).__name__}")
            _check_dict(x, message, at, depth + 1)


def check_size(request, limit):
    """A request over the coordinator's per-message limit is refused naming its largest field,
    before gRPC refuses it with "Received message larger than max" naming none."""
    size = request.ByteSize()
    if size <= limit:
        return
    largest, largest_size = None, -1
    for field, _ in request.ListFields():
        # The field's own size, as protobuf encodes it (maps and repeated fields included): the
        # request with every other field cleared.
        only = type(request)()
        only.CopyFrom(request)
        for other, _ in request.ListFields():
            if other.name != field.name:
                only.ClearField(other.name)
        field_size = only.ByteSize()
        if field_size > largest_size:
            largest, largest_size = field.name, field_size
    raise ArgumentError(f"{largest}: the request would be {size} bytes, over the coordinator's "
                        f"limit of {limit} bytes ({limit >> 20} MiB) per message")


def _enum_name(field, value):
    """An enum value's name, or the number itself when this client does not know it (a newer
    coordinator's value), as state_name() gives "unknown(N)"."""
    known = field.enum_type.values_by_number.get(value)
    return known.name if known is not None else value


def row(reply):
    """A message as a flat dict of Python values: enums by name, maps spread into columns (in
    key order), nested messages as dicts, 64-bit integers as ints (JSON would make them strings)."""
    flat = {}
    for field in reply.DESCRIPTOR.fields:
        value = getattr(reply, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            flat.update(sorted(value.items()))  # the same columns in the same order every call
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

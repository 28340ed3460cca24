"""YAML spec files read as polyctl reads them (common/yaml_to_json.cc and json_shape.cc), so that
one file is one spec whichever client submits it. yaml-cpp's rules: a plain scalar is true or
false, a decimal number (`010` is 10, `1e3` is 1000, a uint64 exact; `0x1F`, `1_000`, `1:30`
and `nan` stay text; one past a double's range is refused), null (empty, `~`, `null`) or else a
string; a quoted or block scalar, or one tagged `!`, is a string; any other tag (`!!int`,
`!!str`, `!!binary`, `!foo`) is ignored, its scalar read by the plain rules but never null; a
null key is "null"; merge keys (`<<`) are plain keys. Refused: a key given twice (also a field
under both its names, max_steps and maxSteps), a key that is a list or a map, a null in a list,
a second document that is not empty, a string for a boolean, a boolean for a number, and a
string for a number field that is no number as protobuf's C++ parser reads one; aliases count as
expanded, at most MAX_VALUES values nested at most MAX_DEPTH deep. A null for a message field is
that message, empty (`cross_entropy:`); for another field it leaves the field unset, and for a
map's value it is the value's default (`labels: {a: }` is a="")."""
import math
import re

from google.protobuf.descriptor import FieldDescriptor

from polytrain import _field_values
from polytrain.errors import ArgumentError

# As polyctl's kMaxYamlValues and kMaxYamlDepth.
MAX_VALUES = 250_000
MAX_DEPTH = 64

# A decimal number as absl::SimpleAtod takes one (with a digit: "inf" and "nan" stay strings).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
# What protobuf's C++ JSON parser takes as a string for a float or double field besides numbers.
_FLOAT_WORDS = ("NaN", "Infinity", "-Infinity")
_NULLS = ("", "~", "null", "Null", "NULL")
_INTEGER_TYPES = (FieldDescriptor.CPPTYPE_INT32, FieldDescriptor.CPPTYPE_INT64,
                  FieldDescriptor.CPPTYPE_UINT32, FieldDescriptor.CPPTYPE_UINT64)
_FLOAT_TYPES = (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE)


def plain_scalar(text, nulls=True):
    """A plain (unquoted, untagged) scalar's value, as polyctl reads it; with `nulls` false (a
    tagged one) "~" and "null" are text."""
    if text == "true":
        return True
    if text == "false":
        return False
    if nulls and text in _NULLS:
        return None
    stripped = text.strip()
    if _NUMBER.fullmatch(stripped):
        # No 64-bit integer has over 20 digits: a longer one is a double (and int() of thousands
        # of digits is refused by Python itself).
        if (_INTEGER.fullmatch(stripped) and len(stripped) <= 21 and
                -2**63 <= int(stripped) < 2**64):
            return int(stripped)
        return float(stripped)
    return text


def load(yaml, text, descriptor, what):
    """The dict a `descriptor` message's YAML `text` stands for; yaml.YAMLError for what YAML
    refuses, ArgumentError for what a spec may not hold (naming a field "what.path")."""
    documents = list(yaml.load_all(text, Loader=_loader(yaml)))
    if any(document is not None for document in documents[1:]):
        raise ArgumentError("a second YAML document (after ---): a spec file holds one, and the "
                            "rest would be ignored")
    tree = documents[0] if documents else None
    if not isinstance(tree, dict):
        return tree  # the caller says that a spec is an object
    return _spec_value(tree, descriptor, [0], 0, what)


def _loader(yaml):
    class Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        def compose_scalar_node(self, anchor):
            written = self.peek_event().tag  # None, "!" or a tag: what yaml-cpp decides by
            node = super().compose_scalar_node(anchor)
            node.written_tag = written
            return node

    # No implicit types: every scalar is read by scalar() below, as yaml-cpp's text.
    Loader.yaml_implicit_resolvers = {}

    def scalar_value(node, value):
        written = getattr(node, "written_tag", None)
        if written == "!" or (written is None and node.style is not None):
            return value  # yaml-cpp's non-specific tag: a string
        parsed = plain_scalar(value, nulls=written is None)
        if isinstance(parsed, float) and not math.isfinite(parsed):
            raise yaml.constructor.ConstructorError(
                None, None, "a number out of a double's range", node.start_mark)
        return parsed

    def scalar(loader, node):
        return scalar_value(node, loader.construct_scalar(node))

    def mapping(loader, node):
        parsed = {}  # "<<" is a key like any other, as yaml-cpp reads it (no merge keys)
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key that is a list or a map (keys are field names)",
                    key_node.start_mark)
            key = loader.construct_scalar(key_node)
            if getattr(key_node, "written_tag", None) is None and key_node.style is None and (
                    key in _NULLS):
                key = "null"  # yaml-cpp's text of a null key
            if key in parsed:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark)
            parsed[key] = loader.construct_object(value_node, deep=True)
        return parsed

    def any_tag(loader, _suffix, node):
        """A tag yaml-cpp ignores: the node read as if untagged (a scalar never null)."""
        if isinstance(node, yaml.MappingNode):
            return mapping(loader, node)
        if isinstance(node, yaml.SequenceNode):
            return [loader.construct_object(item, deep=True) for item in node.value]
        return scalar(loader, node)

    Loader.yaml_constructors = dict(yaml.SafeLoader.yaml_constructors)
    Loader.yaml_multi_constructors = {}
    for tag in ("str", "int", "float", "bool", "null", "binary", "timestamp"):
        Loader.add_constructor(f"tag:yaml.org,2002:{tag}", scalar)
    def collection(loader, node):
        return any_tag(loader, "", node)

    for tag in ("map", "set", "omap", "pairs"):
        Loader.add_constructor(f"tag:yaml.org,2002:{tag}", collection)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    Loader.add_multi_constructor("", any_tag)  # every other tag, !foo and !!python/... alike
    return Loader


def _field(descriptor, key):
    if descriptor is None or descriptor.full_name.startswith("google.protobuf."):
        return None  # a well-known type's own JSON form is not looked into, as polyctl's
    field = descriptor.fields_by_name.get(key)
    if field is None:
        field = next((f for f in descriptor.fields if f.json_name == key), None)
    return field


def _is_map(field):
    return (field.type == FieldDescriptor.TYPE_MESSAGE and
            field.message_type.GetOptions().map_entry)


def _spec_value(value, descriptor, count, depth, path=""):
    """`value` (of a `descriptor` message when it is a dict and the descriptor is known) with its
    nulls as polyctl reads them; `count` ([n]) counts values as aliases expand them; `path` names
    it in errors ("model.mlp.hidden[1]")."""
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise ArgumentError(f"more than {MAX_VALUES} values once its aliases are expanded")
    if depth > MAX_DEPTH:
        raise ArgumentError(f"nested deeper than {MAX_DEPTH} levels (counted from the top, "
                            f"aliases expanded)")
    if isinstance(value, list):
        parsed = []
        for i, item in enumerate(value):
            if item is None:  # protobuf would drop it: the list would be a value short
                raise ArgumentError(f"{path}[{i}]: null in a list (give every element a value)")
            parsed.append(_spec_value(item, descriptor, count, depth + 1, f"{path}[{i}]"))
        return parsed
    if not isinstance(value, dict):
        return value
    parsed, given = {}, set()
    for key, item in value.items():
        field = _field(descriptor, key)
        where = f"{path}.{key}" if path else key
        if field is not None:
            if field.number in given:  # under both its names: one would silently win
                named = f"{path}.{field.name}" if path else field.name
                raise ArgumentError(f"{named}: given twice, as {field.name} and "
                                    f"{field.json_name}")
            given.add(field.number)
        inner = None
        if field is not None and field.type == FieldDescriptor.TYPE_MESSAGE:
            inner = field.message_type
            if _is_map(field):  # a map's values are of its entry's value field
                inner = inner.fields_by_name["value"]
            elif item is None and field.label != FieldDescriptor.LABEL_REPEATED:
                item = {}  # `cross_entropy:` is the message, empty
        if item is None and field is not None:
            count[0] += 1
            continue  # a null scalar or list: the field is not set
        if field is not None and not _is_map(field):
            _check_scalar_kinds(field, item, where)
        if field is not None and _is_map(field) and isinstance(item, dict):
            parsed[key] = {k: _map_value(v, inner, count, depth + 2, f'{where}["{k}"]')
                           for k, v in item.items()}
            continue
        parsed[key] = _spec_value(item, inner, count, depth + 1, where)
    return parsed


def _map_value(value, field, count, depth, path):
    """A map's value (`field` its entry's value field): null is the value's default, as
    protobuf's C++ parser reads it (`labels: {a: }` is a="")."""
    if value is None:
        count[0] += 1
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            return {}
        return "" if field.cpp_type == FieldDescriptor.CPPTYPE_STRING else field.default_value
    _check_scalar_kinds(field, value, path)
    inner = field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE else None
    return _spec_value(value, inner, count, depth, path)


def _check_scalar_kinds(field, item, where):
    """What protobuf's Python parser takes and polyctl's C++ one does not: a scalar for a message,
    a string for a boolean ("yes"), a boolean for a number (True as 1.0), and a string for a
    number that is no number as C++ reads one (Python's int() takes "1_000" and " 10")."""
    items = item if isinstance(item, list) else [item]
    if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
        for i, value in enumerate(items):
            if isinstance(value, (str, int, float)):  # `cross_entropy: !!null` is "", no message
                named = f"{where}[{i}]" if isinstance(item, list) else where
                raise ArgumentError(f"{named}: expected a map of its fields, got {value!r}")
        return
    numbers = _INTEGER_TYPES + _FLOAT_TYPES
    if field.cpp_type not in numbers and field.cpp_type != FieldDescriptor.CPPTYPE_BOOL:
        return
    for i, value in enumerate(items):
        named = f"{where}[{i}]" if isinstance(item, list) else where
        if field.cpp_type == FieldDescriptor.CPPTYPE_BOOL:
            if isinstance(value, str):
                raise ArgumentError(f"{named}: must be true or false, got a string")
            continue
        if isinstance(value, bool):
            raise ArgumentError(f"{named}: must be a number, got a boolean")
        if not isinstance(value, str):
            continue
        given = _field_values.as_json(value)  # quoted, as polyctl quotes it
        if field.cpp_type in _INTEGER_TYPES and not _INTEGER.fullmatch(value):
            raise ArgumentError(f"{named}: {_field_values.expected(field)}, got {given}")
        if (field.cpp_type in _FLOAT_TYPES and not _NUMBER.fullmatch(value) and
                value not in _FLOAT_WORDS):
            if value.lower().lstrip("+-") in (".nan", ".inf", "nan", "inf"):  # NaN, infinity
                raise ArgumentError(f"{named}: must be a finite number, got {given}")
            raise ArgumentError(f"{named}: must be a number, got {given}")

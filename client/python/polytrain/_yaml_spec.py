"""YAML spec files read as polyctl reads them (common/yaml_to_json.cc and json_shape.cc), so that
one file is one spec whichever client submits it: a plain scalar is true or false, a number as
absl reads one (ASCII decimal: `010` is 10, `1e3` is 1000; no `0x1F`, `1_000` or `1:30`; one past
a double's range is refused), null (empty, `~`, `null`) or else a string; a quoted or block
scalar is a string; YAML's own scalar tags (!!int, !!float, !!bool, !!null) change nothing, as
yaml-cpp ignores them, and !!binary, !!timestamp, !!set, !!omap and !!pairs are refused; a key
given twice, a key that is a list or a map and a null in a list are refused; aliases count as
expanded, at most MAX_VALUES values nested at most MAX_DEPTH deep. A null for a message field is
that message, empty (`cross_entropy:`); for any other field it leaves the field unset. A string
given for a number field holds a number as protobuf's C++ parser reads one (Python's would take
"1_000")."""
import math
import re

from google.protobuf.descriptor import FieldDescriptor

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
# Tags yaml-cpp reads as the plain scalar's text.
_PLAIN_TAGS = ("int", "float", "bool", "null")
# Tags whose values no spec field takes, and which yaml-cpp would read as their text.
_REFUSED_TAGS = ("binary", "timestamp", "set", "omap", "pairs")


def plain_scalar(text):
    """A plain (unquoted) scalar's value, as polyctl reads it."""
    if text == "true":
        return True
    if text == "false":
        return False
    if text in _NULLS:
        return None
    stripped = text.strip()
    if _NUMBER.fullmatch(stripped):
        # No int64 has over 19 digits: a longer one is a double (and int() of thousands of
        # digits is refused by Python itself).
        if (_INTEGER.fullmatch(stripped) and len(stripped) <= 20 and
                -2**63 <= int(stripped) < 2**63):
            return int(stripped)
        return float(stripped)
    return text


def load(yaml, text, descriptor):
    """The dict a `descriptor` message's YAML `text` stands for; yaml.YAMLError for what YAML
    refuses, ArgumentError for what a spec may not hold."""
    tree = yaml.load(text, Loader=_loader(yaml))
    if not isinstance(tree, dict):
        return tree  # the caller says that a spec is an object
    return _spec_value(tree, descriptor, [0], 0)


def _loader(yaml):
    class Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        pass

    # No implicit types: every plain scalar is read by plain_scalar() below, as yaml-cpp's text.
    Loader.yaml_implicit_resolvers = {}

    def scalar(loader, node):
        value = loader.construct_scalar(node)
        if node.style is not None:
            return value
        value = plain_scalar(value)
        if isinstance(value, float) and not math.isfinite(value):
            raise yaml.constructor.ConstructorError(
                None, None, "a number out of a double's range", node.start_mark)
        return value

    def mapping(loader, node):
        parsed = {}  # "<<" is a key like any other, as yaml-cpp reads it (no merge keys)
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key that is a list or a map (keys are field names)",
                    key_node.start_mark)
            key = loader.construct_scalar(key_node)
            if key in parsed:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark)
            parsed[key] = loader.construct_object(value_node, deep=True)
        return parsed

    def refused(loader, node):
        raise yaml.constructor.ConstructorError(
            None, None, f"the tag {node.tag} is not taken in a spec file", node.start_mark)

    Loader.add_constructor("tag:yaml.org,2002:str", scalar)
    for tag in _PLAIN_TAGS:
        Loader.add_constructor(f"tag:yaml.org,2002:{tag}", scalar)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    for tag in _REFUSED_TAGS:
        Loader.add_constructor(f"tag:yaml.org,2002:{tag}", refused)
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
        raise ArgumentError(f"nested deeper than {MAX_DEPTH} levels (an alias inside what it "
                            f"names?)")
    if isinstance(value, list):
        parsed = []
        for i, item in enumerate(value):
            if item is None:  # protobuf would drop it: the list would be a value short
                raise ArgumentError(f"{path}[{i}]: null in a list (give every element a value)")
            parsed.append(_spec_value(item, descriptor, count, depth + 1, f"{path}[{i}]"))
        return parsed
    if not isinstance(value, dict):
        return value
    parsed = {}
    for key, item in value.items():
        field = _field(descriptor, key)
        where = f"{path}.{key}" if path else key
        inner = None
        if field is not None and field.type == FieldDescriptor.TYPE_MESSAGE:
            inner = field.message_type
            if _is_map(field):  # a map's values are of its entry's value field
                inner = inner.fields_by_name["value"].message_type
            elif item is None and field.label != FieldDescriptor.LABEL_REPEATED:
                item = {}  # `cross_entropy:` is the message, empty
        if item is None and field is not None:
            continue  # a null scalar or list: the field is not set
        if field is not None:
            _check_number_strings(field, item, where)
        if field is not None and _is_map(field) and isinstance(item, dict):
            parsed[key] = {k: _spec_value(v, inner, count, depth + 2, f'{where}["{k}"]')
                           for k, v in item.items()}
            continue
        parsed[key] = _spec_value(item, inner, count, depth + 1, where)
    return parsed


def _check_number_strings(field, item, where):
    """A string given for a number field (YAML quoted "10") must be a number as protobuf's C++
    JSON parser reads it: Python's takes int("1_000") and float(" 1_0.5 ")."""
    if field.cpp_type not in _INTEGER_TYPES + _FLOAT_TYPES:
        return
    items = item if isinstance(item, list) else [item]
    for i, text in enumerate(items):
        if not isinstance(text, str):
            continue
        named = f"{where}[{i}]" if isinstance(item, list) else where
        if field.cpp_type in _INTEGER_TYPES and not _INTEGER.fullmatch(text):
            raise ArgumentError(f"{named}: not a whole number: {text!r}")
        if (field.cpp_type in _FLOAT_TYPES and not _NUMBER.fullmatch(text) and
                text not in _FLOAT_WORDS):
            raise ArgumentError(f"{named}: not a number: {text!r}")

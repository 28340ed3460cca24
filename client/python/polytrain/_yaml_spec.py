"""YAML spec files read as polyctl reads them (common/yaml_to_json.cc), so that one file is one
spec whichever client submits it: a plain scalar is true or false, a number as absl reads one
(decimal: `010` is 10, `1e3` is 1000; no `0x1F`, `1_000` or `1:30`), null (empty, `~`, `null`)
or else a string; a quoted or block scalar is a string; a key given twice, a null in a list, and
tags beyond YAML's plain values are refused; aliases count as expanded, at most MAX_VALUES values
nested at most MAX_DEPTH deep. A null for a message field is that message, empty
(`cross_entropy:`); for any other field it leaves the field unset."""
import re

from google.protobuf.descriptor import FieldDescriptor

from polytrain.errors import ArgumentError

# As polyctl's kMaxYamlValues and kMaxYamlDepth.
MAX_VALUES = 250_000
MAX_DEPTH = 64

# A decimal number as absl::SimpleAtod takes one (with a digit: "inf" and "nan" stay strings).
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_NULLS = ("", "~", "null", "Null", "NULL")
_INTEGER_TYPES = (FieldDescriptor.CPPTYPE_INT32, FieldDescriptor.CPPTYPE_INT64,
                  FieldDescriptor.CPPTYPE_UINT32, FieldDescriptor.CPPTYPE_UINT64)
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
        if _INTEGER.fullmatch(stripped) and -2**63 <= int(stripped) < 2**63:
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
        return plain_scalar(value) if node.style is None else value

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


def _spec_value(value, descriptor, count, depth):
    """`value` (of a `descriptor` message when it is a dict and the descriptor is known) with its
    nulls as polyctl reads them; `count` ([n]) counts values as aliases expand them."""
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise ArgumentError(f"more than {MAX_VALUES} values once its aliases are expanded")
    if depth > MAX_DEPTH:
        raise ArgumentError(f"nested deeper than {MAX_DEPTH} levels (an alias inside what it "
                            f"names?)")
    if isinstance(value, list):
        if any(item is None for item in value):
            raise ArgumentError("an empty value (null) in a list")
        return [_spec_value(item, descriptor, count, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    parsed = {}
    for key, item in value.items():
        field = _field(descriptor, key)
        inner = None
        if field is not None and field.type == FieldDescriptor.TYPE_MESSAGE:
            inner = field.message_type
            if _is_map(field):  # a map's values are of its entry's value field
                inner = inner.fields_by_name["value"].message_type
            elif item is None and field.label != FieldDescriptor.LABEL_REPEATED:
                item = {}  # `cross_entropy:` is the message, empty
        if item is None and field is not None:
            continue  # a null scalar or list: the field is not set
        if field is not None and field.cpp_type in _INTEGER_TYPES:
            for text in item if isinstance(item, list) else [item]:
                # protobuf's Python parser takes int("1_000"); polyctl's C++ one takes digits.
                if isinstance(text, str) and not _INTEGER.fullmatch(text):
                    raise ArgumentError(f"{key}: not a whole number: {text!r}")
        if field is not None and _is_map(field) and isinstance(item, dict):
            parsed[key] = {k: _spec_value(v, inner, count, depth + 2) for k, v in item.items()}
            continue
        parsed[key] = _spec_value(item, inner, count, depth + 1)
    return parsed

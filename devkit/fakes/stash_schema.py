"""The fake Stash's schema, and a check of GraphQL documents against the *real* Stash schema.

The fake serves only the subset of Stash's API the product uses (stash_schema.graphql).
A test passing against the fake proves little unless every document the product sends is
also valid against the real schema; `validate_against_real_schema` is that proof, and
`schema_differences` is how the contract test shows the subset agrees with the real thing.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Union

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    parse,
    validate,
)
from graphql.error import GraphQLSyntaxError
from graphql.pyutils import Undefined

FAKE_SDL_PATH = Path(__file__).with_name("stash_schema.graphql")
# Further parts of the fake's schema, each `extend type Mutation` with its own inputs.
FAKE_SDL_EXTENSIONS = (Path(__file__).with_name("stash_schema_plugin_host.graphql"),)


def fake_sdl() -> str:
    """The fake's whole SDL: the base file and its extensions."""
    return "\n".join(path.read_text(encoding="utf-8") for path in (FAKE_SDL_PATH, *FAKE_SDL_EXTENSIONS))


@lru_cache(maxsize=None)
def fake_schema() -> GraphQLSchema:
    """A fresh parse of the fake's SDL (the server builds its own copy to attach resolvers)."""
    return build_schema(fake_sdl())


@lru_cache(maxsize=None)
def real_schema(path: Union[str, Path, None] = None) -> GraphQLSchema:
    """Stash's real schema from the shared reference data (never copied into the project)."""
    if path is None:
        from devkit.shared_data import STASH_SCHEMA
        path = STASH_SCHEMA
    return build_schema(Path(path).read_text(encoding="utf-8"))


def validate_against_real_schema(document: str, schema: GraphQLSchema | None = None) -> list[str]:
    """Error messages for `document` against the real Stash schema; empty when it is valid."""
    try:
        ast = parse(document)
    except GraphQLSyntaxError as err:
        return [err.message]
    return [error.message for error in validate(schema or real_schema(), ast)]


def schema_differences(subset: GraphQLSchema, full: GraphQLSchema) -> list[str]:
    """Where `subset` declares something `full` lacks or declares differently."""
    problems: list[str] = []
    for name, declared in subset.type_map.items():
        if name.startswith("__"):
            continue
        actual = full.type_map.get(name)
        if actual is None:
            problems.append(f"type {name} does not exist in the real schema")
        elif type(actual) is not type(declared):
            problems.append(f"type {name} is a {type(declared).__name__} here, "
                            f"{type(actual).__name__} in the real schema")
        elif isinstance(declared, (GraphQLObjectType, GraphQLInterfaceType)):
            problems += _field_differences(name, declared, actual)
            extra = {i.name for i in declared.interfaces} - {i.name for i in actual.interfaces}
            if extra:
                problems.append(f"type {name} implements {sorted(extra)} here, not in the real schema")
        elif isinstance(declared, GraphQLInputObjectType):
            problems += _input_differences(name, declared, actual)
        elif isinstance(declared, GraphQLEnumType):
            if list(declared.values) != list(actual.values):
                problems.append(f"enum {name}: values {list(declared.values)} "
                                f"!= real {list(actual.values)}")
        elif isinstance(declared, GraphQLUnionType):
            if {t.name for t in declared.types} - {t.name for t in actual.types}:
                problems.append(f"union {name} has members the real one lacks")
        elif not isinstance(declared, GraphQLScalarType):
            problems.append(f"type {name}: unexpected kind {type(declared).__name__}")
    for root in ("query_type", "mutation_type"):
        declared, actual = getattr(subset, root), getattr(full, root)
        if declared is not None and (actual is None or declared.name != actual.name):
            problems.append(f"the {root} is {declared.name} here, not the real one")
    return problems


def _field_differences(type_name: str, declared, actual) -> list[str]:
    problems = []
    for field_name, field in declared.fields.items():
        real_field = actual.fields.get(field_name)
        where = f"{type_name}.{field_name}"
        if real_field is None:
            problems.append(f"field {where} does not exist in the real schema")
            continue
        if str(field.type) != str(real_field.type):
            problems.append(f"field {where}: {field.type} != real {real_field.type}")
        if field.deprecation_reason != real_field.deprecation_reason:
            problems.append(f"field {where}: deprecation differs")
        for arg_name, arg in field.args.items():
            real_arg = real_field.args.get(arg_name)
            if real_arg is None:
                problems.append(f"argument {where}({arg_name}) does not exist in the real schema")
            elif str(arg.type) != str(real_arg.type):
                problems.append(f"argument {where}({arg_name}): {arg.type} != real {real_arg.type}")
            elif arg.default_value != real_arg.default_value:
                problems.append(f"argument {where}({arg_name}): default differs")
            elif arg.deprecation_reason != real_arg.deprecation_reason:
                problems.append(f"argument {where}({arg_name}): deprecation differs")
        missing_required = [a for a, real_arg in real_field.args.items()
                            if a not in field.args and str(real_arg.type).endswith("!")
                            and real_arg.default_value is Undefined]
        if missing_required:
            problems.append(f"field {where}: required real arguments missing {missing_required}")
    return problems


def _input_differences(type_name: str, declared, actual) -> list[str]:
    problems = []
    for field_name, field in declared.fields.items():
        real_field = actual.fields.get(field_name)
        where = f"input {type_name}.{field_name}"
        if real_field is None:
            problems.append(f"{where} does not exist in the real schema")
        elif str(field.type) != str(real_field.type):
            problems.append(f"{where}: {field.type} != real {real_field.type}")
    required = [f for f, real_field in actual.fields.items()
                if f not in declared.fields and str(real_field.type).endswith("!")]
    if required:
        problems.append(f"input {type_name}: required real fields missing {required}")
    return problems


"""The OpenAPI 3.1 document for `/api/v1`, generated from the routes' `@operation` declarations and
their pydantic models (served at `/api/v1/openapi.json`)."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from web.api.spec import ERROR_TEXT, Media, Operation, operation_of

try:  # the installed distribution's version (web must not import the CLI package above it)
    __version__ = version("stepwise")
except PackageNotFoundError:  # a bare checkout
    __version__ = "0.0.0"

PREFIX = "/api/v1"
_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _param_schema(converter: str | None, rule) -> dict[str, Any]:
    if converter == "id":
        return {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    if converter == "int":
        return {"type": "integer", "minimum": 0}
    return {"type": "string", "minLength": 1}


def _operations(app: Flask):
    """(path, method, op, path parameters) for every declared view under /api/v1."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        op = operation_of(app.view_functions[rule.endpoint])
        if op is None:
            continue
        params = [
            {"name": name, "in": "path", "required": True, "schema": _param_schema(conv, rule)}
            for conv, name in _PARAM.findall(rule.rule)
        ]
        path = _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule.rule[len(PREFIX) :])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield path, method.lower(), op, params


def openapi_document(app: Flask) -> dict[str, Any]:
    from web.api.schemas import ErrorOut

    ops = list(_operations(app))
    models: dict[tuple[type[BaseModel], str], None] = {(ErrorOut, "serialization"): None}
    for _, _, op, _ in ops:
        if op.body is not None:
            models[(op.body, "validation")] = None
        for model in op.responses.values():
            if isinstance(model, type):
                models[(model, "serialization")] = None
    refs, defs = models_json_schema(list(models), ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for path, method, op, params in ops:
        paths.setdefault(path, {})[method] = _operation(op, params, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Stepwise API",
            "version": __version__,
            "description": "Grade math answers and steps. Auth: `Authorization: Bearer <token>`.",
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": defs.get("$defs", {}),
        },
        "paths": paths,
    }


def _operation(op: Operation, params: list, refs) -> dict[str, Any]:
    from web.api.schemas import ErrorOut

    error = {"application/json": {"schema": refs[(ErrorOut, "serialization")]}}
    responses: dict[str, Any] = {}
    for status, model in op.responses.items():
        if isinstance(model, Media):
            responses[str(status)] = {
                "description": model.description,
                "content": {model.media_type: {"schema": {"type": "string"}}},
            }
        else:
            responses[str(status)] = {
                "description": (model.__doc__ or model.__name__).strip().splitlines()[0],
                "content": {"application/json": {"schema": refs[(model, "serialization")]}},
            }
    statuses = (
        set(op.errors)
        | ({401} if not op.public else set())
        | ({404} if params else set())
        | ({400} if op.query is not None else set())
    )
    for status in sorted(statuses):
        responses[str(status)] = {"description": ERROR_TEXT.get(status, "Error"), "content": error}
    out: dict[str, Any] = {"operationId": op.operation_id, "responses": responses}
    if op.summary:
        out["summary"] = op.summary
    if op.tags:
        out["tags"] = list(op.tags)
    if op.query is not None:
        params = params + _query_params(op.query)
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    if op.public:
        out["security"] = []
    return out


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Query-string parameters from a flat model: one optional parameter per field."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
        field_schema = {
            k: v for k, v in (branches[0] if len(branches) == 1 else prop).items() if k not in ("title", "default")
        }
        param = {"name": name, "in": "query", "required": name in required, "schema": field_schema}
        if prop.get("description"):
            param["description"] = prop["description"]
        params.append(param)
    return params

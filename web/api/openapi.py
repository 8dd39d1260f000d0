"""The OpenAPI 3.0 document for `/api/v1`, served at `/api/v1/openapi.json` and tested against."""
from __future__ import annotations

from stepwise import __version__

TEXT = {"type": "string", "minLength": 1, "maxLength": 10000, "pattern": r"\S"}
SCALAR_ANSWER = {"oneOf": [{"type": "string", "maxLength": 10000}, {"type": "number"}]}

ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}},
}

POLICY = {
    "type": "object",
    "additionalProperties": False,
    "description": "How answers are compared; see the grader's Policy.",
    "properties": {
        "mode": {"type": "string", "enum": ["equivalent", "numeric"]},
        "rel_tol": {"type": "number", "minimum": 0},
        "abs_tol": {"type": "number", "minimum": 0},
        "sigfigs": {"type": "integer", "minimum": 1, "maximum": 15},
        "require": {
            "type": "array",
            "items": {"type": "string", "enum": ["simplified", "factored", "expanded", "exact"]},
        },
        "ordered": {"type": "boolean"},
        "partial_credit": {"type": "boolean", "description": "false: all or nothing"},
    },
}

PROBLEM_IN = {
    "type": "object",
    "required": ["statement"],
    "properties": {
        "statement": TEXT,
        "answer": {"type": "string", "maxLength": 10000, "nullable": True},
        "points": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 1000},
        "policy": POLICY,
    },
}

ASSIGNMENT_IN = {
    "type": "object",
    "required": ["title", "problems"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": r"\S"},
        "problems": {"type": "array", "minItems": 1, "maxItems": 500, "items": PROBLEM_IN},
    },
}

ANSWER_IN = {
    "type": "object",
    "required": ["problem", "answer"],
    "properties": {
        "problem": {"type": "integer", "minimum": 1, "description": "1-based problem position"},
        "answer": SCALAR_ANSWER,
        "work": {"type": "array", "maxItems": 100, "items": {"type": "string", "maxLength": 2000}},
    },
}

SUBMISSION_IN = {
    "type": "object",
    "required": ["student", "answers"],
    "properties": {
        "student": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
        "external_id": {"type": "string", "maxLength": 255, "nullable": True},
        "answers": {"type": "array", "minItems": 1, "items": ANSWER_IN},
    },
}

NUM_OR_NULL = {"type": "number", "nullable": True}
STR_OR_NULL = {"type": "string", "nullable": True}

ANSWER_OUT = {
    "type": "object",
    "required": ["problem", "status", "score", "points", "feedback", "interpreted", "first_error"],
    "properties": {
        "problem": {"type": "integer"},
        "answer": {"type": "string"},
        "work": {"type": "array", "items": {"type": "string"}},
        "status": {
            "type": "string",
            "enum": ["pending", "correct", "partial", "incorrect", "invalid", "timeout", "needs_review"],
        },
        "score": NUM_OR_NULL,
        "points": {"type": "number"},
        "feedback": STR_OR_NULL,
        "interpreted": STR_OR_NULL,
        "first_error": {"type": "integer", "nullable": True},
        "diagnosis": STR_OR_NULL,
        "steps": {"type": "array", "items": {"type": "object"}},
        "reference": {"type": "string", "nullable": True, "enum": ["key", "model", "teacher", None]},
        "overridden": {"type": "boolean", "description": "a teacher's override set this grade"},
        "graded_by": {"type": "string", "nullable": True, "enum": ["teacher", "grader", None]},
    },
}

SUBMISSION_OUT = {
    "type": "object",
    "required": ["id", "status", "score", "max_score", "answers"],
    "properties": {
        "id": {"type": "integer"},
        "assignment": {"type": "integer"},
        "student": {"type": "string"},
        "source": {"type": "string", "enum": ["dashboard", "api", "lms", "batch"]},
        "external_id": STR_OR_NULL,
        "status": {"type": "string", "enum": ["queued", "grading", "graded", "needs_review", "failed"]},
        "score": NUM_OR_NULL,
        "needs_review": {"type": "integer", "description": "answers waiting for the teacher"},
        "max_score": {"type": "number"},
        "created_at": {"type": "string"},
        "graded_at": STR_OR_NULL,
        "answers": {"type": "array", "items": ANSWER_OUT},
    },
}

ASSIGNMENT_OUT = {
    "type": "object",
    "required": ["id", "title", "problems"],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "max_score": {"type": "number"},
        "created_at": {"type": "string"},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "position", "statement"],
                "properties": {
                    "id": {"type": "integer"},
                    "position": {"type": "integer"},
                    "statement": {"type": "string"},
                    "answer": STR_OR_NULL,
                    "points": {"type": "number"},
                    "policy": {"type": "object"},
                    "reference": {"type": "object", "nullable": True},
                },
            },
        },
    },
}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


COMMON = {"401": _error("Missing or invalid API token"), "404": _error("Not found, or another teacher's")}
BODY_ERRORS = {
    "400": _error("Invalid payload; `field` names the part at fault"),
    "413": _error("Body too large"),
    "415": _error("Body is not application/json"),
}
ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def openapi_document() -> dict:
    from web.api.workflow_openapi import merge_into

    return merge_into(_document())


def _document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Stepwise API", "version": __version__,
                 "description": "Grade math answers and steps. Auth: `Authorization: Bearer <token>`."},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR, "Submission": SUBMISSION_OUT, "Assignment": ASSIGNMENT_OUT},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/assignments": {
                "post": {
                    "operationId": "createAssignment",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": ASSIGNMENT_IN}}},
                    "responses": {
                        "201": _json("Created", {
                            "type": "object", "required": ["id", "problems"],
                            "properties": {
                                "id": {"type": "integer"}, "title": {"type": "string"}, "url": {"type": "string"},
                                "problems": {"type": "array", "items": {
                                    "type": "object", "required": ["id", "position"],
                                    "properties": {"id": {"type": "integer"}, "position": {"type": "integer"}}}},
                            }}),
                        "401": COMMON["401"], **BODY_ERRORS,
                    },
                },
                "get": {
                    "operationId": "listAssignments",
                    "responses": {"200": _json("Your assignments", {"type": "object"}), "401": COMMON["401"]},
                },
            },
            "/assignments/{assignment_id}": {
                "get": {
                    "operationId": "getAssignment",
                    "parameters": [_path_id("assignment_id")],
                    "responses": {"200": _json("The assignment", ASSIGNMENT_OUT), **COMMON},
                }
            },
            "/assignments/{assignment_id}/submissions": {
                "post": {
                    "operationId": "createSubmission",
                    "parameters": [_path_id("assignment_id")],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": SUBMISSION_IN}}},
                    "responses": {
                        "202": _json("Stored and queued (or the stored one for a repeated external_id)", {
                            "type": "object", "required": ["id", "status", "url"],
                            "properties": {"id": {"type": "integer"}, "status": {"type": "string"},
                                           "url": {"type": "string"}, "created": {"type": "boolean"}}}),
                        **COMMON, **BODY_ERRORS,
                    },
                }
            },
            "/submissions/{submission_id}": {
                "get": {
                    "operationId": "getSubmission",
                    "parameters": [_path_id("submission_id")],
                    "responses": {"200": _json("The submission and its grades", SUBMISSION_OUT), **COMMON},
                }
            },
            "/assignments/{assignment_id}/grades.csv": {
                "get": {
                    "operationId": "gradesCsv",
                    "parameters": [_path_id("assignment_id")],
                    "responses": {
                        "200": {"description": "One row per submission", "content": {"text/csv": {"schema": {"type": "string"}}}},
                        **COMMON,
                    },
                }
            },
        },
    }

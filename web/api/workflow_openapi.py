"""OpenAPI paths of the workflow routes (web/api/workflow.py), merged into the one document."""
from __future__ import annotations

NUM_OR_NULL = {"type": "number", "nullable": True}
STR_OR_NULL = {"type": "string", "nullable": True}
INT = {"type": "integer"}
ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
ERROR_REF = {"$ref": "#/components/schemas/Error"}

PROGRESS = {
    "type": "object",
    "required": ["total", "queued", "grading", "graded", "needs_review", "failed"],
    "properties": {k: INT for k in ("total", "queued", "grading", "graded", "needs_review", "failed")},
}

GROUP = {
    "type": "object",
    "required": ["id", "answer", "interpreted", "size", "status", "score", "points", "feedback", "overridden"],
    "properties": {
        "id": INT, "answer": {"type": "string"}, "interpreted": STR_OR_NULL, "size": INT,
        "status": {"type": "string"}, "score": NUM_OR_NULL, "points": {"type": "number"},
        "feedback": STR_OR_NULL, "overridden": {"type": "boolean"},
    },
}

OVERRIDE_IN = {
    "type": "object",
    "required": ["score"],
    "properties": {
        "score": {"type": "number", "minimum": 0, "description": "points awarded, 0 to the problem's points"},
        "feedback": {"type": "string", "maxLength": 5000, "nullable": True},
    },
}

CHANGED = {
    "type": "object",
    "required": ["answers", "submissions"],
    "properties": {"answers": INT, "submissions": {"type": "array", "items": INT}, "group": INT, "answer": INT},
}

VERDICT = {"type": "object", "properties": {"status": STR_OR_NULL, "score": NUM_OR_NULL, "feedback": STR_OR_NULL}}

AUDIT = {
    "type": "object",
    "required": ["id", "kind", "action", "old", "new", "at"],
    "properties": {
        "id": INT, "teacher": INT, "kind": {"type": "string", "enum": ["answer", "group"]},
        "action": {"type": "string", "enum": ["set", "undo", "accept"]},
        "answer": {"type": "integer", "nullable": True}, "group": {"type": "integer", "nullable": True},
        "problem": {"type": "integer", "nullable": True}, "answers": INT, "old": VERDICT, "new": VERDICT,
        "at": STR_OR_NULL,
    },
}

REVIEW_ITEM = {
    "type": "object",
    "required": ["answer_id", "submission", "student", "problem", "reason", "message", "answer", "interpreted"],
    "properties": {
        "answer_id": INT, "submission": INT, "assignment": INT, "student": {"type": "string"}, "problem": INT,
        "statement": {"type": "string"},
        "reason": {"type": "string", "enum": ["no_key", "unreadable", "key_disagrees", "timeout"]},
        "message": {"type": "string"}, "answer": {"type": "string"}, "interpreted": STR_OR_NULL,
        "status": {"type": "string"}, "score": NUM_OR_NULL, "points": {"type": "number"}, "feedback": STR_OR_NULL,
        "key": STR_OR_NULL, "model_answer": STR_OR_NULL, "model_agreement": NUM_OR_NULL,
        "proposed_score": NUM_OR_NULL,
    },
}

RESOLVE_IN = {
    "type": "object",
    "required": ["action"],
    "properties": {
        "action": {"type": "string", "enum": ["accept", "correct"]},
        "score": {"type": "number", "minimum": 0, "description": "required for correct"},
        "feedback": {"type": "string", "maxLength": 5000, "nullable": True},
    },
}

PROBLEM_PATCH = {
    "type": "object",
    "description": "answer (the key; null removes it) and/or policy; at least one",
    "minProperties": 1,
    "properties": {
        "answer": {"type": "string", "maxLength": 10000, "nullable": True},
        "policy": {"$ref": "#/components/schemas/Policy"},
    },
}

REGRADE = {
    "type": "object",
    "required": ["problem", "regraded", "changed_count", "message", "changed"],
    "properties": {
        "problem": INT, "regraded": INT, "changed_count": INT, "message": {"type": "string"}, "waiting": INT,
        "changed": {"type": "array", "items": {"type": "object", "properties": {
            "answer_id": INT, "submission": INT, "student": {"type": "string"}, "answer": {"type": "string"},
            "old": VERDICT, "new": VERDICT}}},
    },
}

LMS_NOTE = {"type": "object", "properties": {"linked": INT, "message": STR_OR_NULL, "lti_links": INT}}
DELETED = {
    "type": "object",
    "required": ["submissions", "answers", "lms"],
    "properties": {"assignment": INT, "problems": INT, "submissions": INT, "answers": INT, "lms": LMS_NOTE},
}

REPORT = {
    "type": "object",
    "required": ["assignment", "student", "submission", "status", "score", "max_score", "answers"],
    "properties": {
        "assignment": {"type": "object"}, "student": {"type": "string"}, "submission": INT,
        "status": {"type": "string"}, "score": NUM_OR_NULL, "max_score": {"type": "number"},
        "graded_at": STR_OR_NULL, "answers": {"type": "array", "items": {"type": "object"}},
    },
}

SETTINGS = {"type": "object", "required": ["gradebook"],
            "properties": {"gradebook": {"type": "string", "enum": ["latest", "best"]}}}

BATCH_IN = {
    "type": "object",
    "properties": {"assignment": {**ID, "nullable": True, "description": "only this assignment"}},
}

BATCH = {
    "type": "object",
    "required": ["id", "status", "stage", "total", "graded", "needs_review", "failed", "started", "finished"],
    "properties": {
        "id": INT, "status": {"type": "string", "enum": ["running", "done"]},
        "stage": {"type": "string", "enum": ["references", "grading", "passback", "done"]},
        "trigger": {"type": "string"}, "assignment": {"type": "integer", "nullable": True},
        "total": INT, "graded": INT, "needs_review": INT, "failed": INT, "pending": INT,
        "started": {"type": "string"}, "finished": STR_OR_NULL, "error": STR_OR_NULL,
    },
}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _path(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or ID}


def _query(name: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema}


COMMON = {"401": _error("Missing or invalid API token"), "404": _error("Not found, or another teacher's")}
BODY = {"400": _error("Invalid payload; `field` names the part at fault"), "413": _error("Body too large"),
        "415": _error("Body is not application/json")}
STUDENT = _path("student", {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[^/]*\S[^/]*$"})
PICK = _query("pick", {"type": "string", "enum": ["latest", "best"]})
BAD_QUERY = {"400": _error("A query parameter has a value that is not allowed")}


def _override_paths(kind: str, name: str) -> dict:
    return {
        "post": {"operationId": f"override{name}", "parameters": [_path(f"{kind}_id")],
                 "requestBody": _body(OVERRIDE_IN),
                 "responses": {"200": _json("Grades changed", CHANGED), **COMMON, **BODY}},
        "delete": {"operationId": f"undo{name}Override", "parameters": [_path(f"{kind}_id")],
                   "responses": {"200": _json("Override removed, answers graded again", CHANGED), **COMMON}},
    }


def workflow_paths() -> dict:
    return {
        "/assignments/{assignment_id}/progress": {"get": {
            "operationId": "assignmentProgress", "parameters": [_path("assignment_id")],
            "responses": {"200": _json("Submissions by state", PROGRESS), **COMMON}}},
        "/assignments/{assignment_id}/problems/{position}/groups": {"get": {
            "operationId": "answerGroups", "parameters": [_path("assignment_id"), _path("position")],
            "responses": {"200": _json("Answer groups, largest first", {"type": "array", "items": GROUP}),
                          **COMMON}}},
        "/assignments/{assignment_id}/problems/{position}": {"patch": {
            "operationId": "updateProblem", "parameters": [_path("assignment_id"), _path("position")],
            "requestBody": _body(PROBLEM_PATCH),
            "responses": {"200": _json("Regraded; what changed", REGRADE), **COMMON, **BODY}}},
        "/groups/{group_id}/override": _override_paths("group", "Group"),
        "/answers/{answer_id}/override": _override_paths("answer", "Answer"),
        "/overrides": {"get": {
            "operationId": "overrideHistory", "parameters": [_query("answer", ID), _query("group", ID)],
            "responses": {"200": _json("Override history, newest first", {"type": "array", "items": AUDIT}),
                          "401": COMMON["401"], **BAD_QUERY}}},
        "/review": {"get": {
            "operationId": "reviewQueue", "parameters": [_query("assignment", ID)],
            "responses": {"200": _json("Answers that need a teacher", {"type": "array", "items": REVIEW_ITEM}),
                          **COMMON, **BAD_QUERY}}},
        "/review/{answer_id}": {"post": {
            "operationId": "resolveReview", "parameters": [_path("answer_id")], "requestBody": _body(RESOLVE_IN),
            "responses": {"200": _json("Resolved", CHANGED), **COMMON, **BODY}}},
        "/submissions/{submission_id}": {"delete": {
            "operationId": "deleteSubmission", "parameters": [_path("submission_id")],
            "responses": {"200": _json("Deleted; `lms.message` says what happens to the LMS gradebook", DELETED),
                          **COMMON}}},
        "/submissions/{submission_id}/report": {"get": {
            "operationId": "submissionReport", "parameters": [_path("submission_id")],
            "responses": {"200": _json("Feedback report", REPORT), **COMMON}}},
        "/assignments/{assignment_id}/students/{student}": {"delete": {
            "operationId": "deleteStudent", "parameters": [_path("assignment_id"), STUDENT],
            "responses": {"200": _json("Deleted the student's submissions", DELETED), **COMMON}}},
        "/assignments/{assignment_id}/students/{student}/report": {"get": {
            "operationId": "studentReport", "parameters": [_path("assignment_id"), STUDENT, PICK],
            "responses": {"200": _json("Feedback report", REPORT), **COMMON, **BAD_QUERY}}},
        "/assignments/{assignment_id}/gradebook.csv": {"get": {
            "operationId": "gradebookCsv",
            "parameters": [_path("assignment_id"), PICK,
                           _query("format", {"type": "string", "enum": ["generic", "canvas", "moodle"]})],
            "responses": {"200": {"description": "One row per student",
                                  "content": {"text/csv": {"schema": {"type": "string"}}}}, **COMMON, **BAD_QUERY}}},
        "/settings": {
            "get": {"operationId": "getSettings", "responses": {"200": _json("Your settings", SETTINGS),
                                                                "401": COMMON["401"]}},
            "put": {"operationId": "putSettings", "requestBody": _body({"type": "object", "properties": {
                "gradebook": {"type": "string", "enum": ["latest", "best"]}}}),
                "responses": {"200": _json("Your settings", SETTINGS), "401": COMMON["401"], **BODY}},
        },
        "/batches": {
            "post": {"operationId": "startBatch", "requestBody": _body(BATCH_IN),
                     "responses": {"202": _json("Started", BATCH), **COMMON, **BODY}},
            "get": {"operationId": "listBatches",
                    "responses": {"200": _json("Your batches, newest first", {"type": "array", "items": BATCH}),
                                  "401": COMMON["401"]}},
        },
        "/batches/{batch_id}": {"get": {
            "operationId": "getBatch", "parameters": [_path("batch_id")],
            "responses": {"200": _json("The batch", BATCH), **COMMON}}},
    }


def merge_into(document: dict) -> dict:
    """Add the workflow paths (and the Policy schema they reference) to the API document."""
    from web.api.openapi import POLICY

    paths = document.setdefault("paths", {})
    for path, operations in workflow_paths().items():
        paths.setdefault(path, {}).update(operations)
    document.setdefault("components", {}).setdefault("schemas", {}).setdefault("Policy", POLICY)
    return document

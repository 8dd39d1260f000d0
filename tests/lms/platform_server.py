"""A test LMS platform on loopback: JWKS, OIDC auth, OAuth2 token endpoint, AGS scores, webhook
callback. Real HTTP, its own RSA key pair; it can be told to fail (500) or hang on purpose."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from lms import crypto

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


def rsa_pair(kid: str):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    jwk = JWK.from_pem(public_pem.encode()).export_public(as_dict=True)
    jwk.update(kid=kid, alg="RS256", use="sig")
    return private_pem, jwk


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


class Platform:
    client_id = "stepwise-tool"
    deployment_id = "deploy-1"

    def __init__(self) -> None:
        self.kid = "platform-key-1"
        self.private_pem, self.public_jwk = rsa_pair(self.kid)
        self.tool_jwks: dict | None = None  # Stepwise's /lms/jwks, registered like an admin would
        self.webhook_secret: str | None = None
        self.scores: list[Received] = []
        self.callbacks: list[Received] = []
        self.token_requests: list[Received] = []
        self.requests: list[str] = []
        self.tokens: set[str] = set()
        self.score_plan: list[Any] = []  # per request: int status or "hang"; empty: 200
        self.token_plan: list[Any] = []
        self.callback_plan: list[Any] = []
        self.hang_s = 1.5
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    # -- URLs -------------------------------------------------------------------------------
    @property
    def auth_url(self) -> str:
        return self.url + "/auth"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def jwks_url(self) -> str:
        return self.url + "/jwks"

    def lineitem(self, n: int = 1) -> str:
        return f"{self.url}/lineitems/{n}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- behaviour ----------------------------------------------------------------------------
    def _planned(self, plan: list[Any]) -> Response | None:
        with self._lock:
            action = plan.pop(0) if plan else None
        if action is None:
            return None
        if action == "hang":
            time.sleep(self.hang_s)
            return Response("{}", 200, content_type="application/json")
        return Response(json.dumps({"error": "planned"}), int(action), content_type="application/json")

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        self.requests.append(f"{request.method} {request.path}")
        response = self._route(request)
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        path = request.path
        if path == "/jwks":
            return Response(json.dumps({"keys": [self.public_jwk]}), content_type="application/json")
        if path == "/auth":
            return Response(json.dumps(dict(request.args)), content_type="application/json")
        if path == "/token" and request.method == "POST":
            return self._token(request)
        if path.startswith("/lineitems/") and path.endswith("/scores") and request.method == "POST":
            return self._score(request)
        if path == "/callback" and request.method == "POST":
            return self._callback(request)
        if path == "/redirect":
            return Response("", 302, headers={"Location": self.url + "/callback"})
        return Response("not found", 404)

    def _token(self, request: Request) -> Response:
        received = Received(request.path, dict(request.headers), request.get_data(), dict(request.form))
        self.token_requests.append(received)
        planned = self._planned(self.token_plan)
        if planned is not None:
            return planned
        form = request.form
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return Response(json.dumps({"error": "unsupported_grant_type"}), 400, content_type="application/json")
        assertion = form.get("client_assertion", "")
        try:
            kid = jwt.get_unverified_header(assertion).get("kid")
            key = next(k for k in (self.tool_jwks or {}).get("keys", []) if k.get("kid") == kid)
            claims = jwt.decode(
                assertion, jwt.PyJWK(key).key, algorithms=["RS256"], audience=self.token_url, issuer=self.client_id
            )
            assert claims["sub"] == self.client_id and claims["jti"]
        except Exception:
            return Response(json.dumps({"error": "invalid_client"}), 401, content_type="application/json")
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return Response(
            json.dumps(
                {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": form.get("scope", "")}
            ),
            content_type="application/json",
        )

    def _score(self, request: Request) -> Response:
        planned = self._planned(self.score_plan)
        if planned is not None:
            return planned
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return Response(json.dumps({"error": "unauthorized"}), 401, content_type="application/json")
        if request.mimetype != "application/vnd.ims.lis.v1.score+json":
            return Response(json.dumps({"error": "unsupported media type"}), 415, content_type="application/json")
        self.scores.append(Received(request.path, dict(request.headers), request.get_data()))
        return Response(
            json.dumps({"resultUrl": self.url + request.path.replace("/scores", "/results/1")}),
            200,
            content_type="application/json",
        )

    def _callback(self, request: Request) -> Response:
        planned = self._planned(self.callback_plan)
        if planned is not None:
            return planned
        body = request.get_data()
        if self.webhook_secret:
            try:
                crypto.verify(self.webhook_secret, body, request.headers.get(crypto.SIGNATURE_HEADER))
            except crypto.SignatureError:
                return Response("bad signature", 401)
        self.callbacks.append(Received(request.path, dict(request.headers), body))
        return Response("", 204)

    # -- the LMS side of a launch ---------------------------------------------------------------
    def id_token(
        self,
        *,
        nonce: str,
        sub: str = "student-1",
        roles: list[str] | None = None,
        message_type: str = "LtiResourceLinkRequest",
        resource_link_id: str = "rl-1",
        custom: dict | None = None,
        lineitem: str | None = None,
        client_id: str | None = None,
        deployment_id: str | None = None,
        exp_delta: int = 300,
        key: str | None = None,
        target_link_uri: str = "http://127.0.0.1:8000/lms/launch",
        extra: dict | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": client_id or self.client_id,
            "azp": client_id or self.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + exp_delta,
            "nonce": nonce,
            "name": "Ada Lovelace" if sub.startswith("student") else "Mr Teacher",
            CLAIM + "version": "1.3.0",
            CLAIM + "message_type": message_type,
            CLAIM + "deployment_id": deployment_id or self.deployment_id,
            CLAIM + "target_link_uri": target_link_uri,
            CLAIM + "roles": roles
            if roles is not None
            else ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
            CLAIM + "context": {"id": "course-1", "title": "Algebra"},
        }
        if message_type == "LtiResourceLinkRequest":
            claims[CLAIM + "resource_link"] = {"id": resource_link_id, "title": "Homework 1"}
            claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = {
                "scope": [SCORE_SCOPE, LINEITEM_SCOPE],
                "lineitem": lineitem or self.lineitem(1),
                "lineitems": self.url + "/lineitems",
            }
        else:
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": self.url + "/deep_link_return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "data": "dl-data-1",
            }
        if custom:
            claims[CLAIM + "custom"] = custom
        claims.update(extra or {})
        return jwt.encode(
            claims, key or self.private_pem, algorithm="RS256", headers={"kid": self.kid, "jti": str(uuid.uuid4())}
        )

"""Google's signing-keys endpoint on loopback, and Google-style ID tokens signed with the keys it serves.

GoogleCertsServer answers GET /oauth2/v3/certs with a JWK set in the format Google publishes
(https://www.googleapis.com/oauth2/v3/certs: {"keys": [{"kty", "alg", "use", "kid", "n", "e"}]},
with Cache-Control: public, max-age=...). It counts fetches, can fail with an HTTP status, can
be taken down (connection refused) and brought back on the same port, and can be slow.

    with GoogleCertsServer() as google:
        key = SigningKey.generate()
        google.serve(key)
        token = key.id_token(aud="my-client-id", sub="1234", email="a@gmail.com")

It also plays Google's OAuth 2.0 authorization-code flow for web server apps
(https://developers.google.com/identity/protocols/oauth2/web-server, and OpenID Connect's
https://developers.google.com/identity/openid-connect/openid-connect):

    google.register_client("web-client-id", "secret")
    google.signed_in_as = {"sub": "42", "email": "kim@studio.kr", "hd": "studio.kr"}  # who is at the browser
    GET  /o/oauth2/v2/auth  -> 302 redirect_uri?code=...&state=... (or ?error=access_denied when
                               signed_in_as is None: the person clicked Cancel)
    POST /token             -> {access_token, expires_in, scope, token_type, id_token}: the code once,
                               for the client, secret and redirect_uri it was issued to; id_token signed
                               with the first served key
    GET  /v1/userinfo       -> the signed-in account's claims, for `Authorization: Bearer <access_token>`
"""

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CERTS_PATH = "/oauth2/v3/certs"
AUTHORIZE_PATH = "/o/oauth2/v2/auth"
TOKEN_PATH = "/token"
USERINFO_PATH = "/v1/userinfo"
GOOGLE_ISSUER = "https://accounts.google.com"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _b64url_json(value: dict) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


class SigningKey:
    """An RSA key pair standing in for one of Google's: its public half as a JWK, its private half signs."""

    def __init__(self, private_key: rsa.RSAPrivateKey, kid: str):
        self.private_key = private_key
        self.kid = kid

    @classmethod
    def generate(cls, kid: str | None = None) -> "SigningKey":
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), kid or uuid.uuid4().hex)

    def public_jwk(self) -> dict:
        numbers = self.private_key.public_key().public_numbers()
        return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}  # fmt: skip

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict, *, kid: str | None = None) -> str:
        """RS256 over claims, with `kid` (default: this key's) in the header, as Google signs."""
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": kid or self.kid})

    def id_token(self, **overrides) -> str:
        """A Google ID token for these claims (see google_claims); a None override drops the claim."""
        return self.sign(google_claims(**overrides))


def google_claims(**overrides) -> dict:
    """The claims of a fresh Google ID token (one hour to live), with overrides; None drops a claim."""
    now = int(time.time())
    claims = {
        "iss": GOOGLE_ISSUER,
        "azp": "azp-client.apps.googleusercontent.com",
        "aud": "client.apps.googleusercontent.com",
        "sub": "110169484474386276334",
        "email": "player@gmail.com",
        "email_verified": True,
        "name": "플레이어 Kim",
        "given_name": "플레이어",
        "family_name": "Kim",
        "picture": "https://lh3.googleusercontent.com/a/photo",
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def unsigned_token(claims: dict, *, kid: str) -> str:
    """alg "none": a token with no signature at all."""
    return f"{_b64url_json({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64url_json(claims)}."


def hs256_token_keyed_with(secret: bytes, claims: dict, *, kid: str) -> str:
    """The algorithm-confusion attack: HS256 with a public key (which anyone can read) as the secret."""
    signing_input = f"{_b64url_json({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_b64url_json(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


class GoogleCertsServer:
    """A real HTTP server on 127.0.0.1 playing https://www.googleapis.com/oauth2/v3/certs."""

    def __init__(self, *, max_age: int = 21600):
        self.max_age = max_age
        self.status = 200  # anything else: Google failing, with an HTML error page like its front end
        self.delay = 0.0
        self.fetches = 0
        self._keys: list[SigningKey] = []
        self._lock = threading.Lock()
        # the OAuth flow: registered clients, who is signed in at the browser, issued codes and tokens
        self.clients: dict[str, str] = {}
        self.signed_in_as: dict | None = None
        self.token_requests: list[dict] = []
        self._codes: dict[str, dict] = {}
        self._access_tokens: dict[str, dict] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # lifecycle
    def start(self) -> "GoogleCertsServer":
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="google-certs", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def go_down(self) -> None:
        """Stop listening: fetches now fail with connection refused."""
        self.stop()

    def come_back(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            self.start()

    def __enter__(self) -> "GoogleCertsServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # behaviour
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{CERTS_PATH}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def register_client(self, client_id: str, secret: str) -> None:
        """An OAuth client of type "Web application", as made in Google Cloud's console."""
        self.clients[client_id] = secret

    def serve(self, *keys: SigningKey) -> None:
        """Publish exactly these keys (a rotation adds the new key next to the old one)."""
        with self._lock:
            self._keys = list(keys)

    def reset(self, *keys: SigningKey, max_age: int = 21600) -> None:
        with self._lock:
            self._keys = list(keys)
            self.fetches = 0
            self.clients = {}
            self.signed_in_as = None
            self.token_requests = []
            self._codes = {}
            self._access_tokens = {}
        self.status = 200
        self.delay = 0.0
        self.max_age = max_age
        self.come_back()

    def document(self) -> dict:
        with self._lock:
            return {"keys": [key.public_jwk() for key in self._keys]}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?")[0]
                if path == AUTHORIZE_PATH:
                    self._authorize()
                    return
                if path == USERINFO_PATH:
                    self._userinfo()
                    return
                if path != CERTS_PATH:
                    self._send(404, b"Not Found", "text/html")
                    return
                with server._lock:
                    server.fetches += 1
                if server.delay:
                    time.sleep(server.delay)
                if server.status != 200:
                    self._send(server.status, b"<html><body>Error</body></html>", "text/html")
                    return
                body = json.dumps(server.document()).encode()
                cache_control = f"public, max-age={server.max_age}, must-revalidate, no-transform"
                self._send(200, body, "application/json; charset=UTF-8", {"Cache-Control": cache_control})

            def do_POST(self):
                if self.path.split("?")[0] != TOKEN_PATH:
                    self._send(404, b"Not Found", "text/html")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = {name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
                with server._lock:
                    server.token_requests.append(form)
                    grant = server._codes.pop(form.get("code", ""), None)  # a code works once
                client_id = form.get("client_id", "")
                if client_id not in server.clients or server.clients[client_id] != form.get("client_secret"):
                    self._json(401, {"error": "invalid_client", "error_description": "Unauthorized"})
                    return
                if form.get("grant_type") != "authorization_code":
                    self._json(400, {"error": "unsupported_grant_type"})
                    return
                if (
                    grant is None
                    or grant["client_id"] != client_id
                    or grant["redirect_uri"] != form.get("redirect_uri")
                    or grant["expires"] < time.time()
                ):
                    self._json(400, {"error": "invalid_grant", "error_description": "Bad Request"})
                    return
                access_token = "ya29." + secrets.token_urlsafe(24)
                with server._lock:
                    server._access_tokens[access_token] = grant["claims"]
                    key = server._keys[0]
                body = {
                    "access_token": access_token,
                    "expires_in": 3599,
                    "scope": grant["scope"],
                    "token_type": "Bearer",
                }
                if "openid" in grant["scope"].split():
                    claims = google_claims(aud=client_id, azp=client_id, **grant["claims"])
                    if grant["nonce"]:
                        claims["nonce"] = grant["nonce"]
                    body["id_token"] = key.sign(claims)
                self._json(200, body)

            def _authorize(self):
                query = {name: values[0] for name, values in parse_qs(urlsplit(self.path).query).items()}
                redirect_uri = query.get("redirect_uri", "")
                if query.get("client_id") not in server.clients or not redirect_uri.startswith(("http://", "https://")):
                    # Google shows "Error 400: invalid_request" / "401: invalid_client" and never redirects.
                    self._send(400, b"<html><body>Error 400: invalid_request</body></html>", "text/html")
                    return
                if query.get("response_type") != "code":
                    answer = {"error": "unsupported_response_type"}
                elif server.signed_in_as is None:
                    answer = {"error": "access_denied"}
                else:
                    code = "4/0A" + secrets.token_urlsafe(24)
                    with server._lock:
                        server._codes[code] = {
                            "client_id": query["client_id"],
                            "redirect_uri": redirect_uri,
                            "scope": query.get("scope", ""),
                            "nonce": query.get("nonce"),
                            "claims": dict(server.signed_in_as),
                            "expires": time.time() + 600,
                        }
                    answer = {"code": code, "scope": query.get("scope", "")}
                if "state" in query:
                    answer["state"] = query["state"]
                separator = "&" if "?" in redirect_uri else "?"
                self._send(302, b"", "text/html", {"Location": f"{redirect_uri}{separator}{urlencode(answer)}"})

            def _userinfo(self):
                authorization = self.headers.get("Authorization", "")
                with server._lock:
                    claims = server._access_tokens.get(authorization.removeprefix("Bearer "))
                if not authorization.startswith("Bearer ") or claims is None:
                    self._json(401, {"error": "invalid_request", "error_description": "Invalid Credentials"})
                    return
                info = google_claims(**claims)
                self._json(200, {name: value for name, value in info.items()
                                 if name not in ("iss", "aud", "azp", "iat", "exp")})  # fmt: skip

            def _json(self, status, document):
                self._send(status, json.dumps(document).encode(), "application/json; charset=utf-8")

            def _send(self, status, body, content_type, headers=None):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the slow-Google tests), as real clients do

            def log_message(self, format, *args):  # keep test output clean
                pass

        return Handler

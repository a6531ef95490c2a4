"""GET /users/{id} as a team would write it without userhub: a Python 3 Lambda handler with
boto3, doing the same work as userhub's (verify the HS256 access token, read the caller's
session and the user in one consistent BatchGetItem, answer the user as JSON), run by a
minimal custom-runtime loop so that it runs under the same runtime API emulator as the
Rust functions (`make bench` starts it; see tests/src/bin/bench/peer.rs).

Standard library and boto3 only (boto3 comes with the local stack's venv).
"""

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.request

import boto3
from boto3.dynamodb.types import TypeDeserializer

# Module scope, as in any Lambda handler: built once per cold start.
TABLE = os.environ["TABLE_NAME"]
SECRET = os.environ["JWT_SECRET"].encode()
CLIENT = boto3.client("dynamodb")
DESERIALIZE = TypeDeserializer().deserialize
# Key and index attributes, and the hash, are not part of the user resource.
HIDDEN = {"pk", "sk", "password_hash", "dir", "created_sk", "email_sk", "username_sk", "name_sk", "name_lc"}


def b64url(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def claims(authorization):
    """The verified claims of a Bearer HS256 token, or None."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    try:
        header, payload, signature = authorization[7:].split(".")
        expected = hmac.new(SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, b64url(signature)):
            return None
        if json.loads(b64url(header)).get("alg") != "HS256":
            return None
        body = json.loads(b64url(payload))
    except ValueError:
        return None
    now = time.time()
    if body.get("typ") != "access" or body.get("exp", 0) < now or body.get("nbf", now) > now + 5:
        return None
    return body


def answer(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body, default=int)}


def handler(event, _context):
    path = event.get("rawPath", "")
    parts = path.strip("/").split("/")
    if event.get("requestContext", {}).get("http", {}).get("method") != "GET" or len(parts) != 2 or parts[0] != "users":
        return answer(404, {"code": "not_found"})
    token = claims(event.get("headers", {}).get("authorization"))
    if token is None:
        return answer(401, {"code": "unauthorized"})
    # A session id is "<slot>-<unique>"; the item sits in its slot and names the session.
    slot = str(token["sid"]).split("-", 1)[0]
    session_key = {"pk": {"S": f"USER#{token['sub']}"}, "sk": {"S": f"SESSION#{slot}"}}
    user_key = {"pk": {"S": f"USER#{parts[1]}"}, "sk": {"S": "PROFILE"}}
    out = CLIENT.batch_get_item(
        RequestItems={TABLE: {"Keys": [session_key, user_key], "ConsistentRead": True}}
    )
    items = out["Responses"].get(TABLE, [])
    live = lambda i: i.get("session_id", {}).get("S") == token["sid"] and int(i["ttl"]["N"]) > time.time()
    if not any(i["sk"]["S"].startswith("SESSION#") and live(i) for i in items):
        return answer(401, {"code": "unauthorized"})
    if token.get("role") != "admin" and token["sub"] != parts[1]:
        return answer(404, {"code": "not_found"})
    profile = next((i for i in items if i["sk"]["S"] == "PROFILE"), None)
    if profile is None:
        return answer(404, {"code": "not_found"})
    user = {k: DESERIALIZE(v) for k, v in profile.items() if k not in HIDDEN}
    return answer(200, user)


def main():
    api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
    while True:
        with urllib.request.urlopen(f"{api}/next") as r:
            request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(r.read())
        result = json.dumps(handler(event, None)).encode()
        urllib.request.urlopen(urllib.request.Request(f"{api}/{request_id}/response", data=result, method="POST")).read()


if __name__ == "__main__":
    main()

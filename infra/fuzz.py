#!/usr/bin/env python3
"""Fuzz the local API against openapi.yaml with schemathesis (standard library only).

Run inside the local stack, after `cargo build -p userhub-local-api`:

    python3 infra/stack.py run -- python3 infra/fuzz.py [--budget SECONDS] [--stateful]

It starts the local API (target/debug/userhub-local-api --setup) on a free port with its own
table and bucket, then runs schemathesis once per identity, each with a share of the time
budget:

- admin: the first admin's bearer token;
- user: a normal user's bearer token;
- anonymous: no credentials;
- throwaway: the operations that end the caller's own session (logout, logout-all, password
  change), each with a fresh user's token, so they never cut the other runs short.

The checks are the ones issue #14 lists, named in infra/schemathesis.toml (not with `--checks`,
which would override the file's per-operation exception). `--stateful` adds schemathesis' stateful phase
(the links between operations: create -> get -> patch -> delete). Reports go to
.local/fuzz/<identity>/ (JUnit XML); the API's log to .local/logs/fuzz-api.log.
Exit status: 0 when every run found nothing, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
SCHEMATHESIS = LOCAL / "venv" / "bin" / "schemathesis"
API_BIN = ROOT / "target" / "debug" / "userhub-local-api"
SPEC = ROOT / "openapi.yaml"
CONFIG = ROOT / "infra" / "schemathesis.toml"

# Operations that end the caller's session: only the throwaway identity runs them.
SESSION_ENDING = ["logout", "logoutAll", "changePassword"]

PASSWORD = "fuzzing is a fine hobby " + secrets.token_hex(4)


def log(msg: str) -> None:
    print(f"fuzz: {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as res:
        raw = res.read()
        return json.loads(raw) if raw else {}


def person(base: str, name: str) -> str:
    """Registers a user and returns its access token."""
    email = f"{name}-{secrets.token_hex(4)}@example.com"
    call(base, "POST", "/auth/register", {"email": email, "username": email.split("@")[0], "password": PASSWORD})
    return call(base, "POST", "/auth/login", {"email": email, "password": PASSWORD})["access_token"]


def start_api(port: int, admin_email: str) -> subprocess.Popen:
    env = dict(os.environ)
    suffix = secrets.token_hex(6)
    env.update({
        "TABLE_NAME": f"fuzz-{suffix}",
        "BUCKET_NAME": f"fuzz-{suffix}",
        "JWT_SECRET": secrets.token_hex(32),
        "PORT": str(port),
        "BOOTSTRAP_ADMIN_EMAIL": admin_email,
        "BOOTSTRAP_ADMIN_PASSWORD": PASSWORD,
        "RUST_LOG": env.get("RUST_LOG", "warn"),
        # Generated requests come from one address at hundreds per second: limits that high
        # keep the 429s (documented, and tested elsewhere) from starving the other answers.
        "RATE_LIMIT_LOGIN_ACCOUNT": "100000/60",
        "RATE_LIMIT_LOGIN_IP": "100000/60",
        "RATE_LIMIT_REGISTER_IP": "100000/60",
        "RATE_LIMIT_REFRESH_SESSION": "100000/60",
        "RATE_LIMIT_PASSWORD_USER": "100000/60",
    })
    (LOCAL / "logs").mkdir(parents=True, exist_ok=True)
    out = open(LOCAL / "logs" / "fuzz-api.log", "wb")
    return subprocess.Popen([str(API_BIN), "--setup"], env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_healthy(base: str, api: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise SystemExit(f"the local API exited ({api.returncode}); see .local/logs/fuzz-api.log")
        try:
            call(base, "GET", "/health")
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    raise SystemExit("the local API did not become healthy; see .local/logs/fuzz-api.log")


def run(name: str, base: str, seconds: int, token: str | None, operations: list[str] | None,
        stateful: bool, seed: int) -> bool:
    phases = "examples,coverage,fuzzing" + (",stateful" if stateful else "")
    cmd = [
        str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", str(SPEC), "--url", base,
        "--phases", phases, "--max-time", str(seconds),
        "--workers", "1", "--seed", str(seed), "--request-timeout", "30",
        "--suppress-health-check", "too_slow,filter_too_much",
        "--report", "junit", "--report-dir", str(LOCAL / "fuzz" / name),
        "--warnings", "off",
    ]
    if operations is None:
        for op in SESSION_ENDING:
            cmd += ["--exclude-operation-id", op]
    else:
        for op in operations:
            cmd += ["--include-operation-id", op]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    log(f"{name}: schemathesis for up to {seconds}s ({phases})")
    # Its working directory takes schemathesis' own cache (.schemathesis/), kept out of the repo.
    workdir = LOCAL / "fuzz"
    workdir.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(cmd, cwd=str(workdir), env={**os.environ, "NO_COLOR": "1"})
    log(f"{name}: {'no failures' if r.returncode == 0 else 'FAILURES (see above)'}")
    return r.returncode == 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=int, default=180, help="seconds for all runs together (default 180)")
    p.add_argument("--stateful", action="store_true", help="add the stateful phase (links between operations)")
    p.add_argument("--seed", type=int, default=14, help="schemathesis seed (default 14, for reproducible runs)")
    p.add_argument("--operation", action="append", metavar="OPERATION_ID",
                   help="fuzz only this operation (repeatable), to reproduce a failure quickly")
    a = p.parse_args()
    if not SCHEMATHESIS.exists():
        raise SystemExit(f"{SCHEMATHESIS} is missing: run `make install`")
    if not API_BIN.exists():
        raise SystemExit(f"{API_BIN} is missing: run `cargo build -p userhub-local-api`")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    admin_email = f"admin-{secrets.token_hex(4)}@example.com"
    api = start_api(port, admin_email)
    try:
        wait_healthy(base, api)
        admin = call(base, "POST", "/auth/login", {"email": admin_email, "password": PASSWORD})["access_token"]
        user = person(base, "fuzz-user")
        # Shares of the budget: the broad runs first, the three session-ending operations last.
        share = {"admin": 0.35, "user": 0.25, "anonymous": 0.25, "throwaway": 0.15}
        secs = {k: max(10, int(a.budget * v)) for k, v in share.items()}
        broad = None if a.operation is None else [op for op in a.operation if op not in SESSION_ENDING]
        ending = SESSION_ENDING if a.operation is None else [op for op in a.operation if op in SESSION_ENDING]
        ok = True
        if broad != []:
            for name, token in (("admin", admin), ("user", user), ("anonymous", None)):
                ok &= run(name, base, secs[name], token, broad, a.stateful, a.seed)
        per_op = max(5, secs["throwaway"] // len(SESSION_ENDING))
        for op in ending:
            ok &= run(f"throwaway-{op}", base, per_op, person(base, "throwaway"), [op], False, a.seed)
        return 0 if ok else 1
    finally:
        api.terminate()
        try:
            api.wait(timeout=10)
        except subprocess.TimeoutExpired:
            api.kill()


if __name__ == "__main__":
    sys.exit(main())

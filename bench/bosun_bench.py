"""What the benchmarks share: starting and stopping a Bosun, asking its control socket for status, and writing
deliveries straight into its inbox. Each bench adds this folder to sys.path and imports from here."""
import json
import os
import socket
import struct
import subprocess
import sys
import time


def control_status(path):
    """The supervisor's status reply, over the control socket (the IPC protocol of docs/IPC.md)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)

    def request(type_, payload, id_):
        body = json.dumps({"v": 1, "id": id_, "kind": "request", "type": type_, "payload": payload}).encode()
        sock.sendall(struct.pack(">I", len(body)) + body)
        header = sock.recv(4, socket.MSG_WAITALL)
        (length,) = struct.unpack(">I", header)
        data = b""
        while len(data) < length:
            data += sock.recv(length - len(data))
        return json.loads(data)

    request("hello", {"role": "cli", "pid": os.getpid(), "program": "bench", "version": "bench"}, 1)
    reply = request("status", {}, 2)["payload"]
    sock.close()
    return reply


def start(binary_dir, config, scratch, name):
    """Runs `bosun run -c config` (output in scratch/NAME.log) until all three children are ready; returns the
    process and the address ingress listens on."""
    log = open(os.path.join(scratch, name + ".log"), "w")
    process = subprocess.Popen([os.path.join(binary_dir, "bosun"), "run", "-c", config], stdout=log, stderr=log)
    control = os.path.join(scratch, "state/run/control.sock")
    for _ in range(600):
        try:
            status = control_status(control)
            if all(p["state"] == "ready" for p in status["processes"]):
                return process, status["supervisor"]["listen"]
        except OSError:
            pass
        time.sleep(0.05)
    process.kill()
    sys.exit("bosun did not become ready; see " + log.name)


def stop(binary_dir, config, process):
    subprocess.run([os.path.join(binary_dir, "bosun"), "stop", "-c", config], capture_output=True)
    process.wait(timeout=60)


def insert_deliveries(db, rows):
    """Writes deliveries as ingress stores them (a row in `deliveries`, its headers and body in `delivery_bodies`).
    rows: (source, project, event, delivery_id, body_sha256, headers_json, body_bytes, received_at_ms)."""
    for source, project, event, delivery_id, sha, headers, body, received in rows:
        cursor = db.execute("""INSERT INTO deliveries (source, project, event, delivery_id, body_sha256,
                               received_at_ms) VALUES (?, ?, ?, ?, ?, ?)""",
                            (source, project, event, delivery_id, sha, received))
        db.execute("INSERT INTO delivery_bodies (id, headers, body) VALUES (?, ?, ?)",
                   (cursor.lastrowid, headers, body))

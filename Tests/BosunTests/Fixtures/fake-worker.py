#!/usr/bin/env python3
"""A stand-in for bosun-worker that speaks the IPC protocol from docs/IPC.md: hello, ready, then three
transient breaker reports (or as many as FAKE_WORKER_TRANSIENTS says), then it answers requests until told to stop."""
import json
import os
import socket
import struct
import sys

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(os.environ["BOSUN_SUPERVISOR_SOCKET"])
next_id = 1


def send(kind, type_, payload, re=None):
    global next_id
    envelope = {"v": 1, "id": next_id, "kind": kind, "type": type_, "payload": payload}
    if re is not None:
        envelope["re"] = re
    next_id += 1
    body = json.dumps(envelope).encode()
    sock.sendall(struct.pack(">I", len(body)) + body)


def read_exactly(count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            sys.exit(0)  # the supervisor is gone
        data += chunk
    return data


def receive():
    (length,) = struct.unpack(">I", read_exactly(4))
    return json.loads(read_exactly(length))


send("request", "hello", {"role": "worker", "pid": os.getpid(), "program": "fake-worker", "version": "test"})
welcome = receive()
assert welcome["kind"] == "reply", welcome
send("event", "ready", {})
for _ in range(int(os.environ.get("FAKE_WORKER_TRANSIENTS", "3"))):
    send("event", "breaker_report", {"outcome": "transient", "reason": "429 from the fake", "retry_after_s": 5})
print("fake worker ready", flush=True)

paused = False
while True:
    message = receive()
    if message["kind"] != "request":
        print("event", message["type"], json.dumps(message["payload"]), flush=True)
        continue
    kind, request_id = message["type"], message["id"]
    if kind == "ping":
        send("reply", kind, {"pid": os.getpid()}, re=request_id)
    elif kind in ("pause", "resume"):
        paused = kind == "pause"
        print("paused" if paused else "resumed", flush=True)
        send("reply", kind, {"paused": paused}, re=request_id)
    elif kind == "reload":
        send("reply", kind, {"changes": []}, re=request_id)
    elif kind == "stop":
        send("reply", kind, {}, re=request_id)
        sys.exit(0)
    else:
        send("error", kind, {"code": "unknown_type", "message": "fake worker"}, re=request_id)

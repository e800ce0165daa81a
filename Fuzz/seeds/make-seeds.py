#!/usr/bin/env python3
"""Writes the seed corpora of the webhook-auth, normalizer, config and task-branch fuzz targets into Fuzz/corpus/
from what the repository already holds: the webhook fixtures (Tests/BosunTests/Fixtures/webhooks, which include
/work/shared/fixtures/webhooks), the YAML configs written in the tests, the demo and the benches, and hostile
titles. The IPC seeds come from capture-ipc-frames.py (real traffic). Run it again after the fixtures change;
libFuzzer's own finds are not kept here (scripts/fuzz.sh works on a copy)."""
import csv, glob, hashlib, hmac, json, os, re, shutil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "Tests/BosunTests/Fixtures/webhooks")
CORPUS = os.path.join(ROOT, "Fuzz/corpus")
SECRET = b"bench-secret"


def main():
    fixtures = read_fixtures()
    webhook_auth(fixtures)
    normalizer(fixtures)
    config()
    task_branch()


def read_fixtures():
    """(forge, event header, event type header, path) of every fixture, from the two index files."""
    rows = []
    with open(os.path.join(FIXTURES, "index.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            rows.append((row["forge"], row["event_header"], row["event_type_header"], row["path"]))
    with open(os.path.join(FIXTURES, "gitlab/index.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            rows.append((row["forge"], row["event_header"], "", row["path"]))
    return [(forge, event, kind, os.path.join(FIXTURES, path)) for forge, event, kind, path in rows]


def reset(name):
    directory = os.path.join(CORPUS, name)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    return directory


def write(directory, data):
    with open(os.path.join(directory, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def webhook_auth(fixtures):
    """Each forge's real signed requests (and a few variations): the target's 5 choice bytes, the secret, headers,
    a blank line, the body. Forge order as in FuzzWebhookAuth.swift: github, gitea, gitlab, plane."""
    out = reset("webhook-auth")
    forges = ["github", "gitea", "gitlab", "plane"]
    event_headers = {"github": "X-GitHub-Event", "gitea": "X-Gitea-Event", "gitlab": "X-Gitlab-Event",
                     "plane": "X-Plane-Event"}
    bodies = {forge: [] for forge in forges}
    for forge, event, _, path in fixtures:
        if len(bodies[forge]) < 3:
            with open(path, "rb") as f:
                bodies[forge].append((event, f.read()))
    for forge in forges:
        for event, body in bodies[forge] + [("issues", b'{"zen":"Keep it logically awesome."}'), ("issues", b"")]:
            mac = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
            signatures = {
                "github": [("X-Hub-Signature-256", "sha256=" + mac), ("X-Hub-Signature-256", "sha256=" + mac.upper())],
                "gitea": [("X-Gitea-Signature", mac), ("X-Forgejo-Signature", mac),
                          ("X-Hub-Signature-256", "sha256=" + mac)],
                "gitlab": [("X-Gitlab-Token", SECRET.decode())],
                "plane": [("X-Plane-Signature", mac)],
            }[forge]
            for variant, (name, value) in enumerate(signatures):
                headers = [("Content-Type", "application/json"), (event_headers[forge], event),
                           ("X-Delivery", "seed"), (name, value)]
                head = bytes([forges.index(forge), variant, variant * 7, 0, 17])
                lines = "".join(f"{n}: {v}\n" for n, v in headers).encode()
                write(out, head + SECRET + b"\n" + lines + b"\n" + body)


def normalizer(fixtures):
    """Every fixture under its own event name: source, event and Gitea event-type choices, a spare byte, the body.
    The choice lists are read from FuzzNormalizer.swift, so that a seed names the event it was recorded with."""
    with open(os.path.join(ROOT, "Fuzz/Sources/FuzzNormalizer/FuzzNormalizer.swift")) as f:
        source = f.read()
    block = re.search(r"let events: \[String: \[String\]\] = \[(.*?)\n\]", source, re.S).group(1)
    events = {key: re.findall(r'"([^"]*)"', values) for key, values in re.findall(r'"(\w+)": \[(.*?)\]', block, re.S)}
    sources = re.findall(r'"([^"]*)"', re.search(r"let sources = \[(.*?)\]", source).group(1))
    event_types = ["pull_request_comment", "issue_comment", "pull_request_review_approved"]
    out = reset("normalizer")
    for forge, event, kind, path in fixtures:
        if event not in events[forge]:
            print(f"normalizer: {path} has event {event}, which the target does not draw; skipped")
            continue
        with open(path, "rb") as f:
            body = f.read()
        kind_index = 1 + event_types.index(kind) if kind in event_types else 0
        write(out, bytes([sources.index(forge), events[forge].index(event), kind_index, 0]) + body)


def config():
    """Every bosun.yaml the repository writes: multi-line Swift literals (tests, the demo) and the benches' and chaos
    suite's Python strings, with interpolations replaced by plain values."""
    out = reset("config")
    texts = []
    for directory in ("Tests/BosunTests", "Sources/supervisor/Demo"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, directory)):
            for name in sorted(files):
                if not name.endswith(".swift"):
                    continue
                with open(os.path.join(dirpath, name)) as f:
                    swift = f.read()
                for match in re.finditer(r'"""\n(.*?)\n( *)"""', swift, re.S):
                    body, indent = match.group(1), len(match.group(2))
                    text = "\n".join(line[indent:] for line in body.split("\n")) + "\n"
                    if "state_dir" in text or "\nstates:" in text or "initial:" in text:
                        texts.append(re.sub(r"\\\((?:[^()]|\([^()]*\))*\)", "x", text))
    for path in sorted(glob.glob("bench/**/*.py", root_dir=ROOT, recursive=True)
                       + glob.glob("chaos/**/*.py", root_dir=ROOT, recursive=True)):
        with open(os.path.join(ROOT, path)) as f:
            python = f.read()
        for match in re.finditer(r'f?"""(state_dir:.*?)"""', python, re.S):
            texts.append(re.sub(r"\{[^{}]*\}", "x", match.group(1)))
    texts.append("state_dir: ./state\nlisten: 127.0.0.1:8787\n")
    for text in texts:
        write(out, text.encode())
    print(f"config: {len(texts)} seeds")


def task_branch():
    """Hostile issue numbers and titles: `number\\ntitle`."""
    out = reset("task-branch")
    titles = [
        "Fix: the login page (again)!", "../../../etc/passwd", "..", ".", "...", "-rf --force",
        "--upload-pack=touch /tmp/pwned", "a; rm -rf /", "$(touch /tmp/bosun-pwned)", "`touch /tmp/bosun-pwned`",
        "line1\nline2\r\nline3", "nul\0byte", "@{-1}", "@", "branch.lock", "x.lock/y.lock", "a..b", "refs/heads/main",
        "HEAD", "~^:?*[\\", "trailing.", "trailing/", "/leading", "\u202eevil\u202ctxt.exe", "zero\u200bwidth",
        "emoji 🚀🔥 rocket", "👨‍👩‍👧‍👦", "日本語のタイトル", "Привет мир", "عربى", "Ångström ǅ ǈ Ꞵ",
        "tab\tand\x7fdel\x1b[31mred", "", "   ", "!!!???", "----", "..-..-..", "a" * 300, "ab-" * 100, "é" * 100,
        "Ⅻ ½ ² ＦＵＬＬ", "İstanbul ıi", "a" + "\u0301" * 50, "\u212a\u212b Kelvin Ångström signs", "ﬁ ligature ß",
    ]
    numbers = ["7", "42", "PROJ-7", "../1", "-1", "1/2", "1.lock", "1..2", "@{1}", " 9 ", "٣", "$(id)", "１２", ""]
    for index, title in enumerate(titles):
        write(out, (numbers[index % len(numbers)] + "\n" + title).encode())
    write(out, "\xff\xfe invalid UTF-8 \xc3".encode("latin-1"))


if __name__ == "__main__":
    main()

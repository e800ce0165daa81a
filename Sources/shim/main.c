// bosun-shim: owns one agent process for the worker, so that the agent outlives a restart of the worker.
//
//   bosun-shim --run-dir DIR --log FILE --cwd DIR [--stdin FILE] [--timeout-ms N] [--grace-ms N] [--ready-fd N]
//              -- ARGV...
//
// The shim starts its own session, becomes a child subreaper, forks the agent into a session of its own (stdin from
// FILE or /dev/null, stdout and stderr appended to the log), writes DIR/agent.pid atomically before the agent may run,
// enforces the timeout (SIGTERM to the agent's group, SIGKILL after the grace), forwards SIGTERM/SIGINT it receives
// the same way, writes DIR/exit.status atomically when the agent ends, then kills what is left of the agent's
// session and every descendant and reaps them all before it exits. The environment is passed to the agent as given.
// docs/RUNS.md describes the files and their format.

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_USAGE = 2, EXIT_NO_STATUS = 111 };

/// What the command line asks for.
typedef struct {
    const char *run_dir;
    const char *log_path;
    const char *cwd;
    const char *stdin_path;
    long long timeout_ms;  // 0: no timeout
    long long grace_ms;
    int ready_fd;  // -1: none
    char **argv;
} options;

/// What the agent's child side reports through the exec pipe when a step before exec fails.
typedef struct {
    int stage;
    int error_number;
} exec_failure;

static const char *const stage_names[] = {"exec", "setsid", "dup2", "chdir", "shim gone"};
enum { STAGE_EXEC, STAGE_SETSID, STAGE_DUP2, STAGE_CHDIR, STAGE_SHIM_GONE };

static long long wall_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static long long monotonic_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/// The fields of /proc/PID/stat that the shim needs; returns 0 on success.
typedef struct {
    char state;
    pid_t parent;
    pid_t group;
    pid_t session;
    unsigned long long start_ticks;
} proc_stat;

/// Reads up to `size - 1` bytes of the file at `path` into `buffer` and NUL-terminates them. Returns how many (0 if
/// the read failed), or -1 if the file cannot be opened.
static ssize_t read_text_file(const char *path, char *buffer, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t got;
    do {
        got = read(fd, buffer, size - 1);
    } while (got < 0 && errno == EINTR);
    close(fd);
    if (got < 0) got = 0;
    buffer[got] = 0;
    return got;
}

static int read_proc_stat(pid_t pid, proc_stat *out) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char text[1024];
    if (read_text_file(path, text, sizeof text) <= 0) return -1;
    // The command sits in parentheses and may contain anything, so count fields from the last ')'.
    char *close_paren = strrchr(text, ')');
    if (close_paren == NULL) return -1;
    char *cursor = close_paren + 1;
    // Field 3 is the state; field 22 the start time.
    char *fields[20];
    int count = 0;
    char *save = NULL;
    for (char *token = strtok_r(cursor, " ", &save); token != NULL && count < 20; token = strtok_r(NULL, " ", &save)) {
        fields[count++] = token;
    }
    if (count < 20) return -1;
    out->state = fields[0][0];
    out->parent = (pid_t)atoi(fields[1]);
    out->group = (pid_t)atoi(fields[2]);
    out->session = (pid_t)atoi(fields[3]);
    out->start_ticks = strtoull(fields[19], NULL, 10);
    return 0;
}

/// Writes `text` to DIR/NAME through DIR/NAME.tmp and a rename, so a reader sees the whole file or none. `durable`:
/// fsync the file before the rename and the directory after, so the file also survives a power loss.
static int write_atomically(const char *dir, const char *name, const char *text, int durable) {
    char final_path[PATH_MAX], temporary[PATH_MAX];
    if (snprintf(final_path, sizeof final_path, "%s/%s", dir, name) >= (int)sizeof final_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    snprintf(temporary, sizeof temporary, "%s/%s.tmp", dir, name);
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    size_t length = strlen(text), done = 0;
    while (done < length) {
        ssize_t wrote = write(fd, text + done, length - done);
        if (wrote < 0) {
            if (errno == EINTR) continue;
            int saved = errno;
            close(fd);
            unlink(temporary);
            errno = saved;
            return -1;
        }
        done += (size_t)wrote;
    }
    if ((durable && fsync(fd) < 0) || close(fd) < 0) {
        int saved = errno;
        unlink(temporary);
        errno = saved;
        return -1;
    }
    if (rename(temporary, final_path) < 0) return -1;
    if (!durable) return 0;
    int directory = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory >= 0) {
        fsync(directory);
        close(directory);
    }
    return 0;
}

/// Copies `text` into `out` as one line: control characters become spaces.
static void one_line(char *out, size_t size, const char *text) {
    size_t i = 0;
    for (; text[i] != 0 && i + 1 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        out[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[i] = 0;
}

static void close_from(int first) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) return;
#endif
    struct rlimit limit;
    long max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) max = (long)limit.rlim_cur;
    for (long fd = first; fd < max; fd++) close((int)fd);
}

static int parse_number(const char *text, long long *out) {
    if (text == NULL || *text == 0) return -1;
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || *end != 0 || value < 0) return -1;
    *out = value;
    return 0;
}

static void usage(const char *problem) {
    fprintf(stderr,
        "bosun-shim: %s\nusage: bosun-shim --run-dir DIR --log FILE --cwd DIR [--stdin FILE] [--timeout-ms N] "
        "[--grace-ms N] [--ready-fd N] -- ARGV...\n",
        problem);
    exit(EXIT_USAGE);
}

static options parse_options(int argc, char **argv) {
    options o = {NULL, NULL, NULL, NULL, 0, 10000, -1, NULL};
    int i = 1;
    for (; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--") == 0) {
            i++;
            break;
        }
        if (i + 1 >= argc) usage("an option is missing its value");
        const char *value = argv[++i];
        long long number = 0;
        if (strcmp(flag, "--run-dir") == 0) {
            o.run_dir = value;
        } else if (strcmp(flag, "--log") == 0) {
            o.log_path = value;
        } else if (strcmp(flag, "--cwd") == 0) {
            o.cwd = value;
        } else if (strcmp(flag, "--stdin") == 0) {
            o.stdin_path = value;
        } else if (strcmp(flag, "--timeout-ms") == 0) {
            if (parse_number(value, &number) < 0) usage("--timeout-ms needs a non-negative number");
            o.timeout_ms = number;
        } else if (strcmp(flag, "--grace-ms") == 0) {
            if (parse_number(value, &number) < 0) usage("--grace-ms needs a non-negative number");
            o.grace_ms = number;
        } else if (strcmp(flag, "--ready-fd") == 0) {
            if (parse_number(value, &number) < 0 || number < 3 || number > INT_MAX) usage("--ready-fd needs a number >= 3");
            o.ready_fd = (int)number;
        } else {
            usage("unknown option");
        }
    }
    if (o.run_dir == NULL || o.log_path == NULL || o.cwd == NULL) usage("--run-dir, --log and --cwd are required");
    if (i >= argc) usage("no agent command after --");
    o.argv = argv + i;
    return o;
}

/// Everything the shim knows about the run, written into exit.status at the end.
typedef struct {
    const options *options;
    pid_t shim_pid;
    unsigned long long shim_start;
    pid_t agent;
    unsigned long long agent_start;
    long long started_ms;
    int timed_out;
    int cancelled;
} run_state;

static int write_status(const run_state *run, const char *result, int exit_code, int signal_number,
                        const char *reason) {
    char line_reason[512] = "";
    if (reason != NULL) one_line(line_reason, sizeof line_reason, reason);
    char text[2048];
    int length = snprintf(text, sizeof text,
        "version=1\nresult=%s\nexit_code=%d\nsignal=%d\ntimed_out=%d\ncancelled=%d\n"
        "agent_pid=%d\nagent_start_ticks=%llu\nstarted_ms=%lld\nended_ms=%lld\n%s%s%s",
        result, exit_code, signal_number, run->timed_out, run->cancelled, (int)run->agent, run->agent_start,
        run->started_ms, wall_ms(), reason != NULL ? "reason=" : "", line_reason, reason != NULL ? "\n" : "");
    if (length < 0 || length >= (int)sizeof text) return -1;
    return write_atomically(run->options->run_dir, "exit.status", text, 1);
}

/// Runs in the forked child: waits for the go byte, sets up descriptors and the directory, and execs.
static void agent_child(const options *o, int go_read, int report_write, int stdin_fd, int log_fd) {
    exec_failure failure = {STAGE_EXEC, 0};
    // The signal mask the shim blocks and SIGPIPE's disposition must not reach the agent.
    signal(SIGPIPE, SIG_DFL);
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);

    // Its own session (and so its own process group) from the first instant, so that a group kill reaches it.
    if (setsid() < 0) {
        failure.stage = STAGE_SETSID;
        goto fail;
    }
    // Wait until agent.pid is on disk. EOF without the byte means the shim died first: never run untracked.
    char go = 0;
    ssize_t got;
    do {
        got = read(go_read, &go, 1);
    } while (got < 0 && errno == EINTR);
    if (got != 1) {
        errno = ESRCH;
        failure.stage = STAGE_SHIM_GONE;
        goto fail;
    }
    if (dup2(stdin_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) {
        failure.stage = STAGE_DUP2;
        goto fail;
    }
    // Every other descriptor of the shim is close-on-exec.
    if (chdir(o->cwd) < 0) {
        failure.stage = STAGE_CHDIR;
        goto fail;
    }
    execvp(o->argv[0], o->argv);
    failure.stage = STAGE_EXEC;
fail:
    failure.error_number = errno;
    ssize_t ignored = write(report_write, &failure, sizeof failure);
    (void)ignored;
    _exit(127);
}

/// The most children read from one process's children files in one pass; more are found in the next pass.
#define MAX_CHILDREN 256
/// The deepest chain of descendants followed in one pass; deeper ones become the shim's children (it is their
/// subreaper) once their ancestors are killed, and are found in a later pass.
#define MAX_DEPTH 64

/// Reads the children of every thread of `pid` (/proc/PID/task/TID/children) into `out`. Returns their number, or
/// -1 if the process has no task directory (it is gone, or the kernel has no children files).
static int read_children(pid_t pid, pid_t *out, int capacity) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *tasks = opendir(path);
    if (tasks == NULL) return -1;
    int count = 0;
    int readable = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL && count < capacity) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        char children_path[96];
        snprintf(children_path, sizeof children_path, "/proc/%d/task/%s/children", (int)pid, entry->d_name);
        char text[4096];
        ssize_t got = read_text_file(children_path, text, sizeof text);
        if (got < 0) continue;
        readable = 1;
        if (got == 0) continue;
        char *save = NULL;
        for (char *token = strtok_r(text, " \n", &save); token != NULL && count < capacity;
             token = strtok_r(NULL, " \n", &save)) {
            long child = strtol(token, NULL, 10);
            if (child > 0) out[count++] = (pid_t)child;
        }
    }
    closedir(tasks);
    return readable ? count : -1;
}

/// Sends `signal_number` to every descendant of `pid`, the deepest first: each process's children are read before it
/// is signalled, so that a killed parent's children are still found where they were.
static void signal_descendants(pid_t pid, int signal_number, int depth) {
    pid_t children[MAX_CHILDREN];
    int count = read_children(pid, children, MAX_CHILDREN);
    for (int i = 0; i < count; i++) {
        if (depth < MAX_DEPTH) signal_descendants(children[i], signal_number, depth + 1);
        kill(children[i], signal_number);
    }
}

/// Sends `signal_number` to every process of the agent's group and session, and to every descendant of the shim.
/// Every descendant stays in the shim's tree (it is their subreaper), so the tree holds the agent's session too, and
/// walking it costs a few files per live process where scanning all of /proc cost ~2 ms per run. A kernel without
/// children files (CONFIG_PROC_CHILDREN) gets the scan.
static void signal_everything(const run_state *run, int signal_number) {
    if (run->agent > 0) kill(-run->agent, signal_number);
    pid_t children[MAX_CHILDREN];
    int count = read_children(run->shim_pid, children, MAX_CHILDREN);
    if (count >= 0) {
        for (int i = 0; i < count; i++) {
            signal_descendants(children[i], signal_number, 1);
            kill(children[i], signal_number);
        }
        return;
    }
    DIR *proc = opendir("/proc");
    if (proc == NULL) return;
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        char *end = NULL;
        long pid = strtol(entry->d_name, &end, 10);
        if (*end != 0 || pid <= 0 || pid == run->shim_pid) continue;
        proc_stat stat;
        if (read_proc_stat((pid_t)pid, &stat) < 0) continue;
        int in_session = run->agent > 0 && (stat.session == run->agent || stat.group == run->agent);
        if (in_session || stat.parent == run->shim_pid) kill((pid_t)pid, signal_number);
    }
    closedir(proc);
}

/// Kills every remaining descendant and reaps every child until none is left. Killed processes cannot fork, and an
/// orphan of a killed process is re-parented to the shim (the subreaper) before its parent's exit is reported, so
/// each pass after a reap sees it. A pass that reaps nothing waits for the next SIGCHLD (on `signals`) for at most
/// 50 ms before it looks again, so that a child missed by a pass cannot keep the shim waiting for ever.
static void kill_and_reap_all(const run_state *run, int signals) {
    while (1) {
        signal_everything(run, SIGKILL);
        int reaped_any = 0;
        while (1) {
            pid_t reaped = waitpid(-1, NULL, WNOHANG);
            if (reaped > 0) {
                reaped_any = 1;
                continue;
            }
            if (reaped < 0 && errno == EINTR) continue;
            if (reaped < 0) return;  // ECHILD: nothing is left
            break;
        }
        if (reaped_any) continue;
        if (signals < 0) {
            usleep(5000);
            continue;
        }
        struct pollfd ready = {signals, POLLIN, 0};
        if (poll(&ready, 1, 50) > 0) {
            struct signalfd_siginfo info;
            ssize_t ignored = read(signals, &info, sizeof info);
            (void)ignored;
        }
    }
}

int main(int argc, char **argv) {
    options o = parse_options(argc, argv);

    // Leave the worker's session and process group: the supervisor kills the worker's group when the worker exits.
    if (getsid(0) != getpid()) setsid();
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    // Keep nothing of the worker's but 0, 1, 2 and the readiness descriptor.
    if (o.ready_fd >= 0 && fcntl(o.ready_fd, F_SETFD, FD_CLOEXEC) < 0) o.ready_fd = -1;
    if (o.ready_fd >= 0) {
        for (int fd = 3; fd < o.ready_fd; fd++) close(fd);
        close_from(o.ready_fd + 1);
    } else {
        close_from(3);
    }
    signal(SIGPIPE, SIG_IGN);

    run_state run = {&o, getpid(), 0, 0, 0, wall_ms(), 0, 0};
    proc_stat self;
    if (read_proc_stat(run.shim_pid, &self) == 0) run.shim_start = self.start_ticks;

    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGHUP);
    sigprocmask(SIG_BLOCK, &handled, NULL);
    int signals = signalfd(-1, &handled, SFD_CLOEXEC);
    char reason[PATH_MAX + 128];
    if (signals < 0) {
        snprintf(reason, sizeof reason, "signalfd: %s", strerror(errno));
        return write_status(&run, "setup_failed", 127, 0, reason) == 0 ? 0 : EXIT_NO_STATUS;
    }

    // Open the agent's stdin and log here, so that a bad path is the shim's clear setup error.
    const char *stdin_path = o.stdin_path != NULL ? o.stdin_path : "/dev/null";
    int stdin_fd = open(stdin_path, O_RDONLY | O_CLOEXEC);
    if (stdin_fd < 0) {
        snprintf(reason, sizeof reason, "cannot open stdin %s: %s", stdin_path, strerror(errno));
        return write_status(&run, "setup_failed", 127, 0, reason) == 0 ? 0 : EXIT_NO_STATUS;
    }
    int log_fd = open(o.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        snprintf(reason, sizeof reason, "cannot open log %s: %s", o.log_path, strerror(errno));
        return write_status(&run, "setup_failed", 127, 0, reason) == 0 ? 0 : EXIT_NO_STATUS;
    }
    int go[2], report[2];
    if (pipe2(go, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) {
        snprintf(reason, sizeof reason, "pipe: %s", strerror(errno));
        return write_status(&run, "setup_failed", 127, 0, reason) == 0 ? 0 : EXIT_NO_STATUS;
    }

    run.started_ms = wall_ms();
    long long started_monotonic = monotonic_ms();
    pid_t agent = fork();
    if (agent == 0) {
        close(go[1]);
        close(report[0]);
        agent_child(&o, go[0], report[1], stdin_fd, log_fd);
    }
    if (agent < 0) {
        snprintf(reason, sizeof reason, "fork: %s", strerror(errno));
        return write_status(&run, "setup_failed", 127, 0, reason) == 0 ? 0 : EXIT_NO_STATUS;
    }
    close(go[0]);
    close(report[1]);
    close(stdin_fd);
    close(log_fd);
    run.agent = agent;
    proc_stat agent_stat;
    if (read_proc_stat(agent, &agent_stat) == 0) run.agent_start = agent_stat.start_ticks;

    char pid_text[512];
    snprintf(pid_text, sizeof pid_text,
        "version=1\nshim_pid=%d\nshim_start_ticks=%llu\nagent_pid=%d\nagent_start_ticks=%llu\nstarted_ms=%lld\n",
        (int)run.shim_pid, run.shim_start, (int)agent, run.agent_start, run.started_ms);
    // Not fsynced: the agent waits for this file, and it only has to outlive a crash of the worker (the page cache
    // does); after a power loss the pids in it mean nothing, and the run is judged from the store and exit.status.
    if (write_atomically(o.run_dir, "agent.pid", pid_text, 0) < 0) {
        // Closing the go pipe makes the child exit without running the agent.
        snprintf(reason, sizeof reason, "cannot write %s/agent.pid: %s", o.run_dir, strerror(errno));
        close(go[1]);
        int written = write_status(&run, "setup_failed", 127, 0, reason);
        kill_and_reap_all(&run, signals);
        return written == 0 ? 0 : EXIT_NO_STATUS;
    }
    char go_byte = 1;
    ssize_t ignored = write(go[1], &go_byte, 1);
    (void)ignored;
    close(go[1]);
    if (o.ready_fd >= 0) {
        ignored = write(o.ready_fd, "ready\n", 6);
        close(o.ready_fd);
        o.ready_fd = -1;
    }

    // EOF on the report pipe means exec succeeded (the pipe is close-on-exec); a record means a step failed.
    exec_failure failure;
    ssize_t got;
    do {
        got = read(report[0], &failure, sizeof failure);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    int exec_failed = got == (ssize_t)sizeof failure;

    // Wait for the agent: signals arrive on the signalfd; the only timer is the poll timeout.
    long long terminate_at = o.timeout_ms > 0 ? started_monotonic + o.timeout_ms : -1;
    long long kill_at = -1;  // -1: not terminating; >= 0: SIGKILL due then; -2: SIGKILL sent
    int agent_done = 0;
    siginfo_t agent_end;
    memset(&agent_end, 0, sizeof agent_end);
    while (!agent_done) {
        long long now = monotonic_ms();
        if (terminate_at >= 0 && now >= terminate_at) {
            run.timed_out = 1;
            kill(-agent, SIGTERM);
            kill_at = now + o.grace_ms;
            terminate_at = -1;
        }
        if (kill_at >= 0 && now >= kill_at) {
            kill(-agent, SIGKILL);
            kill_at = -2;  // sent; nothing more to time
        }
        // Peek at exited children without reaping the agent, so that its pid stays ours until the cleanup is done.
        while (1) {
            siginfo_t info;
            memset(&info, 0, sizeof info);
            if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 || info.si_pid == 0) break;
            if (info.si_pid == agent) {
                agent_done = 1;
                agent_end = info;
                break;
            }
            waitpid(info.si_pid, NULL, WNOHANG);  // an orphan re-parented to us
        }
        if (agent_done) break;
        long long next = kill_at >= 0 ? kill_at : terminate_at;
        int wait_ms = -1;
        if (next >= 0) {
            long long delta = next - now;
            wait_ms = delta > INT_MAX ? INT_MAX : (int)(delta < 0 ? 0 : delta);
        }
        struct pollfd ready = {signals, POLLIN, 0};
        int polled = poll(&ready, 1, wait_ms);
        if (polled < 0 && errno != EINTR) {
            // Cannot wait for signals any more: end the agent rather than leave it unsupervised.
            kill(-agent, SIGKILL);
            if (waitid(P_PID, (id_t)agent, &agent_end, WEXITED | WNOWAIT) == 0) agent_done = 1;
            break;
        }
        if (polled <= 0) continue;
        struct signalfd_siginfo info;
        if (read(signals, &info, sizeof info) != (ssize_t)sizeof info) continue;
        int number = (int)info.ssi_signo;
        if (number == SIGTERM || number == SIGINT) {
            // The worker's drain or cancel: the same path as a timeout, once.
            if (!run.cancelled && kill_at == -1) {
                kill(-agent, SIGTERM);
                kill_at = monotonic_ms() + o.grace_ms;
                terminate_at = -1;
            }
            run.cancelled = 1;
        }
    }

    // The status is on disk before any cleanup, so that no later failure can lose it.
    int written;
    if (exec_failed) {
        int stage = failure.stage >= 0 && failure.stage < (int)(sizeof stage_names / sizeof stage_names[0])
            ? failure.stage : STAGE_EXEC;
        snprintf(reason, sizeof reason, "%s %s: %s", stage_names[stage], stage == STAGE_CHDIR ? o.cwd : o.argv[0],
                 strerror(failure.error_number));
        written = write_status(&run, "exec_failed", 127, 0, reason);
    } else if (!agent_done) {
        written = write_status(&run, "lost", 127, 0, "the shim could not wait for the agent");
    } else if (agent_end.si_code == CLD_EXITED) {
        written = write_status(&run, "exited", agent_end.si_status & 0xff, 0, NULL);
    } else {
        written = write_status(&run, "signaled", 128 + agent_end.si_status, agent_end.si_status, NULL);
    }
    kill_and_reap_all(&run, signals);
    return written == 0 ? 0 : EXIT_NO_STATUS;
}

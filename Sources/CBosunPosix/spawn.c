#define _GNU_SOURCE
#include "CBosunPosix.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/// What the child writes to the report pipe when a setup step or exec fails.
typedef struct {
    int error_number;
    int stage;
} child_failure;

static const char *const stage_names[] = {
    "exec", "setsid", "setpgid", "prctl(PR_SET_PDEATHSIG)", "parent exited", "dup", "dup2", "chdir", "setpriority",
};
enum {
    STAGE_EXEC, STAGE_SETSID, STAGE_SETPGID, STAGE_PDEATHSIG, STAGE_PARENT_GONE, STAGE_DUP, STAGE_DUP2, STAGE_CHDIR,
    STAGE_NICE
};

static void close_from(int first) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) {
        return;
    }
#endif
    struct rlimit limit;
    long max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        max = (long)limit.rlim_cur;
    }
    for (long fd = first; fd < max; fd++) {
        close((int)fd);
    }
}

/// Runs in the child between fork and exec: async-signal-safe calls only.
static void child_setup_and_exec(const bosun_spawn_request *request, pid_t parent, int report) {
    child_failure failure = {0, STAGE_EXEC};

    sigset_t empty;
    sigemptyset(&empty);
    struct sigaction defaults;
    memset(&defaults, 0, sizeof defaults);
    defaults.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            sigaction(sig, &defaults, NULL);  // fails harmlessly for the signals glibc reserves
        }
    }
    sigprocmask(SIG_SETMASK, &empty, NULL);

    if (request->new_session) {
        if (setsid() < 0) { failure.stage = STAGE_SETSID; goto fail; }
    } else if (request->new_process_group) {
        if (setpgid(0, 0) < 0) { failure.stage = STAGE_SETPGID; goto fail; }
    }
    if (request->parent_death_signal > 0) {
        if (prctl(PR_SET_PDEATHSIG, request->parent_death_signal, 0, 0, 0) < 0) {
            failure.stage = STAGE_PDEATHSIG; goto fail;
        }
        // The parent may have died before prctl took effect.
        if (getppid() != parent) { errno = ESRCH; failure.stage = STAGE_PARENT_GONE; goto fail; }
    }

    // On Linux niceness is per thread and a fork copies the forking thread's, which libdispatch changes to match a
    // thread's QoS: set it here, before exec, so that the new program and every thread it starts get the one asked.
    if (getpriority(PRIO_PROCESS, 0) != request->niceness) {
        if (setpriority(PRIO_PROCESS, 0, request->niceness) < 0) { failure.stage = STAGE_NICE; goto fail; }
    }

    // Move every source above every target first, so that installing one mapping cannot clobber another's source.
    int highest = report;
    for (int i = 0; i < request->fd_count; i++) {
        if (request->fds[i].source > highest) highest = request->fds[i].source;
        if (request->fds[i].target > highest) highest = request->fds[i].target;
    }
    int moved[BOSUN_MAX_FD_MAPPINGS];
    if (request->fd_count > BOSUN_MAX_FD_MAPPINGS) { errno = EINVAL; failure.stage = STAGE_DUP; goto fail; }
    for (int i = 0; i < request->fd_count; i++) {
        moved[i] = fcntl(request->fds[i].source, F_DUPFD_CLOEXEC, highest + 1);
        if (moved[i] < 0) { failure.stage = STAGE_DUP; goto fail; }
        highest = moved[i];
    }
    // The report pipe also moves above everything, so that close_from can keep it until exec closes it.
    int moved_report = fcntl(report, F_DUPFD_CLOEXEC, highest + 1);
    if (moved_report < 0) { failure.stage = STAGE_DUP; goto fail; }
    report = moved_report;
    int max_target = -1;
    for (int i = 0; i < request->fd_count; i++) {
        if (dup2(moved[i], request->fds[i].target) < 0) { failure.stage = STAGE_DUP2; goto fail; }
        if (request->fds[i].target > max_target) max_target = request->fds[i].target;
    }
    // Close everything that is not a target, except the report pipe (close-on-exec).
    for (int fd = 0; fd <= max_target; fd++) {
        int wanted = 0;
        for (int i = 0; i < request->fd_count; i++) {
            if (request->fds[i].target == fd) { wanted = 1; break; }
        }
        if (!wanted) close(fd);
    }
    for (int fd = max_target + 1; fd < report; fd++) {
        close(fd);
    }
    close_from(report + 1);

    if (request->working_directory != NULL && chdir(request->working_directory) < 0) {
        failure.stage = STAGE_CHDIR; goto fail;
    }
    execve(request->path, request->argv, request->envp);
    failure.stage = STAGE_EXEC;

fail:
    failure.error_number = errno;
    ssize_t ignored = write(report, &failure, sizeof failure);
    (void)ignored;
    _exit(127);
}

int bosun_spawn(const bosun_spawn_request *request, pid_t *pid, int *error_number, const char **stage) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) {
        *error_number = errno;
        *stage = "pipe";
        return -1;
    }
    pid_t parent = getpid();
    // Block every signal across the fork: until the child has reset the dispositions, a signal sent to it would run
    // the parent's handlers (the supervisor's self-pipe) in the child. The child unblocks after resetting them.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t child = fork();
    if (child == 0) {
        close(report[0]);
        child_setup_and_exec(request, parent, report[1]);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (child < 0) {
        *error_number = fork_errno;
        *stage = "fork";
        close(report[0]);
        close(report[1]);
        return -1;
    }
    close(report[1]);

    child_failure failure;
    ssize_t got;
    do {
        got = read(report[0], &failure, sizeof failure);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof failure) {
        // The child has exited with 127; the caller's reaper collects it.
        *error_number = failure.error_number;
        *stage = (failure.stage >= 0 && failure.stage < (int)(sizeof stage_names / sizeof stage_names[0]))
            ? stage_names[failure.stage] : "setup";
        *pid = child;
        return -1;
    }
    *pid = child;
    return 0;
}

int bosun_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int bosun_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

static int signal_pipe_write_end = -1;

static void write_signal_to_pipe(int signal_number) {
    int saved = errno;
    unsigned char byte = (unsigned char)signal_number;
    ssize_t ignored = write(signal_pipe_write_end, &byte, 1);
    (void)ignored;
    errno = saved;
}

int bosun_install_signal_pipe(const int *signals, int count) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        return -1;
    }
    int flags = fcntl(fds[1], F_GETFL);
    fcntl(fds[1], F_SETFL, flags | O_NONBLOCK);
    signal_pipe_write_end = fds[1];

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = write_signal_to_pipe;
    action.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&action.sa_mask);
    for (int i = 0; i < count; i++) {
        if (sigaction(signals[i], &action, NULL) < 0) {
            return -1;
        }
    }
    return fds[0];
}

int bosun_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, name, 0, 0, 0);
}

int bosun_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    // PIDFD_NONBLOCK is not needed: the descriptor is only polled. pidfds are always close-on-exec.
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int bosun_pidfd_reap(int pidfd, int *status) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int result;
    do {
        result = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG);
    } while (result < 0 && errno == EINTR);
    if (result < 0) return -1;
    if (info.si_pid == 0) return 0;
    if (status != NULL) {
        *status = info.si_code == CLD_EXITED ? (info.si_status & 0xff) << 8
            : (info.si_status & 0x7f) | (info.si_code == CLD_DUMPED ? 0x80 : 0);
    }
    return 1;
}

int bosun_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int bosun_epoll_add(int epoll_fd, int fd, unsigned long long token) {
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    event.events = EPOLLIN;
    event.data.u64 = token;
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
}

int bosun_epoll_remove(int epoll_fd, int fd) {
    struct epoll_event event;
    memset(&event, 0, sizeof event);
    return epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, &event);
}

int bosun_epoll_wait(int epoll_fd, unsigned long long *tokens, int capacity, int timeout_ms) {
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int count = epoll_wait(epoll_fd, events, capacity, timeout_ms);
    for (int i = 0; i < count; i++) {
        tokens[i] = events[i].data.u64;
    }
    return count;
}

int bosun_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

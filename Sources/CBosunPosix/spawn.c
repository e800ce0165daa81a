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
#include <sched.h>
#include <sys/mman.h>
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

/// What the child needs, and where it reports a failed step: the child shares the parent's memory (CLONE_VM), so it
/// writes `failure` in place, and the parent reads it once the child has exec'd or exited (CLONE_VFORK).
typedef struct {
    const bosun_spawn_request *request;
    pid_t parent;
    volatile child_failure failure;
    volatile int failed;
} child_arguments;

/// Runs in the child between clone and exec, on its own stack but in the parent's memory: async-signal-safe calls
/// only, no allocation, and no writes but to its own stack and to `arguments->failure`.
static int child_setup_and_exec(void *opaque) {
    child_arguments *arguments = opaque;
    const bosun_spawn_request *request = arguments->request;
    int stage = STAGE_EXEC;

    // Signal dispositions are not shared with the parent (no CLONE_SIGHAND): reset them before unblocking, so that
    // no handler of the parent's ever runs here, where it would write to the parent's memory.
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
        if (setsid() < 0) { stage = STAGE_SETSID; goto fail; }
    } else if (request->new_process_group) {
        if (setpgid(0, 0) < 0) { stage = STAGE_SETPGID; goto fail; }
    }
    if (request->parent_death_signal > 0) {
        if (prctl(PR_SET_PDEATHSIG, request->parent_death_signal, 0, 0, 0) < 0) {
            stage = STAGE_PDEATHSIG; goto fail;
        }
        // The parent may have died before prctl took effect.
        if (getppid() != arguments->parent) { errno = ESRCH; stage = STAGE_PARENT_GONE; goto fail; }
    }

    // On Linux niceness is per thread and the child starts with the spawning thread's, which libdispatch changes to
    // match a thread's QoS: set it here, before exec, so that the new program and every thread it starts get the one
    // asked.
    if (getpriority(PRIO_PROCESS, 0) != request->niceness) {
        if (setpriority(PRIO_PROCESS, 0, request->niceness) < 0) { stage = STAGE_NICE; goto fail; }
    }

    // Move every source above every target first, so that installing one mapping cannot clobber another's source.
    int highest = 2;
    for (int i = 0; i < request->fd_count; i++) {
        if (request->fds[i].source > highest) highest = request->fds[i].source;
        if (request->fds[i].target > highest) highest = request->fds[i].target;
    }
    int moved[BOSUN_MAX_FD_MAPPINGS];
    if (request->fd_count > BOSUN_MAX_FD_MAPPINGS) { errno = EINVAL; stage = STAGE_DUP; goto fail; }
    for (int i = 0; i < request->fd_count; i++) {
        moved[i] = fcntl(request->fds[i].source, F_DUPFD_CLOEXEC, highest + 1);
        if (moved[i] < 0) { stage = STAGE_DUP; goto fail; }
        highest = moved[i];
    }
    int max_target = -1;
    for (int i = 0; i < request->fd_count; i++) {
        if (dup2(moved[i], request->fds[i].target) < 0) { stage = STAGE_DUP2; goto fail; }
        if (request->fds[i].target > max_target) max_target = request->fds[i].target;
    }
    // Close everything that is not a target (the descriptor table is the child's own: no CLONE_FILES).
    for (int fd = 0; fd <= max_target; fd++) {
        int wanted = 0;
        for (int i = 0; i < request->fd_count; i++) {
            if (request->fds[i].target == fd) { wanted = 1; break; }
        }
        if (!wanted) close(fd);
    }
    close_from(max_target + 1);

    if (request->working_directory != NULL && chdir(request->working_directory) < 0) {
        stage = STAGE_CHDIR; goto fail;
    }
    execve(request->path, request->argv, request->envp);
    stage = STAGE_EXEC;

fail:
    arguments->failure.error_number = errno;
    arguments->failure.stage = stage;
    arguments->failed = 1;
    _exit(127);
}

/// The child's stack: its setup needs a few KiB; execve's needs none of it.
#define CHILD_STACK_SIZE (64 * 1024)

int bosun_spawn(const bosun_spawn_request *request, pid_t *pid, int *error_number, const char **stage) {
    // clone(CLONE_VM | CLONE_VFORK), as glibc's posix_spawn does, rather than fork: the parent's page tables are not
    // copied (perf, trivial jobs: the worker's forks of the shim and of git cost it ~1.9 ms of CPU per job, and the
    // children ~1.4 ms more in page faults and in tearing the copy down at exec), and the spawning thread resumes
    // once the child has exec'd or exited, which is when `failure` says what happened. errno in the child is the
    // spawning thread's, which waits.
    void *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        *error_number = errno;
        *stage = "mmap";
        return -1;
    }
    child_arguments arguments;
    memset(&arguments, 0, sizeof arguments);
    arguments.request = request;
    arguments.parent = getpid();
    // Block every signal across the clone: until the child has reset the dispositions, a signal sent to it would run
    // the parent's handlers (the supervisor's self-pipe) in the child. The child unblocks after resetting them.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t child = clone(child_setup_and_exec, (char *)stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD,
                        &arguments);
    int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    munmap(stack, CHILD_STACK_SIZE);
    if (child < 0) {
        *error_number = clone_errno;
        *stage = "fork";
        return -1;
    }
    *pid = child;
    if (arguments.failed) {
        // The child has exited with 127; the caller's reaper collects it.
        int failed_stage = arguments.failure.stage;
        *error_number = arguments.failure.error_number;
        *stage = (failed_stage >= 0 && failed_stage < (int)(sizeof stage_names / sizeof stage_names[0]))
            ? stage_names[failed_stage] : "setup";
        return -1;
    }
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

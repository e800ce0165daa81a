#ifndef CBOSUN_POSIX_H
#define CBOSUN_POSIX_H

#include <sys/types.h>
#include <sys/wait.h>

/// The most descriptors one spawn may install.
#define BOSUN_MAX_FD_MAPPINGS 16

/// One descriptor the child should see: `source` in the parent becomes `target` in the child.
typedef struct {
    int source;
    int target;
} bosun_fd_mapping;

/// What bosun_spawn needs. Every pointer is borrowed for the duration of the call.
typedef struct {
    const char *path;               ///< executable to exec (absolute or relative to cwd)
    char *const *argv;              ///< NULL-terminated
    char *const *envp;              ///< NULL-terminated
    const bosun_fd_mapping *fds;    ///< descriptors to install; everything else is closed in the child
    int fd_count;
    const char *working_directory;  ///< NULL keeps the parent's
    int new_process_group;          ///< setpgid(0, 0)
    int new_session;                ///< setsid(); implies a new process group
    int parent_death_signal;        ///< 0 for none; else PR_SET_PDEATHSIG with this signal
    int niceness;                   ///< the child's nice value (-20 to 19), set before exec
} bosun_spawn_request;

/// Starts a child (clone with CLONE_VM | CLONE_VFORK, as posix_spawn does) and execs in it, with the child's setup
/// done between them using async-signal-safe calls only. The calling thread waits until the child has exec'd.
/// Returns 0 and sets *pid on success. On failure returns -1 and sets *error_number; `*stage` names the step
/// that failed ("fork", "exec", "dup2", ...), so the caller can say what went wrong.
/// The child starts with an empty signal mask and every signal at its default disposition.
int bosun_spawn(const bosun_spawn_request *request, pid_t *pid, int *error_number, const char **stage);

/// pipe2(fds, O_CLOEXEC), which Glibc's module hides behind _GNU_SOURCE.
int bosun_pipe_cloexec(int fds[2]);

/// Installs a handler for each of `signals` that writes the signal's number as one byte to a pipe (the self-pipe
/// trick), and returns the pipe's read end (blocking, close-on-exec), or -1 with errno set. Works whatever the
/// threads' signal masks are; a full pipe drops the byte, which is harmless for signals that only mean "look".
int bosun_install_signal_pipe(const int *signals, int count);

/// Names the calling thread as `top -H`, perf and /proc/PID/task/TID/comm show it (at most 15 bytes).
int bosun_set_thread_name(const char *name);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants are re-parented to this process.
int bosun_set_child_subreaper(void);

/// pidfd_open(pid, 0) with close-on-exec: a descriptor that refers to that very process (it cannot be confused with
/// a later process that reuses the pid) and becomes readable when the process exits. -1 with errno set on failure.
int bosun_pidfd_open(pid_t pid);

/// Reaps the process behind `pidfd` if it is a child of the caller and has exited: waitid(P_PIDFD, WEXITED|WNOHANG).
/// Returns 1 and sets *status (a waitpid-style status) if reaped, 0 if it has not exited, -1 with errno set otherwise
/// (ECHILD: not a child of the caller, or already reaped).
int bosun_pidfd_reap(int pidfd, int *status);

/// epoll_create1(EPOLL_CLOEXEC).
int bosun_epoll_create(void);

/// Adds `fd` for readability with `token` as its user data; 0 or -1 with errno set.
int bosun_epoll_add(int epoll_fd, int fd, unsigned long long token);

/// Removes `fd`; 0 or -1 with errno set.
int bosun_epoll_remove(int epoll_fd, int fd);

/// epoll_wait that fills `tokens` with the user data of up to `capacity` ready descriptors. Returns their number, or
/// -1 with errno set (EINTR included). `timeout_ms` -1 waits for ever.
int bosun_epoll_wait(int epoll_fd, unsigned long long *tokens, int capacity, int timeout_ms);

/// eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK).
int bosun_eventfd(void);

/// The wait-status macros, which Swift cannot import.
static inline int bosun_wifexited(int status) { return WIFEXITED(status); }
static inline int bosun_wexitstatus(int status) { return WEXITSTATUS(status); }
static inline int bosun_wifsignaled(int status) { return WIFSIGNALED(status); }
static inline int bosun_wtermsig(int status) { return WTERMSIG(status); }
static inline int bosun_wcoredump(int status) { return WCOREDUMP(status); }

#endif

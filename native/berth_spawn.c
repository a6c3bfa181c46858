/*
 * Starting programs without fork(2). libuv starts children with fork, which
 * copies the page tables of the whole Node process (about 2-5 ms on the
 * event loop for berthd's 100+ MB, plus copy-on-write faults afterwards).
 * vfork(2) shares them instead: the calling thread waits only until the
 * child has called execve.
 *
 * The child's exit is observed through a pidfd (pidfd_open(2)) that the
 * caller watches with watchFd; reap() then collects the status. libuv only
 * ever waits for the pids it started itself, so nobody else reaps ours.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "berth_common.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* Most descriptors a child may be given (0 .. MAX_CHILD_FDS-1). */
#define MAX_CHILD_FDS 64

static void free_strings(char **list) {
  if (list == NULL) return;
  for (char **p = list; *p != NULL; p++) free(*p);
  free(list);
}

/* A JS array of strings as a NULL-terminated, malloc'd char* array; -1 with a pending exception. */
static int get_string_array(napi_env env, napi_value v, const char *what, char ***out) {
  bool is_array = false;
  napi_is_array(env, v, &is_array);
  if (!is_array) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be an array of strings", what);
    return type_error(env, msg);
  }
  uint32_t n = 0;
  napi_get_array_length(env, v, &n);
  char **list = calloc((size_t)n + 1, sizeof *list);
  if (list == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return -1;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    napi_get_element(env, v, i, &item);
    if (get_string(env, item, what, &list[i])) {
      free_strings(list);
      return -1;
    }
  }
  *out = list;
  return 0;
}

/* The kernel's struct sigaction for rt_sigaction(2); glibc's own wrapper hides its internal signals. */
struct kernel_sigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)(void);
  uint64_t mask;
};

#define KERNEL_NSIG 64

/*
 * Starts `file` with vfork(2): the child shares our memory and stack until
 * execve, so it only calls async-signal-safe functions and writes nothing
 * but `child_error`. Every signal (glibc's internal ones included) is
 * blocked around the vfork so no handler of ours runs in the child; the
 * child then puts every disposition back to the default and unblocks all
 * signals before execve. (glibc's posix_spawn would leave its two internal
 * signals ignored in the new program; libuv's fork leaves them default.)
 * Returns the pid, or -errno.
 */
static pid_t vfork_exec(const char *file, char **argv, char **envp, const char *cwd, const int *moved, uint32_t nfds,
                        bool new_session) {
  volatile int child_error = 0;
  uint64_t all = ~(uint64_t)0, saved_mask = 0;
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &saved_mask, sizeof all) != 0) return -errno;
  pid_t pid = vfork();
  if (pid == 0) {
    if (new_session && setsid() < 0) goto fail;
    for (uint32_t i = 0; i < nfds; i++) {
      if (moved[i] >= 0) {
        if (dup2(moved[i], (int)i) < 0) goto fail;
        continue;
      }
      /* Descriptors below i are already in place, so open returns i or a spare one above. */
      int null_fd = open("/dev/null", O_RDWR);
      if (null_fd < 0) goto fail;
      if (null_fd != (int)i) {
        if (dup2(null_fd, (int)i) < 0) goto fail;
        close(null_fd);
      }
    }
    if (cwd != NULL && chdir(cwd) != 0) goto fail;
    struct kernel_sigaction dfl = {.handler = SIG_DFL};
    for (int sig = 1; sig <= KERNEL_NSIG; sig++) {
      if (sig == SIGKILL || sig == SIGSTOP) continue;
      syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
    }
    uint64_t none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
    execve(file, argv, envp);
  fail:
    child_error = errno;
    _exit(127);
  }
  int vfork_errno = errno;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved_mask, NULL, sizeof saved_mask);
  if (pid < 0) return -vfork_errno;
  if (child_error != 0) {
    /* The child has already exited (the parent resumes only after execve or _exit). */
    int err = child_error;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return -err;
  }
  return pid;
}

/*
 * spawn(file, argv, envp, cwd | null, fds, setsid) -> { pid, pidfd }
 *
 * file is an absolute path (no PATH search). fds[i] is the descriptor of
 * ours the child gets as descriptor i, or -1 for /dev/null; every other
 * descriptor is close-on-exec in Node and stays behind. The child starts
 * with every signal at its default action and none blocked (as libuv does),
 * in a new session when setsid is true. A failure to start the program
 * (ENOENT, EACCES, a bad cwd, ...) is thrown here. pidfd is close-on-exec.
 */
static napi_value js_spawn(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char *file = NULL, *cwd = NULL;
  char **args = NULL, **envp = NULL;
  int fds[MAX_CHILD_FDS];
  int moved[MAX_CHILD_FDS];
  uint32_t nfds = 0;
  bool new_session = false;
  napi_value result = NULL;
  for (int i = 0; i < MAX_CHILD_FDS; i++) moved[i] = -1;

  if (get_args(env, info, 6, argv) || get_string(env, argv[0], "file", &file) ||
      get_string_array(env, argv[1], "argv", &args) || get_string_array(env, argv[2], "envp", &envp))
    goto out;
  napi_valuetype cwd_type;
  napi_typeof(env, argv[3], &cwd_type);
  if (cwd_type != napi_null && cwd_type != napi_undefined && get_string(env, argv[3], "cwd", &cwd)) goto out;
  bool is_array = false;
  napi_is_array(env, argv[4], &is_array);
  if (!is_array) {
    type_error(env, "fds must be an array of descriptors");
    goto out;
  }
  napi_get_array_length(env, argv[4], &nfds);
  if (nfds > MAX_CHILD_FDS) {
    type_error(env, "too many child descriptors");
    goto out;
  }
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value item;
    int32_t fd;
    napi_get_element(env, argv[4], i, &item);
    if (napi_get_value_int32(env, item, &fd) != napi_ok) {
      type_error(env, "fds must be an array of descriptors");
      goto out;
    }
    fds[i] = fd;
  }
  if (napi_get_value_bool(env, argv[5], &new_session) != napi_ok) {
    type_error(env, "setsid must be a boolean");
    goto out;
  }

  /*
   * The child dup2s in order, so a source numbered like an earlier target
   * would be overwritten first: copy every source above the highest target
   * (close-on-exec, closed again below).
   */
  for (uint32_t i = 0; i < nfds; i++) {
    if (fds[i] < 0) continue;
    moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, (int)nfds);
    if (moved[i] < 0) {
      throw_errno(env, errno, "fcntl(F_DUPFD_CLOEXEC)", NULL);
      goto out;
    }
  }

  pid_t pid = vfork_exec(file, args, envp, cwd, moved, nfds, new_session);
  if (pid < 0) {
    throw_errno(env, -pid, "spawn", file);
    goto out;
  }
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) {
    /* Only when out of descriptors: do not leave the child running unwatched. */
    int err = errno;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    throw_errno(env, err, "pidfd_open", file);
    goto out;
  }
  napi_value js_pid, js_pidfd;
  napi_create_object(env, &result);
  napi_create_int32(env, pid, &js_pid);
  napi_create_int32(env, pidfd, &js_pidfd);
  napi_set_named_property(env, result, "pid", js_pid);
  napi_set_named_property(env, result, "pidfd", js_pidfd);
out:
  for (int i = 0; i < MAX_CHILD_FDS; i++)
    if (moved[i] >= 0) close(moved[i]);
  free(file);
  free(cwd);
  free_strings(args);
  free_strings(envp);
  return result;
}

/*
 * reap(pid) -> { code, signal } | null: collects the status of an exited
 * child (waitpid WNOHANG); null while it still runs. code is null when a
 * signal ended it, signal is null otherwise.
 */
static napi_value js_reap(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t pid;
  if (get_args(env, info, 1, argv)) return NULL;
  if (napi_get_value_int32(env, argv[0], &pid) != napi_ok || pid <= 0) {
    type_error(env, "pid must be a positive integer");
    return NULL;
  }
  int status = 0;
  pid_t got;
  do {
    got = waitpid(pid, &status, WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return throw_errno(env, errno, "waitpid", NULL);
  napi_value result, code, sig;
  if (got == 0) {
    napi_get_null(env, &result);
    return result;
  }
  napi_create_object(env, &result);
  if (WIFSIGNALED(status)) {
    napi_get_null(env, &code);
    napi_create_int32(env, WTERMSIG(status), &sig);
  } else {
    napi_create_int32(env, WEXITSTATUS(status), &code);
    napi_get_null(env, &sig);
  }
  napi_set_named_property(env, result, "code", code);
  napi_set_named_property(env, result, "signal", sig);
  return result;
}

/* socketPair() -> [a, b]: a connected SOCK_STREAM unix socket pair (what libuv gives children as 'pipe'), both close-on-exec. */
static napi_value js_socket_pair(napi_env env, napi_callback_info info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return throw_errno(env, errno, "socketpair", NULL);
  napi_value result, a, b;
  napi_create_array_with_length(env, 2, &result);
  napi_create_int32(env, sv[0], &a);
  napi_create_int32(env, sv[1], &b);
  napi_set_element(env, result, 0, a);
  napi_set_element(env, result, 1, b);
  return result;
}

void berth_spawn_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"spawn", NULL, js_spawn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reap", NULL, js_reap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"socketPair", NULL, js_socket_pair, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

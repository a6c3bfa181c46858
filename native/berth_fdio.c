/*
 * Descriptor I/O Node cannot do by itself: connecting to SOCK_SEQPACKET unix
 * sockets (conmon's attach socket), pseudo-terminals (open, window size), and
 * readiness notification for any descriptor on Node's own event loop.
 *
 * Nothing here blocks: descriptors are non-blocking, `readFd`/`writeFd` say
 * "would block" instead of waiting, and a watcher (a libuv poll handle on
 * Node's loop) calls JavaScript back when a descriptor becomes readable or
 * writable. No thread-pool thread is held for the life of a stream.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>
#include "berth_common.h"

/* Largest single read; a seqpacket datagram longer than this would be truncated (conmon sends at most 8 KiB + 1). */
#define READ_CHUNK 65536

static int get_fd(napi_env env, napi_value v, int *fd) {
  uint32_t value;
  if (get_uint32(env, v, "fd", &value)) return -1;
  *fd = (int)value;
  return 0;
}

/*
 * seqpacketConnect(path) -> fd: a non-blocking, close-on-exec SOCK_SEQPACKET
 * socket connected to the unix socket at path. Paths longer than sun_path
 * (108 bytes) are reached through /proc/self/fd/<parent dir fd>/<name>, the
 * way conmon binds them.
 */
static napi_value js_seqpacket_connect(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char *path = NULL;
  if (get_args(env, info, 1, argv) || get_string(env, argv[0], "path", &path)) return NULL;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  int dir_fd = -1;
  int fd = -1;
  napi_value result = NULL;
  if (strlen(path) < sizeof addr.sun_path) {
    memcpy(addr.sun_path, path, strlen(path) + 1);
  } else {
    char *slash = strrchr(path, '/');
    if (slash == NULL || slash[1] == '\0') {
      throw_errno(env, ENAMETOOLONG, "connect", path);
      goto out;
    }
    *slash = '\0';
    dir_fd = open(path[0] != '\0' ? path : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    *slash = '/';
    if (dir_fd < 0) {
      throw_errno(env, errno, "open", path);
      goto out;
    }
    int n = snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dir_fd, slash + 1);
    if (n < 0 || (size_t)n >= sizeof addr.sun_path) {
      throw_errno(env, ENAMETOOLONG, "connect", path);
      goto out;
    }
  }
  fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", path);
    goto out;
  }
  /* A unix socket connects at once or fails; EAGAIN means the listener's backlog is full. */
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "connect", path);
    goto out;
  }
  napi_create_int32(env, fd, &result);
out:
  if (dir_fd >= 0) close(dir_fd);
  free(path);
  return result;
}

/* openPty() -> { master, slave }: a new pseudo-terminal; the master is non-blocking, both close-on-exec. */
static napi_value js_open_pty(napi_env env, napi_callback_info info) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (master < 0) return throw_errno(env, errno, "open", "/dev/ptmx");
  char name[128];
  int err = 0;
  const char *failed = NULL;
  if (grantpt(master) != 0) {
    err = errno;
    failed = "grantpt";
  } else if (unlockpt(master) != 0) {
    err = errno;
    failed = "unlockpt";
  } else if ((err = ptsname_r(master, name, sizeof name)) != 0) {
    failed = "ptsname_r";
  }
  if (failed != NULL) {
    close(master);
    return throw_errno(env, err, failed, NULL);
  }
  int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    err = errno;
    close(master);
    return throw_errno(env, err, "open", name);
  }
  napi_value result, js_master, js_slave, js_name;
  napi_create_object(env, &result);
  napi_create_int32(env, master, &js_master);
  napi_create_int32(env, slave, &js_slave);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &js_name);
  napi_set_named_property(env, result, "master", js_master);
  napi_set_named_property(env, result, "slave", js_slave);
  napi_set_named_property(env, result, "path", js_name);
  return result;
}

/* setWindowSize(fd, rows, cols): TIOCSWINSZ; the terminal's foreground process group gets SIGWINCH. */
static napi_value js_set_window_size(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int fd;
  uint32_t rows, cols;
  if (get_args(env, info, 3, argv) || get_fd(env, argv[0], &fd) || get_uint32(env, argv[1], "rows", &rows) ||
      get_uint32(env, argv[2], "cols", &cols))
    return NULL;
  if (rows > 0xffff || cols > 0xffff) {
    type_error(env, "rows and cols must fit in 16 bits");
    return NULL;
  }
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (ioctl(fd, TIOCSWINSZ, &ws) != 0) return throw_errno(env, errno, "ioctl(TIOCSWINSZ)", NULL);
  return NULL;
}

/* getWindowSize(fd) -> { rows, cols } */
static napi_value js_get_window_size(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int fd;
  if (get_args(env, info, 1, argv) || get_fd(env, argv[0], &fd)) return NULL;
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return throw_errno(env, errno, "ioctl(TIOCGWINSZ)", NULL);
  napi_value result, rows, cols;
  napi_create_object(env, &result);
  napi_create_uint32(env, ws.ws_row, &rows);
  napi_create_uint32(env, ws.ws_col, &cols);
  napi_set_named_property(env, result, "rows", rows);
  napi_set_named_property(env, result, "cols", cols);
  return result;
}

/* shutdown(fd, how) */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int fd;
  uint32_t how;
  if (get_args(env, info, 2, argv) || get_fd(env, argv[0], &fd) || get_uint32(env, argv[1], "how", &how)) return NULL;
  if (shutdown(fd, (int)how) != 0) return throw_errno(env, errno, "shutdown", NULL);
  return NULL;
}

/*
 * readFd(fd, maxBytes) -> Buffer | null | undefined: one read(2) of at most
 * maxBytes (one datagram on a seqpacket socket); null at end of file,
 * undefined when it would block.
 */
static napi_value js_read_fd(napi_env env, napi_callback_info info) {
  static char scratch[READ_CHUNK];
  napi_value argv[MAX_ARGS];
  int fd;
  uint32_t max;
  if (get_args(env, info, 2, argv) || get_fd(env, argv[0], &fd) || get_uint32(env, argv[1], "maxBytes", &max)) return NULL;
  if (max == 0 || max > READ_CHUNK) max = READ_CHUNK;
  ssize_t n;
  do {
    n = read(fd, scratch, max);
  } while (n < 0 && errno == EINTR);
  napi_value result;
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_get_undefined(env, &result);
      return result;
    }
    return throw_errno(env, errno, "read", NULL);
  }
  if (n == 0) {
    napi_get_null(env, &result);
    return result;
  }
  void *copy;
  napi_create_buffer_copy(env, (size_t)n, scratch, &copy, &result);
  return result;
}

/* writeFd(fd, buffer) -> bytes written (one datagram on a seqpacket socket), or -1 when it would block. */
static napi_value js_write_fd(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int fd;
  bool is_buffer = false;
  void *data = NULL;
  size_t len = 0;
  if (get_args(env, info, 2, argv) || get_fd(env, argv[0], &fd)) return NULL;
  napi_is_buffer(env, argv[1], &is_buffer);
  if (!is_buffer) {
    type_error(env, "data must be a Buffer");
    return NULL;
  }
  napi_get_buffer_info(env, argv[1], &data, &len);
  ssize_t n;
  do {
    n = write(fd, data, len);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return throw_errno(env, errno, "write", NULL);
  napi_value result;
  napi_create_int64(env, n < 0 ? -1 : (int64_t)n, &result);
  return result;
}

/*
 * A watcher: a libuv poll handle on Node's loop for one descriptor. It is
 * owned twice, by the open handle and by the JS external that names it; the
 * memory goes when both let go (uv_close's callback and the GC finalizer may
 * come in either order).
 */
typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int owners;
  bool closing;
} fd_watch;

static void watch_release(fd_watch *w) {
  if (--w->owners == 0) free(w);
}

static void watch_on_close(uv_handle_t *handle) {
  fd_watch *w = handle->data;
  napi_delete_reference(w->env, w->callback);
  napi_async_destroy(w->env, w->async);
  watch_release(w);
}

static void watch_close(fd_watch *w) {
  if (w->closing) return;
  w->closing = true;
  /* uv_close stops polling and drops the descriptor from epoll at once, so the caller may close the fd right after. */
  uv_close((uv_handle_t *)&w->handle, watch_on_close);
}

static void watch_on_event(uv_poll_t *handle, int status, int events) {
  fd_watch *w = handle->data;
  if (w->closing) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, recv, argv[2], result;
  napi_get_reference_value(env, w->callback, &callback);
  /* MakeCallback wants an object as the receiver. */
  napi_get_global(env, &recv);
  napi_create_int32(env, status, &argv[0]);
  napi_create_int32(env, events, &argv[1]);
  if (napi_make_callback(env, w->async, recv, callback, 2, argv, &result) == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
  napi_close_handle_scope(env, scope);
}

static void watch_finalize(napi_env env, void *data, void *hint) {
  fd_watch *w = data;
  watch_close(w);
  watch_release(w);
}

static int get_watch(napi_env env, napi_value v, fd_watch **out) {
  napi_valuetype type;
  napi_typeof(env, v, &type);
  if (type != napi_external) return type_error(env, "watcher must be a value returned by watchFd");
  napi_get_value_external(env, v, (void **)out);
  return 0;
}

/*
 * watchFd(fd, callback(status, events)) -> watcher. Idle until
 * setWatchEvents asks for events; status is 0 or a negative errno.
 */
static napi_value js_watch_fd(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int fd;
  if (get_args(env, info, 2, argv) || get_fd(env, argv[0], &fd)) return NULL;
  napi_valuetype type;
  napi_typeof(env, argv[1], &type);
  if (type != napi_function) {
    type_error(env, "callback must be a function");
    return NULL;
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, "EINVAL", "no event loop");
    return NULL;
  }
  fd_watch *w = calloc(1, sizeof *w);
  if (w == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  int rc = uv_poll_init(loop, &w->handle, fd);
  if (rc != 0) {
    free(w);
    return throw_errno(env, -rc, "uv_poll_init", NULL);
  }
  w->handle.data = w;
  w->env = env;
  w->owners = 2;
  napi_value name, resource, result;
  napi_create_string_utf8(env, "berth:fdwatch", NAPI_AUTO_LENGTH, &name);
  napi_create_object(env, &resource);
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_async_init(env, resource, name, &w->async);
  napi_create_external(env, w, watch_finalize, NULL, &result);
  return result;
}

/* setWatchEvents(watcher, events): 1 readable | 2 writable | 4 disconnect; 0 stops watching. */
static napi_value js_set_watch_events(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  fd_watch *w;
  uint32_t events;
  if (get_args(env, info, 2, argv) || get_watch(env, argv[0], &w) || get_uint32(env, argv[1], "events", &events)) return NULL;
  if (w->closing) {
    napi_throw_error(env, "EBADF", "the watcher is closed");
    return NULL;
  }
  int rc = events == 0 ? uv_poll_stop(&w->handle)
                       : uv_poll_start(&w->handle, (int)(events & (UV_READABLE | UV_WRITABLE | UV_DISCONNECT)), watch_on_event);
  if (rc != 0) return throw_errno(env, -rc, "uv_poll_start", NULL);
  return NULL;
}

/* closeWatch(watcher): stops for good; the descriptor itself stays open (the caller closes it). */
static napi_value js_close_watch(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  fd_watch *w;
  if (get_args(env, info, 1, argv) || get_watch(env, argv[0], &w)) return NULL;
  watch_close(w);
  return NULL;
}

/* setWatchRef(watcher, ref): whether the watcher keeps Node's event loop alive (uv_ref / uv_unref). */
static napi_value js_set_watch_ref(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  fd_watch *w;
  bool ref;
  if (get_args(env, info, 2, argv) || get_watch(env, argv[0], &w)) return NULL;
  if (napi_get_value_bool(env, argv[1], &ref) != napi_ok) {
    type_error(env, "ref must be a boolean");
    return NULL;
  }
  if (w->closing) return NULL;
  if (ref) uv_ref((uv_handle_t *)&w->handle);
  else uv_unref((uv_handle_t *)&w->handle);
  return NULL;
}

void berth_fdio_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"seqpacketConnect", NULL, js_seqpacket_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openPty", NULL, js_open_pty, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setWindowSize", NULL, js_set_window_size, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getWindowSize", NULL, js_get_window_size, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readFd", NULL, js_read_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeFd", NULL, js_write_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watchFd", NULL, js_watch_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setWatchEvents", NULL, js_set_watch_events, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeWatch", NULL, js_close_watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setWatchRef", NULL, js_set_watch_ref, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

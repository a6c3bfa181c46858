/*
 * berth_sys: the few Linux syscalls Node does not expose (mknod, xattrs, mount).
 * Every function is synchronous; failures throw an Error carrying `code`
 * (errno name, e.g. "EPERM"), `errno` (number) and `syscall`.
 * Descriptor I/O (seqpacket sockets, ptys, readiness polling) is in berth_fdio.c,
 * starting programs without fork in berth_spawn.c, network namespaces in
 * berth_netns.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <node_api.h>
#include "berth_common.h"

napi_value errno_error(napi_env env, int err, const char *syscall, const char *path) {
  const char *name = strerrorname_np(err);
  char code_buf[32];
  if (name == NULL) {
    snprintf(code_buf, sizeof code_buf, "E%d", err);
    name = code_buf;
  }
  char msg[4352];
  if (path != NULL) {
    snprintf(msg, sizeof msg, "%s: %s, %s '%s'", name, strerror(err), syscall, path);
  } else {
    snprintf(msg, sizeof msg, "%s: %s, %s", name, strerror(err), syscall);
  }
  napi_value js_msg, js_code, js_err, js_syscall, js_errno;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &js_msg);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &js_code);
  napi_create_error(env, js_code, js_msg, &js_err);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &js_syscall);
  napi_set_named_property(env, js_err, "syscall", js_syscall);
  napi_create_int32(env, -err, &js_errno);
  napi_set_named_property(env, js_err, "errno", js_errno);
  if (path != NULL) {
    napi_value js_path;
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &js_path);
    napi_set_named_property(env, js_err, "path", js_path);
  }
  return js_err;
}

napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  napi_throw(env, errno_error(env, err, syscall, path));
  return NULL;
}

int type_error(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return -1;
}

/* Copies a JS string argument into a freshly malloc'd C string (caller frees). */
int get_string(napi_env env, napi_value v, const char *what, char **out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a string", what);
    return type_error(env, msg);
  }
  char *buf = malloc(len + 1);
  if (buf == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return -1;
  }
  napi_get_value_string_utf8(env, v, buf, len + 1, &len);
  if (strlen(buf) != len) {
    free(buf);
    char msg[128];
    snprintf(msg, sizeof msg, "%s must not contain NUL bytes", what);
    return type_error(env, msg);
  }
  *out = buf;
  return 0;
}

int get_uint32(napi_env env, napi_value v, const char *what, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a number", what);
    return type_error(env, msg);
  }
  return 0;
}

int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = MAX_ARGS;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) {
    char msg[96];
    snprintf(msg, sizeof msg, "expected %zu arguments, got %zu", want, argc);
    return type_error(env, msg);
  }
  return 0;
}

/* mknod(path, mode, major, minor) */
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char *path = NULL;
  uint32_t mode, major, minor;
  if (get_args(env, info, 4, argv) || get_string(env, argv[0], "path", &path)) return NULL;
  if (get_uint32(env, argv[1], "mode", &mode) || get_uint32(env, argv[2], "major", &major) ||
      get_uint32(env, argv[3], "minor", &minor)) {
    free(path);
    return NULL;
  }
  if (mknod(path, (mode_t)mode, makedev(major, minor)) != 0) {
    int err = errno;
    throw_errno(env, err, "mknod", path);
  }
  free(path);
  return NULL;
}

/* lsetxattr(path, name, value: Buffer) */
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char *path = NULL, *name = NULL;
  void *data = NULL;
  size_t len = 0;
  bool is_buffer = false;
  if (get_args(env, info, 3, argv)) return NULL;
  napi_is_buffer(env, argv[2], &is_buffer);
  if (!is_buffer) {
    type_error(env, "value must be a Buffer");
    return NULL;
  }
  napi_get_buffer_info(env, argv[2], &data, &len);
  if (get_string(env, argv[0], "path", &path)) return NULL;
  if (get_string(env, argv[1], "name", &name)) {
    free(path);
    return NULL;
  }
  if (lsetxattr(path, name, data, len, 0) != 0) {
    int err = errno;
    throw_errno(env, err, "lsetxattr", path);
  }
  free(path);
  free(name);
  return NULL;
}

/* lgetxattr(path, name) -> Buffer | null (null when the attribute does not exist) */
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char *path = NULL, *name = NULL;
  napi_value result = NULL;
  if (get_args(env, info, 2, argv) || get_string(env, argv[0], "path", &path)) return NULL;
  if (get_string(env, argv[1], "name", &name)) {
    free(path);
    return NULL;
  }
  /* The value can change size between the probe and the read: retry on ERANGE. */
  for (int attempt = 0; attempt < 8; attempt++) {
    ssize_t size = lgetxattr(path, name, NULL, 0);
    if (size < 0) {
      int err = errno;
      if (err == ENODATA) {
        napi_get_null(env, &result);
      } else {
        throw_errno(env, err, "lgetxattr", path);
      }
      break;
    }
    void *buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL) {
      napi_throw_error(env, "ENOMEM", "out of memory");
      break;
    }
    ssize_t got = lgetxattr(path, name, buf, (size_t)size);
    if (got < 0) {
      int err = errno;
      free(buf);
      if (err == ERANGE) continue;
      if (err == ENODATA) {
        napi_get_null(env, &result);
      } else {
        throw_errno(env, err, "lgetxattr", path);
      }
      break;
    }
    void *copy;
    napi_create_buffer_copy(env, (size_t)got, buf, &copy, &result);
    free(buf);
    break;
  }
  free(path);
  free(name);
  return result;
}

/* llistxattr(path) -> string[] */
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char *path = NULL;
  napi_value result = NULL;
  if (get_args(env, info, 1, argv) || get_string(env, argv[0], "path", &path)) return NULL;
  for (int attempt = 0; attempt < 8; attempt++) {
    ssize_t size = llistxattr(path, NULL, 0);
    if (size < 0) {
      int err = errno;
      throw_errno(env, err, "llistxattr", path);
      break;
    }
    char *buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL) {
      napi_throw_error(env, "ENOMEM", "out of memory");
      break;
    }
    ssize_t got = llistxattr(path, buf, (size_t)size);
    if (got < 0) {
      int err = errno;
      free(buf);
      if (err == ERANGE) continue;
      throw_errno(env, err, "llistxattr", path);
      break;
    }
    napi_create_array(env, &result);
    uint32_t index = 0;
    for (ssize_t off = 0; off < got;) {
      size_t n = strnlen(buf + off, (size_t)(got - off));
      napi_value s;
      napi_create_string_utf8(env, buf + off, n, &s);
      napi_set_element(env, result, index++, s);
      off += (ssize_t)n + 1;
    }
    free(buf);
    break;
  }
  free(path);
  return result;
}

/* mount(source, target, fstype, flags, data); source/fstype/data may be null or "". */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char *strs[4] = {NULL, NULL, NULL, NULL}; /* source, target, fstype, data */
  const int str_arg[4] = {0, 1, 2, 4};
  const char *names[4] = {"source", "target", "fstype", "data"};
  double flags_d = 0;
  if (get_args(env, info, 5, argv)) return NULL;
  for (int i = 0; i < 4; i++) {
    napi_valuetype t;
    napi_typeof(env, argv[str_arg[i]], &t);
    if ((t == napi_null || t == napi_undefined) && i != 1) continue;
    if (get_string(env, argv[str_arg[i]], names[i], &strs[i])) goto out;
  }
  if (napi_get_value_double(env, argv[3], &flags_d) != napi_ok || flags_d < 0) {
    type_error(env, "flags must be a non-negative number");
    goto out;
  }
  if (mount(strs[0], strs[1], strs[2], (unsigned long)flags_d, strs[3]) != 0) {
    int err = errno;
    throw_errno(env, err, "mount", strs[1]);
  }
out:
  for (int i = 0; i < 4; i++) free(strs[i]);
  return NULL;
}

/* umount2(target, flags) */
static napi_value js_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char *target = NULL;
  uint32_t flags;
  if (get_args(env, info, 2, argv) || get_string(env, argv[0], "target", &target)) return NULL;
  if (get_uint32(env, argv[1], "flags", &flags)) {
    free(target);
    return NULL;
  }
  if (umount2(target, (int)flags) != 0) {
    int err = errno;
    throw_errno(env, err, "umount2", target);
  }
  free(target);
  return NULL;
}

/* flock(fd, operation): advisory lock held until the fd is closed or the process dies */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  uint32_t fd, op;
  if (get_args(env, info, 2, argv) || get_uint32(env, argv[0], "fd", &fd) || get_uint32(env, argv[1], "operation", &op)) return NULL;
  if (flock((int)fd, (int)op) != 0) {
    int err = errno;
    throw_errno(env, err, "flock", NULL);
  }
  return NULL;
}

/* mallocTrim(): hands the C heap's free memory back to the kernel (glibc keeps
 * the arenas of exited threads, such as layer-apply workers, otherwise) */
static napi_value js_malloc_trim(napi_env env, napi_callback_info info) {
  napi_value released;
  (void)info;
  napi_get_boolean(env, malloc_trim(0) == 1, &released);
  return released;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount2", NULL, js_umount2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"flock", NULL, js_flock, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mallocTrim", NULL, js_malloc_trim, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  berth_fdio_register(env, exports);
  berth_spawn_register(env, exports);
  berth_netns_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

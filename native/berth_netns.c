/*
 * Creating a network namespace pinned on a file, without starting a
 * program (unshare(1) costs a fork and two execs per pod).
 *
 * unshare(CLONE_NEWNET) moves the calling thread into the new namespace for
 * good, so it runs on a thread made for the purpose, which then bind-mounts
 * its own namespace onto the file and exits. Neither Node's main thread nor
 * a thread-pool thread (which later runs DNS lookups and file I/O) ever
 * changes namespace. The work runs off the event loop: creating a namespace
 * can wait on the kernel's network namespace lock while others are torn
 * down.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include "berth_common.h"

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  int error;
  const char *failed;
} pin_request;

static void *pin_thread(void *arg) {
  pin_request *req = arg;
  if (unshare(CLONE_NEWNET) != 0) {
    req->error = errno;
    req->failed = "unshare(CLONE_NEWNET)";
  } else if (mount("/proc/thread-self/ns/net", req->path, NULL, MS_BIND, NULL) != 0) {
    req->error = errno;
    req->failed = "mount";
  }
  return NULL;
}

static void pin_execute(napi_env env, void *data) {
  pin_request *req = data;
  pthread_t thread;
  int rc = pthread_create(&thread, NULL, pin_thread, req);
  if (rc != 0) {
    req->error = rc;
    req->failed = "pthread_create";
    return;
  }
  pthread_join(thread, NULL);
}

static void pin_complete(napi_env env, napi_status status, void *data) {
  pin_request *req = data;
  if (status != napi_ok) {
    napi_value err;
    napi_create_string_utf8(env, "pinning the network namespace was cancelled", NAPI_AUTO_LENGTH, &err);
    napi_value error;
    napi_create_error(env, NULL, err, &error);
    napi_reject_deferred(env, req->deferred, error);
  } else if (req->error != 0) {
    napi_reject_deferred(env, req->deferred, errno_error(env, req->error, req->failed, req->path));
  } else {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, req->deferred, undefined);
  }
  napi_delete_async_work(env, req->work);
  free(req->path);
  free(req);
}

/* pinNewNetns(path) -> Promise<void>: a new network namespace bind-mounted on the existing file `path`. */
static napi_value js_pin_new_netns(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (get_args(env, info, 1, argv)) return NULL;
  pin_request *req = calloc(1, sizeof *req);
  if (req == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  if (get_string(env, argv[0], "path", &req->path)) {
    free(req);
    return NULL;
  }
  napi_value promise, name;
  napi_create_promise(env, &req->deferred, &promise);
  napi_create_string_utf8(env, "berth:pinNewNetns", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, pin_execute, pin_complete, req, &req->work);
  napi_queue_async_work(env, req->work);
  return promise;
}

void berth_netns_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"pinNewNetns", NULL, js_pin_new_netns, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

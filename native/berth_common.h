/* Helpers shared by the berth_sys addon's source files (defined in berth_sys.c). */
#ifndef BERTH_COMMON_H
#define BERTH_COMMON_H

#include <stdint.h>
#include <node_api.h>

#define MAX_ARGS 6

/* An Error with code (errno name), errno, syscall and optional path, not thrown. */
napi_value errno_error(napi_env env, int err, const char *syscall, const char *path);
/* Throws an Error with code (errno name), errno, syscall and optional path; returns NULL. */
napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path);
int type_error(napi_env env, const char *msg);
/* Copies a JS string argument into a malloc'd C string (caller frees); -1 with a pending exception. */
int get_string(napi_env env, napi_value v, const char *what, char **out);
int get_uint32(napi_env env, napi_value v, const char *what, uint32_t *out);
int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);

/* Adds the descriptor I/O functions of berth_fdio.c to the module's exports. */
void berth_fdio_register(napi_env env, napi_value exports);
/* Adds spawn, reap and socketPair of berth_spawn.c to the module's exports. */
void berth_spawn_register(napi_env env, napi_value exports);
/* Adds pinNewNetns of berth_netns.c to the module's exports. */
void berth_netns_register(napi_env env, napi_value exports);

#endif

/*
 * fdwatch: readiness of TUN/TAP descriptors in Node's own event loop (libuv uv_poll, epoll),
 * so that a packet wakes the JavaScript thread directly instead of through a poll(2) on a
 * worker thread. Reading and writing stay in JavaScript (koffi); this only says when.
 *
 *   const h = watch(fd, (status, events) => {...});   start(h, 1 | 2);   stop(h);   close(h);
 *   events: 1 readable, 2 writable (UV_READABLE, UV_WRITABLE); status < 0 is a libuv error
 *   (UV_EBADF on POLLERR: a TUN/TAP whose device was deleted), after which libuv has stopped
 *   watching. Close before closing the descriptor; closing again, or stop or start after a
 *   close, is harmless (start then says UV_EBADF). Never called back after close.
 */
#include <node_api.h>
#include <uv.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  /* uv_close has been called: start and stop are refused, close does nothing. */
  int closing;
  /* Owners of this memory: the JavaScript external (until it is collected) and the libuv
   * handle (until its close callback). Freed when both are gone, so that a close, stop or
   * start on a watcher that was already closed finds it intact instead of freed memory. */
  int owners;
} watcher;

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, #call " failed"); return NULL; } } while (0)

static void release(watcher *w) {
  if (--w->owners == 0) free(w);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  watcher *w = (watcher *)handle->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_value cb, recv, argv[2], result;
  if (w->closing) return;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_global(env, &recv); /* make_callback wants an object as `this` */
  napi_create_int32(env, status, &argv[0]);
  napi_create_int32(env, events, &argv[1]);
  napi_make_callback(env, w->context, recv, cb, 2, argv, &result);
  napi_close_handle_scope(env, scope);
}

static void on_close(uv_handle_t *handle) {
  release((watcher *)handle->data);
}

/* Stops watching (uv_close takes the descriptor out of epoll at once, before the caller closes
 * it) and lets go of the callback; the memory goes when libuv and JavaScript both have. Once. */
static void close_once(watcher *w) {
  if (w->closing) return;
  w->closing = 1;
  uv_close((uv_handle_t *)&w->poll, on_close);
  napi_delete_reference(w->env, w->callback);
  w->callback = NULL;
  napi_async_destroy(w->env, w->context);
  w->context = NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  watcher *w = (watcher *)data;
  /* Collected without a close only when the environment goes away: libuv still holds the
   * handle then, so the memory stays theirs until the process ends. */
  if (w->closing) release(w);
}

static watcher *unwrap(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "not a watcher");
    return NULL;
  }
  return (watcher *)p;
}

static napi_value watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], name, external;
  int32_t fd;
  uv_loop_t *loop;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_uv_event_loop(env, &loop));
  CHECK(napi_create_string_utf8(env, "fdwatch", NAPI_AUTO_LENGTH, &name));
  watcher *w = calloc(1, sizeof *w);
  if (w == NULL) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  w->env = env;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    free(w);
    char message[128];
    snprintf(message, sizeof message, "uv_poll_init(%d): %s", (int)fd, uv_strerror(rc));
    napi_throw_error(env, NULL, message);
    return NULL;
  }
  w->poll.data = w;
  w->owners = 1; /* the handle */
  if (napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok ||
      napi_async_init(env, NULL, name, &w->context) != napi_ok ||
      napi_create_external(env, w, finalize, NULL, &external) != napi_ok) {
    if (w->callback != NULL) napi_delete_reference(env, w->callback);
    if (w->context != NULL) napi_async_destroy(env, w->context);
    w->callback = NULL;
    w->context = NULL;
    w->closing = 1;
    uv_close((uv_handle_t *)&w->poll, on_close);
    napi_throw_error(env, NULL, "fdwatch: watch failed");
    return NULL;
  }
  w->owners = 2; /* and the external */
  return external;
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t events;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  watcher *w = unwrap(env, argv[0]);
  if (w == NULL) return NULL;
  CHECK(napi_get_value_int32(env, argv[1], &events));
  napi_value rc;
  CHECK(napi_create_int32(env, w->closing ? UV_EBADF : uv_poll_start(&w->poll, events, on_poll), &rc));
  return rc;
}

static napi_value stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  watcher *w = unwrap(env, argv[0]);
  if (w != NULL && !w->closing) uv_poll_stop(&w->poll);
  return NULL;
}

static napi_value close_watcher(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  watcher *w = unwrap(env, argv[0]);
  if (w != NULL) close_once(w);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"watch", NULL, watch, NULL, NULL, NULL, napi_default, NULL},
    {"start", NULL, start, NULL, NULL, NULL, napi_default, NULL},
    {"stop", NULL, stop, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, close_watcher, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

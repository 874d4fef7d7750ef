/*
 * Open-file-description locks (fcntl F_OFD_SETLK, F_OFD_SETLKW, F_OFD_GETLK)
 * for Node, which has no fcntl. These are the locks libostree takes on a
 * repository's `.lock` and a sysroot's `ostree/lock`: owned by the open file,
 * not the process, so two handles in one process exclude each other and a
 * lock dies with the last descriptor of its file.
 *
 * Every lock covers the whole file. Where the kernel or the filesystem has no
 * OFD locks (EINVAL), flock(2) stands in, as libostree does.
 *
 *   tryLock(fd, type)  -> boolean     F_OFD_SETLK: taken (or converted), or false when held elsewhere
 *   waitLock(fd, type) -> Promise     F_OFD_SETLKW on a thread of its own: resolves once taken
 *   getLock(fd, type)  -> null | { type, start, len, pid }   F_OFD_GETLK: the lock in the way, if any
 *
 * type: 0 unlock, 1 shared (F_RDLCK), 2 exclusive (F_WRLCK). A failure
 * throws (or rejects with) an Error carrying `errno` and `syscall`.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38
#endif

static short flock_type(int type) {
  return type == 2 ? F_WRLCK : type == 1 ? F_RDLCK : F_UNLCK;
}

/* One attempt (or one wait) on the whole file; returns 0 or an errno value. */
static int set_lock(int fd, int type, int wait) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = flock_type(type);
  fl.l_whence = SEEK_SET;
  int r;
  do {
    r = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return 0;
  if (errno != EINVAL) return errno;
  int op = type == 2 ? LOCK_EX : type == 1 ? LOCK_SH : LOCK_UN;
  if (!wait) op |= LOCK_NB;
  do {
    r = flock(fd, op);
  } while (r < 0 && errno == EINTR);
  return r == 0 ? 0 : errno;
}

static napi_value errno_error(napi_env env, int err, const char *syscall) {
  napi_value msg, error, num, sys;
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "syscall", sys);
  return error;
}

/* fd and type from the arguments; false (with a TypeError thrown) when they are not small integers. */
static int read_args(napi_env env, napi_callback_info info, int *fd, int *type) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2
      || napi_get_value_int32(env, argv[0], fd) != napi_ok
      || napi_get_value_int32(env, argv[1], type) != napi_ok
      || *fd < 0 || *type < 0 || *type > 2) {
    napi_throw_type_error(env, NULL, "expected (fd, type) with type 0, 1 or 2");
    return 0;
  }
  return 1;
}

static napi_value try_lock(napi_env env, napi_callback_info info) {
  int fd, type;
  if (!read_args(env, info, &fd, &type)) return NULL;
  int err = set_lock(fd, type, 0);
  napi_value result;
  if (err == EAGAIN || err == EACCES || err == EWOULDBLOCK) {
    napi_get_boolean(env, 0, &result);
    return result;
  }
  if (err) {
    napi_throw(env, errno_error(env, err, "fcntl"));
    return NULL;
  }
  napi_get_boolean(env, 1, &result);
  return result;
}

struct wait_req {
  int fd;
  int type;
  int err;
  napi_deferred deferred;
  napi_threadsafe_function done;
};

static void settle(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  struct wait_req *req = data;
  if (env != NULL) {
    if (req->err) {
      napi_reject_deferred(env, req->deferred, errno_error(env, req->err, "fcntl"));
    } else {
      napi_value undefined;
      napi_get_undefined(env, &undefined);
      napi_resolve_deferred(env, req->deferred, undefined);
    }
  }
  free(req);
}

static void *wait_thread(void *arg) {
  struct wait_req *req = arg;
  napi_threadsafe_function done = req->done;
  req->err = set_lock(req->fd, req->type, 1);
  napi_call_threadsafe_function(done, req, napi_tsfn_blocking);
  napi_release_threadsafe_function(done, napi_tsfn_release);
  return NULL;
}

static napi_value wait_lock(napi_env env, napi_callback_info info) {
  int fd, type;
  if (!read_args(env, info, &fd, &type)) return NULL;
  struct wait_req *req = calloc(1, sizeof *req);
  if (!req) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  req->fd = fd;
  req->type = type;
  napi_value promise, name;
  napi_create_promise(env, &req->deferred, &promise);
  napi_create_string_utf8(env, "ofd-lock-wait", NAPI_AUTO_LENGTH, &name);
  /* The pending wait keeps the event loop alive, as any pending I/O does. */
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, settle, &req->done) != napi_ok) {
    free(req);
    napi_throw_error(env, NULL, "could not create the lock wait's callback");
    return NULL;
  }
  /* A thread of its own: a wait of any length takes nothing from libuv's pool. */
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t thread;
  int err = pthread_create(&thread, &attr, wait_thread, req);
  pthread_attr_destroy(&attr);
  if (err) {
    napi_release_threadsafe_function(req->done, napi_tsfn_abort);
    napi_reject_deferred(env, req->deferred, errno_error(env, err, "pthread_create"));
    free(req);
  }
  return promise;
}

static napi_value get_lock(napi_env env, napi_callback_info info) {
  int fd, type;
  if (!read_args(env, info, &fd, &type)) return NULL;
  if (type == 0) {
    napi_throw_type_error(env, NULL, "getLock asks about a shared (1) or exclusive (2) lock");
    return NULL;
  }
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = flock_type(type);
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
    napi_throw(env, errno_error(env, errno, "fcntl"));
    return NULL;
  }
  napi_value result;
  if (fl.l_type == F_UNLCK) {
    napi_get_null(env, &result);
    return result;
  }
  napi_value v;
  napi_create_object(env, &result);
  napi_create_int32(env, fl.l_type == F_WRLCK ? 2 : 1, &v);
  napi_set_named_property(env, result, "type", v);
  napi_create_int64(env, (int64_t)fl.l_start, &v);
  napi_set_named_property(env, result, "start", v);
  napi_create_int64(env, (int64_t)fl.l_len, &v);
  napi_set_named_property(env, result, "len", v);
  napi_create_int32(env, (int32_t)fl.l_pid, &v);
  napi_set_named_property(env, result, "pid", v);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    { "tryLock", NULL, try_lock, NULL, NULL, NULL, napi_enumerable, NULL },
    { "waitLock", NULL, wait_lock, NULL, NULL, NULL, napi_enumerable, NULL },
    { "getLock", NULL, get_lock, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

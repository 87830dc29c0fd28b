/*
 * lockfile.c - the storage directory lock (see lockfile.h for why flock).
 *
 * Sequence: mkdir -p the directory, open (creating) the lock file with
 * O_CLOEXEC so that child processes we may spawn do not inherit and pin the
 * lock, flock(LOCK_EX | LOCK_NB), then replace the file's contents with our
 * pid.  A loser reads the pid for its message; it may read an empty or
 * half-written file if it races the winner's write, in which case the
 * message says "pid unknown" rather than guessing.
 */
#include "storage/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir that treats "already a directory" as success. */
static int mkdir_one(const char *path) {
    if (mkdir(path, 0755) == 0) return 0;
    if (errno != EEXIST) return -1;
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* mkdir -p: creates every missing component of path, left to right. */
static qv_rc mkdir_p(const char *path, qv_err *err) {
    size_t n = strlen(path);
    char *buf = malloc(n + 1);
    if (!buf) return qv_fail(err, QV_ENOMEM, "out of memory creating %s", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        if (buf[i - 1] == '/') continue; /* "a//b" or a trailing slash */
        char saved = buf[i];
        buf[i] = '\0';
        int rc = mkdir_one(buf);
        buf[i] = saved;
        if (rc != 0) {
            int e = errno;
            free(buf);
            return qv_fail(err, QV_EIO, "cannot create storage directory %s: %s", path,
                           strerror(e));
        }
    }
    free(buf);
    return QV_OK;
}

/* Reads the holder's pid from the lock file; 0 if absent or unparsable. */
static long read_holder_pid(int fd) {
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return (end != buf && pid > 0) ? pid : 0;
}

/* Replaces the file's contents with "<pid>\n".  Failure only degrades the
 * message another process would print, so it is not an error. */
static void write_our_pid(int fd) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0) return;
    if (pwrite(fd, buf, (size_t)n, 0) != n) return;
}

static qv_rc lock_busy(int fd, const char *storage_path, qv_err *err) {
    long pid = read_holder_pid(fd);
    if (pid > 0)
        return qv_fail(err, QV_EUNAVAILABLE,
                       "storage directory %s is already in use by another Quiver process (pid %ld)",
                       storage_path, pid);
    return qv_fail(err, QV_EUNAVAILABLE,
                   "storage directory %s is already in use by another Quiver process (pid unknown)",
                   storage_path);
}

qv_rc qv_storage_lock(const char *storage_path, int *fd_out, qv_err *err) {
    *fd_out = -1;
    if (!storage_path || !*storage_path) return qv_fail(err, QV_EBADINPUT, "storage path is empty");
    qv_rc rc = mkdir_p(storage_path, err);
    if (rc != QV_OK) return rc;

    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", storage_path, QV_STORAGE_LOCK_NAME);
    if (n < 0 || (size_t)n >= sizeof path)
        return qv_fail(err, QV_EBADINPUT, "storage path %s is too long", storage_path);

    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return qv_fail(err, QV_EIO, "cannot open lock file %s: %s", path, strerror(errno));

    int r;
    do r = flock(fd, LOCK_EX | LOCK_NB);
    while (r != 0 && errno == EINTR);
    if (r != 0) {
        int e = errno;
        rc = (e == EWOULDBLOCK) ? lock_busy(fd, storage_path, err)
                                : qv_fail(err, QV_EIO, "cannot lock %s: %s", path, strerror(e));
        close(fd);
        return rc;
    }
    write_our_pid(fd);
    *fd_out = fd;
    return QV_OK;
}

void qv_storage_unlock(int fd) {
    if (fd < 0) return;
    /* close() alone would release it, but unlocking first makes the release
     * immediate even if a forked child still shares the descriptor. */
    flock(fd, LOCK_UN);
    close(fd);
}

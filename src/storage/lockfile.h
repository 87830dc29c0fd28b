/*
 * lockfile.h - one Quiver process per storage directory.
 *
 * Two servers writing the same WAL and segments would corrupt both, so the
 * server takes an exclusive advisory lock on <storage>/.quiver.lock before it
 * opens anything else in the directory and keeps it for its lifetime.
 *
 * The lock is flock(2), not a pid file checked by hand: the kernel drops it
 * when the process dies, however it dies, so a crash never leaves a stale
 * lock that an operator has to delete.  Our pid is written into the file only
 * to make the "already in use" message useful.  The file itself is never
 * removed: unlinking a lock file while another process is opening it lets
 * both of them "win" on different inodes.
 *
 * flock locks belong to an open file description, so a second
 * qv_storage_lock on the same directory fails even inside one process.
 * They are not reliable on some network filesystems (older NFS); that is
 * accepted, as for Qdrant.
 */
#ifndef QV_STORAGE_LOCKFILE_H
#define QV_STORAGE_LOCKFILE_H

#include "core/err.h"

/* Name of the lock file inside the storage directory. */
#define QV_STORAGE_LOCK_NAME ".quiver.lock"

/* Creates storage_path (and its parents) if missing, then locks
 * <storage_path>/.quiver.lock and records our pid in it.  On success
 * *fd_out owns the lock until qv_storage_unlock.  Errors:
 *   QV_EUNAVAILABLE  another process (or another open in this one) holds it;
 *                    the message names the path and the holder's pid
 *   QV_EIO           the directory cannot be created or the file opened
 *   QV_EBADINPUT     storage_path is NULL or empty
 * On failure *fd_out is set to -1. */
qv_rc qv_storage_lock(const char *storage_path, int *fd_out, qv_err *err);

/* Releases the lock and closes fd; fd < 0 is a no-op. */
void qv_storage_unlock(int fd);

#endif

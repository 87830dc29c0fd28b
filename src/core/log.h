/*
 * log.h - leveled logging to stderr, in the shape of Qdrant's log lines.
 *
 * A line looks like
 *
 *     2026-11-25T20:01:02.123Z  INFO quiver: message
 *
 * i.e. an RFC 3339 UTC timestamp with milliseconds, the level right-aligned
 * in five columns (as Rust's tracing prints it, which is why INFO and WARN
 * get two spaces before them), a component ("target") and the message.
 *
 * Threading: the level is one atomic int read with relaxed ordering, so a
 * disabled level costs a load and a compare, and the arguments are not even
 * evaluated.  Each enabled line is formatted into a stack buffer and handed
 * to the kernel with a single write(2), so lines from different threads never
 * interleave mid-line; no lock is taken.  Lines longer than QV_LOG_LINE_MAX
 * are truncated (marked with "...").
 *
 * Component: a .c file may `#define QV_LOG_COMPONENT "wal"` before including
 * this header; otherwise lines are tagged "quiver".
 *
 * Deliberately not here: log files, JSON output, per-component filters
 * (Qdrant's "debug,actix=warn" directives are reduced to their global level).
 */
#ifndef QV_CORE_LOG_H
#define QV_CORE_LOG_H

#include <stdatomic.h>

/* Ordered by verbosity: a message is printed when its level <= the current
 * level.  QV_LOG_OFF silences everything; QV_LOG_INVALID is only returned
 * by qv_log_parse_level. */
typedef enum qv_log_level {
    QV_LOG_INVALID = -1,
    QV_LOG_OFF = 0,
    QV_LOG_LVL_ERROR = 1,
    QV_LOG_LVL_WARN = 2,
    QV_LOG_LVL_INFO = 3,
    QV_LOG_LVL_DEBUG = 4,
    QV_LOG_LVL_TRACE = 5,
} qv_log_level;

/* Longest line written, newline included; longer messages are truncated. */
#define QV_LOG_LINE_MAX 2048

#ifndef QV_LOG_COMPONENT
#define QV_LOG_COMPONENT "quiver"
#endif

/* The current level; read it through qv_log_enabled, set it through
 * qv_log_set_level.  Exposed only so that the check can be inlined. */
extern atomic_int qv_log_current_level;

/* Sets the level (INFO until first called).  Out-of-range values are clamped. */
void qv_log_set_level(qv_log_level level);

/* The current level. */
qv_log_level qv_log_get_level(void);

/* Parses a level name: TRACE, DEBUG, INFO, WARN (or WARNING), ERROR, OFF,
 * case-insensitively, surrounding blanks ignored.  Qdrant's log_level is a
 * tracing filter such as "debug,actix=warn": the comma-separated directives
 * of the form target=level are skipped and the first bare level is used; a
 * filter made only of target directives yields INFO.  Returns QV_LOG_INVALID
 * when a bare part is not a level name (or s is NULL or empty). */
qv_log_level qv_log_parse_level(const char *s);

/* Upper-case name of a level ("INFO"); "OFF" / "INVALID" for the others. */
const char *qv_log_level_name(qv_log_level level);

/* Redirects output to fd (default STDERR_FILENO); the caller keeps ownership
 * of fd.  Meant for tests that capture log lines. */
void qv_log_set_fd(int fd);

/* True when messages at `level` are printed. */
static inline int qv_log_enabled(qv_log_level level) {
    return (int)level <= atomic_load_explicit(&qv_log_current_level, memory_order_relaxed);
}

/* Formats and writes one line unconditionally; use the macros instead, which
 * skip the formatting when the level is disabled. */
void qv_log_write(qv_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define QV_LOG_AT(level, ...)                                                                      \
    do {                                                                                           \
        if (qv_log_enabled(level)) qv_log_write((level), QV_LOG_COMPONENT, __VA_ARGS__);           \
    } while (0)

#define QV_LOG_ERROR(...) QV_LOG_AT(QV_LOG_LVL_ERROR, __VA_ARGS__)
#define QV_LOG_WARN(...)  QV_LOG_AT(QV_LOG_LVL_WARN, __VA_ARGS__)
#define QV_LOG_INFO(...)  QV_LOG_AT(QV_LOG_LVL_INFO, __VA_ARGS__)
#define QV_LOG_DEBUG(...) QV_LOG_AT(QV_LOG_LVL_DEBUG, __VA_ARGS__)
#define QV_LOG_TRACE(...) QV_LOG_AT(QV_LOG_LVL_TRACE, __VA_ARGS__)

#endif

/*
 * log.c - leveled logging (see log.h for the line format and threading).
 *
 * Each line is assembled in a stack buffer - timestamp, level, component,
 * message, newline - and written with one write(2).  POSIX makes a single
 * write to a pipe atomic up to PIPE_BUF bytes and, in practice, terminals and
 * regular files opened by one process do not interleave single writes either;
 * this is what lets us avoid a mutex (and the priority inversion a logging
 * lock can cause on hot paths).  A short write (EINTR, full pipe) is retried
 * for the remainder.  Errors writing the log are ignored: there is nowhere
 * left to report them.
 */
#include "core/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

atomic_int qv_log_current_level = QV_LOG_LVL_INFO;
static atomic_int log_fd = STDERR_FILENO;

void qv_log_set_level(qv_log_level level) {
    if (level < QV_LOG_OFF) level = QV_LOG_OFF;
    if (level > QV_LOG_LVL_TRACE) level = QV_LOG_LVL_TRACE;
    atomic_store_explicit(&qv_log_current_level, (int)level, memory_order_relaxed);
}

qv_log_level qv_log_get_level(void) {
    return (qv_log_level)atomic_load_explicit(&qv_log_current_level, memory_order_relaxed);
}

void qv_log_set_fd(int fd) {
    atomic_store(&log_fd, fd);
}

const char *qv_log_level_name(qv_log_level level) {
    switch (level) {
    case QV_LOG_LVL_ERROR:
        return "ERROR";
    case QV_LOG_LVL_WARN:
        return "WARN";
    case QV_LOG_LVL_INFO:
        return "INFO";
    case QV_LOG_LVL_DEBUG:
        return "DEBUG";
    case QV_LOG_LVL_TRACE:
        return "TRACE";
    case QV_LOG_OFF:
        return "OFF";
    case QV_LOG_INVALID:
        break;
    }
    return "INVALID";
}

/* ---- parsing ---------------------------------------------------------- */

/* Matches one bare level name held in s[0..n) (already trimmed). */
static qv_log_level level_from_word(const char *s, size_t n) {
    static const struct {
        const char *name;
        qv_log_level level;
    } names[] = {
        {"error", QV_LOG_LVL_ERROR}, {"warn", QV_LOG_LVL_WARN},   {"warning", QV_LOG_LVL_WARN},
        {"info", QV_LOG_LVL_INFO},   {"debug", QV_LOG_LVL_DEBUG}, {"trace", QV_LOG_LVL_TRACE},
        {"off", QV_LOG_OFF},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == n && strncasecmp(names[i].name, s, n) == 0)
            return names[i].level;
    }
    return QV_LOG_INVALID;
}

/* Walks the comma-separated directives of a tracing-style filter.  Target
 * directives ("actix=warn", "storage") are skipped because Quiver has no
 * per-component filter yet; a bare word that is not a level name, though,
 * is rejected so that typos such as "inof" do not silently mean INFO.
 * A word without '=' that is not a level could also be a bare target in
 * tracing's syntax, but nobody writes that in a config file. */
qv_log_level qv_log_parse_level(const char *s) {
    if (!s) return QV_LOG_INVALID;
    int saw_directive = 0;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        const char *b = s, *e = s + n;
        while (b < e && isspace((unsigned char)*b)) b++;
        while (e > b && isspace((unsigned char)e[-1])) e--;
        if (e > b) {
            if (memchr(b, '=', (size_t)(e - b)))
                saw_directive = 1;
            else
                return level_from_word(b, (size_t)(e - b));
        }
        s = end ? end + 1 : s + n;
    }
    return saw_directive ? QV_LOG_LVL_INFO : QV_LOG_INVALID;
}

/* ---- writing ---------------------------------------------------------- */

/* Writes "2026-11-25T20:01:02.123Z" into buf; returns its length. */
static size_t format_timestamp(char *buf, size_t cap) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n =
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(ts.tv_nsec / 1000000));
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Writes all of buf, retrying on EINTR and short writes. */
static void write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        buf += w;
        len -= (size_t)w;
    }
}

void qv_log_write(qv_log_level level, const char *component, const char *fmt, ...) {
    char line[QV_LOG_LINE_MAX];
    size_t cap = sizeof line - 1; /* keep one byte for the newline */
    size_t len = format_timestamp(line, cap);
    int n = snprintf(line + len, cap - len, " %5s %s: ", qv_log_level_name(level),
                     component ? component : "quiver");
    if (n > 0) len += (size_t)n < cap - len ? (size_t)n : cap - len - 1;

    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(line + len, cap - len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n >= cap - len) {
        /* Truncated: vsnprintf wrote cap-len-1 bytes; mark the cut. */
        len = cap - 1;
        memcpy(line + len - 3, "...", 3);
    } else if (n > 0) {
        len += (size_t)n;
    }
    line[len++] = '\n';
    write_all(atomic_load(&log_fd), line, len);
}

/*
 * rest.c - the REST server: sockets, connections, bodies, paths, replies.
 *
 * Threading model.  libmicrohttpd runs one internal thread that accepts
 * connections and one thread per connection
 * (MHD_USE_THREAD_PER_CONNECTION).  A handler therefore runs on its
 * connection's thread and may block (a wait=true write waits for fsync)
 * without stalling other clients; the Python client opens a new TCP
 * connection per request, and a thread start is cheaper than the request.
 * A thread pool with an event loop was rejected: a blocked fsync would hold
 * a pool thread and every connection queued behind it.  Nothing here is
 * shared between requests except the catalog, which has its own lock.
 *
 * Request life cycle.
 *  1. MHD's URI-log callback gets the raw request target (before MHD
 *     unescapes it, so "%2F" stays distinguishable from "/") and allocates
 *     the per-request context qv_rest_conn.
 *  2. The access handler is called with no data first: when API keys are
 *     configured, the request's key is checked (qv_rest_authorize) and a
 *     refusal (401/403) is answered at once; then a Content-Length above
 *     the limit is answered 413 at once.  Neither reads the body.
 *  3. Then with body chunks, appended to ctx->body up to the limit; beyond
 *     it the rest is read and dropped (413 at the end), never buffered.
 *  4. A last call with no data: a gzip body is inflated (same limit on the
 *     inflated size), the path is normalised and split, the query string
 *     parsed, and the router picks the handler, which fills a qv_rest_resp.
 *  5. The reply is optionally gzipped (Accept-Encoding: gzip, > 1 KiB) and
 *     queued; MHD's completion callback frees the context.
 *
 * Paths.  Repeated slashes collapse and a trailing slash is dropped
 * ("//collections/x/" is "/collections/x"); each segment is then
 * percent-decoded on its own.  A decoded segment holding '/' or NUL never
 * matches a literal or a parameter other than a collection name, so it is
 * a 404 (a snapshot name can never carry a path); as a collection name it
 * reaches the handler, where creation refuses it with Qdrant's 422 and the
 * other endpoints find no such collection.
 *
 * API keys (api/auth.h).  Decided from the headers, the method and the raw
 * path alone, before any of the body is read.  `/`, `/healthz`, `/livez`
 * and `/readyz` need no key.  A read-only key may do what cannot change
 * anything: GET/HEAD, and POST to the read endpoints Qdrant has (retrieve,
 * scroll, count, query, search, recommend, discover, facet, matrix and
 * their batch/groups forms); every other request needs the read-write key
 * (unknown paths included: fail closed).  A 401 carries Qdrant's message
 * as plain text, a 403 the usual JSON error.
 *
 * Not here: TLS, JWT, HTTP/2.
 */
#define QV_LOG_COMPONENT "rest"

#include "api/rest/rest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <zlib.h>

#include "api/rest/encode.h"
#include "api/rest/rest_internal.h"
#include "core/log.h"

#define QV_REST_DEFAULT_MAX_BODY ((size_t)32 << 20)
#define QV_REST_GZIP_MIN         1024

struct qv_rest_server {
    struct MHD_Daemon *daemon;
    qv_catalog *cat;
    size_t max_body;
    const qv_auth *auth;
};

/* Per-request state (MHD's "request context"). */
typedef struct qv_rest_conn {
    char *uri; /* raw request target, as received */
    struct timespec t0;
    bool started;   /* the access handler has seen this request */
    bool too_large; /* body over the limit: drop the rest, answer 413 */
    bool refused;   /* the API-key check answered: drop the body */
    char *body;
    size_t len, cap;
} qv_rest_conn;

/* ======================================================================
 * Replies
 * ====================================================================== */

double qv_rest_elapsed(const qv_rest_req *rq) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - rq->t0.tv_sec) + (double)(now.tv_nsec - rq->t0.tv_nsec) / 1e9;
}

/* Moves w's text into rs with the given status. */
static void qv_rest_take(qv_rest_resp *rs, unsigned status, jw *w) {
    free(rs->body);
    rs->status = status;
    rs->content_type = "application/json";
    rs->body = jw_take(w, &rs->len);
}

void qv_rest_reply_error(qv_rest_req *rq, qv_rest_resp *rs, qv_rc rc, const char *msg) {
    jw w;
    jw_init(&w);
    qv_rest_encode_error(&w, rc, msg, rq ? qv_rest_elapsed(rq) : 0.0);
    qv_rest_take(rs, qv_rest_err_status(rc), &w);
    jw_free(&w);
}

void qv_rest_reply_err(qv_rest_req *rq, qv_rest_resp *rs, const qv_err *err) {
    qv_rest_reply_error(rq, rs, err->kind == QV_OK ? QV_EINTERNAL : err->kind, err->msg);
    /* Qdrant sends Retry-After (integer seconds) with a rate-limit 429 when
     * waiting helps; clients (qdrant-client's ResourceExhaustedResponse)
     * read it. */
    if (err->kind == QV_ERATELIMITED) rs->retry_after = err->retry_after;
}

void qv_rest_reply_jw(qv_rest_req *rq, qv_rest_resp *rs, jw *w) {
    qv_rest_envelope_end(w, qv_rest_elapsed(rq));
    if (w->oom) {
        jw_free(w);
        qv_rest_reply_error(rq, rs, QV_ENOMEM, "out of memory while encoding the response");
        return;
    }
    qv_rest_take(rs, 200, w);
}

void qv_rest_reply_raw(qv_rest_resp *rs, unsigned status, const char *ctype, const char *text,
                       size_t len) {
    free(rs->body);
    rs->status = status;
    rs->content_type = ctype;
    rs->body = malloc(len + 1);
    rs->len = rs->body ? len : 0;
    if (rs->body) memcpy(rs->body, text, len), rs->body[len] = 0;
}

qv_rc qv_rest_body_json(qv_rest_req *rq, bool empty_ok, jv *out, qv_err *err) {
    size_t i = 0;
    while (i < rq->body_len && strchr(" \t\r\n", rq->body[i])) i++;
    if (i == rq->body_len && empty_ok) {
        out->type = JV_OBJ, out->len = 0, out->v.members = NULL;
        return QV_OK;
    }
    return jv_parse(&rq->arena, rq->body ? rq->body : "", rq->body_len, out, err);
}

/* ======================================================================
 * Paths and query strings
 * ====================================================================== */

static int qv_rest_hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new arena string; *len gets its length.
 * Invalid escapes stay literal, as most servers treat them.  `plus` turns
 * '+' into ' ' (query strings only). */
static char *qv_rest_unescape(qv_arena *a, const char *s, size_t n, bool plus, size_t *len) {
    char *out = qv_arena_alloc(a, n + 1);
    size_t k = 0;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = qv_rest_hex(s[i + 1])) >= 0 &&
            (l = qv_rest_hex(s[i + 2])) >= 0) {
            out[k++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[k++] = plus && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[k] = 0;
    *len = k;
    return out;
}

/* Splits path (without the query) into decoded segments: empty segments
 * (repeated or trailing slashes) vanish.  A segment that decodes to '/' or
 * NUL is marked unsafe (the router lets it through only as a collection
 * name, whose validation then refuses it).  QV_ENOTFOUND for too many
 * segments. */
static qv_rc qv_rest_split_path(qv_rest_req *rq, const char *path, size_t n) {
    size_t i = 0;
    rq->nseg = 0;
    while (i < n) {
        while (i < n && path[i] == '/') i++;
        size_t start = i;
        while (i < n && path[i] != '/') i++;
        if (i == start) break;
        if (rq->nseg == QV_REST_MAX_SEGS) return QV_ENOTFOUND;
        size_t len;
        char *seg = qv_rest_unescape(&rq->arena, path + start, i - start, false, &len);
        if (!seg) return QV_ENOMEM;
        if (memchr(seg, '/', len) || strlen(seg) != len) rq->seg_unsafe |= 1u << rq->nseg;
        rq->seg_len[rq->nseg] = len;
        rq->seg[rq->nseg++] = seg;
    }
    return QV_OK;
}

/* One query parameter; unknown names are ignored (as actix does). */
static qv_rc qv_rest_query_param(qv_rest_req *rq, const char *k, const char *v, qv_err *err) {
    if (strcmp(k, "wait") == 0) {
        if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
            rq->wait = v[0] == 't';
            return QV_OK;
        }
        return qv_fail(err, QV_EBADREQUEST,
                       "Query deserialize error: provided string was not `true` or `false`");
    }
    if (strcmp(k, "timeout") == 0 || strcmp(k, "completed_limit") == 0) {
        char *end;
        errno = 0;
        unsigned long long t = strtoull(v, &end, 10);
        if (!*v || *end || errno || v[0] == '-')
            return qv_fail(err, QV_EBADREQUEST,
                           "Query deserialize error: invalid digit found "
                           "in string");
        if (k[0] == 't')
            rq->has_timeout = true, rq->timeout_sec = t;
        else
            rq->has_completed_limit = true, rq->completed_limit = t;
        return QV_OK;
    }
    if (strcmp(k, "with") == 0) {
        rq->with = v;
        return QV_OK;
    }
    if (strcmp(k, "ordering") == 0) {
        if (strcmp(v, "weak") && strcmp(v, "medium") && strcmp(v, "strong"))
            return qv_fail(err, QV_EBADREQUEST,
                           "Query deserialize error: unknown variant `%.40s`, expected one of "
                           "`weak`, `medium`, `strong`",
                           v);
    }
    return QV_OK; /* a single node reads its own writes: every ordering holds */
}

static qv_rc qv_rest_parse_query(qv_rest_req *rq, const char *q, qv_err *err) {
    while (*q) {
        size_t n = strcspn(q, "&"), klen = strcspn(q, "=&"), kl, vl;
        const char *val = klen < n ? q + klen + 1 : q + n;
        char *k = qv_rest_unescape(&rq->arena, q, klen, true, &kl);
        char *v = qv_rest_unescape(&rq->arena, val, (size_t)(q + n - val), true, &vl);
        if (!k || !v) return qv_fail(err, QV_ENOMEM, "out of memory");
        qv_rc rc = qv_rest_query_param(rq, k, v, err);
        if (rc) return rc;
        q += n + (q[n] == '&');
    }
    return QV_OK;
}

static unsigned qv_rest_method(const char *m) {
    static const struct {
        const char *name;
        unsigned bit;
    } tab[] = {{"GET", QV_REST_GET},     {"POST", QV_REST_POST},     {"PUT", QV_REST_PUT},
               {"PATCH", QV_REST_PATCH}, {"DELETE", QV_REST_DELETE}, {"HEAD", QV_REST_HEAD}};
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (strcmp(m, tab[i].name) == 0) return tab[i].bit;
    return QV_REST_OTHER;
}

/* ======================================================================
 * Dispatch
 * ====================================================================== */

/* Everything between the parsed request and the handler's reply. */
static void qv_rest_dispatch(qv_rest_server *s, qv_rest_conn *c, const char *method,
                             qv_rest_resp *rs) {
    qv_rest_req rq;
    qv_err err;
    memset(&rq, 0, sizeof rq);
    qv_err_clear(&err);
    qv_arena_init(&rq.arena);
    rq.cat = s->cat;
    rq.t0 = c->t0;
    rq.method = qv_rest_method(method);
    rq.body = c->body;
    rq.body_len = c->len;
    const char *uri = c->uri ? c->uri : "/";
    size_t plen = strcspn(uri, "?#");
    qv_rc rc = qv_rest_split_path(&rq, uri, plen);
    if (rc == QV_ENOTFOUND) {
        qv_rest_reply_error(&rq, rs, QV_ENOTFOUND, "Path not found");
    } else if (rc == QV_OK && uri[plen] == '?' &&
               (rc = qv_rest_parse_query(&rq, uri + plen + 1, &err)) != QV_OK) {
        qv_rest_reply_err(&rq, rs, &err);
    } else if (rc == QV_OK) {
        qv_rest_handler h = qv_rest_route(&rq, rs);
        if (h) h(&rq, rs);
    } else {
        qv_rest_reply_error(&rq, rs, rc, "out of memory");
    }
    QV_LOG_DEBUG("%s %s %u %.6f", method, uri, rs->status, qv_rest_elapsed(&rq));
    qv_arena_free(&rq.arena);
}

/* Inflates a gzip (or zlib) body in place of the raw one, with the same
 * size limit.  QV_ETOOLARGE beyond it, QV_EBADREQUEST if corrupt. */
static qv_rc qv_rest_inflate(qv_rest_conn *c, size_t max, qv_err *err) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) return qv_fail(err, QV_ENOMEM, "inflateInit failed");
    size_t cap = c->len * 4 + 1024, len = 0;
    if (cap > max + 1) cap = max + 1;
    char *out = malloc(cap);
    int zr = Z_OK;
    z.next_in = (Bytef *)c->body;
    z.avail_in = (uInt)c->len;
    while (out && zr == Z_OK) {
        if (len == cap) {
            if (cap > max) break; /* over the limit */
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *n = realloc(out, ncap);
            if (!n) break;
            out = n, cap = ncap;
        }
        z.next_out = (Bytef *)out + len;
        z.avail_out = (uInt)(cap - len);
        zr = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
    }
    inflateEnd(&z);
    if (zr != Z_STREAM_END || len > max) {
        free(out);
        if (len > max) return qv_fail(err, QV_ETOOLARGE, "request body exceeds the size limit");
        return qv_fail(err, QV_EBADREQUEST, "invalid gzip request body");
    }
    free(c->body);
    c->body = out, c->len = len, c->cap = cap;
    return QV_OK;
}

/* ======================================================================
 * libmicrohttpd glue
 * ====================================================================== */

static bool qv_rest_wants_gzip(struct MHD_Connection *con) {
    const char *ae = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Accept-Encoding");
    return ae && strcasestr(ae, "gzip") != NULL;
}

/* gzip-compresses rs->body when worth it; false leaves it unchanged. */
static bool qv_rest_gzip(qv_rest_resp *rs) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
    size_t cap = deflateBound(&z, rs->len) + 32;
    unsigned char *out = malloc(cap);
    bool ok = out != NULL;
    if (ok) {
        z.next_in = (Bytef *)rs->body, z.avail_in = (uInt)rs->len;
        z.next_out = out, z.avail_out = (uInt)cap;
        ok = deflate(&z, Z_FINISH) == Z_STREAM_END;
    }
    deflateEnd(&z);
    if (!ok) {
        free(out);
        return false;
    }
    free(rs->body);
    rs->body = (char *)out;
    rs->len = cap - z.avail_out;
    return true;
}

static enum MHD_Result qv_rest_queue(struct MHD_Connection *con, qv_rest_resp *rs) {
    bool gz = rs->len > QV_REST_GZIP_MIN && qv_rest_wants_gzip(con) && qv_rest_gzip(rs);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(rs->len, rs->body ? rs->body : (char *)"",
                                        rs->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(rs->body);
        return MHD_NO;
    }
    rs->body = NULL;
    MHD_add_response_header(r, "Content-Type",
                            rs->content_type ? rs->content_type : "application/json");
    if (gz) MHD_add_response_header(r, "Content-Encoding", "gzip");
    MHD_add_response_header(r, "Vary", "accept-encoding");
    if (rs->retry_after > 0) {
        char secs[24];
        snprintf(secs, sizeof secs, "%u", rs->retry_after);
        MHD_add_response_header(r, "Retry-After", secs);
    }
    enum MHD_Result ret = MHD_queue_response(con, rs->status ? rs->status : 500, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result qv_rest_queue_error(struct MHD_Connection *con, const qv_rest_conn *c,
                                           qv_rc rc, const char *msg) {
    qv_rest_resp rs = {0};
    qv_rest_req rq;
    memset(&rq, 0, sizeof rq);
    rq.t0 = c->t0;
    qv_rest_reply_error(&rq, &rs, rc, msg);
    return qv_rest_queue(con, &rs);
}

static void *qv_rest_on_uri(void *cls, const char *uri, struct MHD_Connection *con) {
    qv_rest_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    c->uri = strdup(uri ? uri : "/");
    return c;
}

static void qv_rest_on_done(void *cls, struct MHD_Connection *con, void **con_cls,
                            enum MHD_RequestTerminationCode toe) {
    qv_rest_conn *c = *con_cls;
    if (!c) return;
    free(c->uri);
    free(c->body);
    free(c);
    *con_cls = NULL;
}

/* ======================================================================
 * API keys
 * ====================================================================== */

/* The next path segment of raw[*i..n) (slashes collapsed), or false. */
static bool qv_rest_next_seg(const char *raw, size_t n, size_t *i, const char **seg, size_t *len) {
    while (*i < n && raw[*i] == '/') (*i)++;
    size_t start = *i;
    while (*i < n && raw[*i] != '/') (*i)++;
    *seg = raw + start, *len = *i - start;
    return *len > 0;
}

/* Up to cap raw (undecoded) segments of the path; the count, or cap + 1
 * when there are more. */
static size_t qv_rest_raw_segs(const char *uri, const char **seg, size_t *len, size_t cap) {
    size_t n = strcspn(uri, "?#"), i = 0, k = 0;
    const char *s;
    size_t l;
    while (qv_rest_next_seg(uri, n, &i, &s, &l)) {
        if (k == cap) return cap + 1;
        seg[k] = s, len[k++] = l;
    }
    return k;
}

static bool qv_rest_seg_is(const char *seg, size_t len, const char *lit) {
    return strlen(lit) == len && memcmp(seg, lit, len) == 0;
}

/* Paths that need no key (Qdrant's whitelist). */
static bool qv_rest_auth_free(const char **seg, size_t *len, size_t n) {
    if (n == 0) return true;
    return n == 1 &&
           (qv_rest_seg_is(seg[0], len[0], "healthz") || qv_rest_seg_is(seg[0], len[0], "livez") ||
            qv_rest_seg_is(seg[0], len[0], "readyz"));
}

/* POST endpoints that only read: /collections/{c}/points[/tail] and
 * /collections/{c}/facet.  Matched on the raw segments: a percent-encoded
 * literal is not recognised here (so it needs the read-write key), while
 * the router would decode it - failing closed. */
static bool qv_rest_post_reads(const char **seg, size_t *len, size_t n) {
    static const char *const tails[] = {
        "",
        "scroll",
        "count",
        "query",
        "query/batch",
        "query/groups",
        "search",
        "search/batch",
        "search/groups",
        "search/matrix/pairs",
        "search/matrix/offsets",
        "recommend",
        "recommend/batch",
        "recommend/groups",
        "discover",
        "discover/batch",
    };
    if (n < 3 || !qv_rest_seg_is(seg[0], len[0], "collections")) return false;
    if (n == 3 && qv_rest_seg_is(seg[2], len[2], "facet")) return true;
    if (!qv_rest_seg_is(seg[2], len[2], "points")) return false;
    char tail[64];
    size_t t = 0;
    for (size_t k = 3; k < n; k++) {
        if (t + len[k] + 1 >= sizeof tail) return false;
        if (k > 3) tail[t++] = '/';
        memcpy(tail + t, seg[k], len[k]);
        t += len[k];
    }
    tail[t] = 0;
    for (size_t k = 0; k < sizeof tails / sizeof *tails; k++)
        if (strcmp(tail, tails[k]) == 0) return true;
    return false;
}

/* QV_OK when the request may proceed (see the top of this file). */
static qv_rc qv_rest_authorize(const qv_auth *auth, struct MHD_Connection *con, const char *uri,
                               const char *method, qv_err *err) {
    if (!auth) return QV_OK;
    const char *seg[8];
    size_t len[8];
    size_t n = qv_rest_raw_segs(uri ? uri : "/", seg, len, 7);
    if (qv_rest_auth_free(seg, len, n)) return QV_OK;
    unsigned m = qv_rest_method(method);
    bool write = !(m == QV_REST_GET || m == QV_REST_HEAD ||
                   (m == QV_REST_POST && n <= 7 && qv_rest_post_reads(seg, len, n)));
    const char *key = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "api-key");
    const char *bearer = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
    return qv_auth_check(auth, key, key ? strlen(key) : 0, bearer, bearer ? strlen(bearer) : 0,
                         write, err);
}

/* Answers a refused request: 401 as plain text (as Qdrant's middleware
 * does), 403 as the JSON error. */
static enum MHD_Result qv_rest_queue_refusal(struct MHD_Connection *con, qv_rest_conn *c,
                                             const qv_err *err) {
    c->refused = true;
    if (err->kind != QV_EUNAUTHENTICATED) return qv_rest_queue_error(con, c, err->kind, err->msg);
    qv_rest_resp rs = {0};
    qv_rest_reply_raw(&rs, 401, "text/plain; charset=utf-8", err->msg, strlen(err->msg));
    return qv_rest_queue(con, &rs);
}

/* The first call of a request: check the API key, refuse a declared body
 * over the limit. */
static enum MHD_Result qv_rest_first(qv_rest_server *s, struct MHD_Connection *con, qv_rest_conn *c,
                                     const char *method) {
    c->started = true;
    qv_err err;
    qv_err_clear(&err);
    if (qv_rest_authorize(s->auth, con, c->uri, method, &err) != QV_OK)
        return qv_rest_queue_refusal(con, c, &err);
    const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
    unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
    if (n > s->max_body) {
        c->too_large = true;
        return qv_rest_queue_error(con, c, QV_ETOOLARGE, "request body exceeds the size limit");
    }
    if (n > 0) {
        c->body = malloc((size_t)n + 1);
        c->cap = c->body ? (size_t)n + 1 : 0;
    }
    return MHD_YES;
}

/* Appends a body chunk, or drops it once over the limit (or refused). */
static void qv_rest_append(qv_rest_server *s, qv_rest_conn *c, const char *data, size_t n) {
    if (c->too_large || c->refused) return;
    if (c->len + n > s->max_body) {
        c->too_large = true;
        free(c->body);
        c->body = NULL, c->len = c->cap = 0;
        return;
    }
    if (c->len + n + 1 > c->cap) {
        size_t ncap = c->cap ? c->cap : 4096;
        while (ncap < c->len + n + 1) ncap *= 2;
        char *b = realloc(c->body, ncap);
        if (!b) { /* treated like an over-limit body: nothing sane to do */
            c->too_large = true;
            return;
        }
        c->body = b, c->cap = ncap;
    }
    memcpy(c->body + c->len, data, n);
    c->len += n;
    c->body[c->len] = 0;
}

/* The last call: inflate, dispatch, reply. */
static enum MHD_Result qv_rest_finish(qv_rest_server *s, struct MHD_Connection *con,
                                      qv_rest_conn *c, const char *method) {
    if (c->refused) return MHD_YES; /* answered in qv_rest_first */
    if (c->too_large)
        return qv_rest_queue_error(con, c, QV_ETOOLARGE, "request body exceeds the size limit");
    const char *ce = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Encoding");
    if (ce && c->len > 0 && (strcasecmp(ce, "gzip") == 0 || strcasecmp(ce, "deflate") == 0)) {
        qv_err err;
        qv_err_clear(&err);
        if (qv_rest_inflate(c, s->max_body, &err) != QV_OK)
            return qv_rest_queue_error(con, c, err.kind, err.msg);
    }
    qv_rest_resp rs = {0};
    qv_rest_dispatch(s, c, method, &rs);
    return qv_rest_queue(con, &rs);
}

static enum MHD_Result qv_rest_on_request(void *cls, struct MHD_Connection *con, const char *url,
                                          const char *method, const char *version, const char *data,
                                          size_t *data_size, void **con_cls) {
    qv_rest_server *s = cls;
    qv_rest_conn *c = *con_cls;
    if (!c) return MHD_NO; /* the URI callback ran out of memory: drop the connection */
    if (!c->started) return qv_rest_first(s, con, c, method);
    if (*data_size > 0) {
        qv_rest_append(s, c, data, *data_size);
        *data_size = 0;
        return MHD_YES;
    }
    return qv_rest_finish(s, con, c, method);
}

static void qv_rest_mhd_log(void *cls, const char *fmt, va_list ap) {
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    buf[strcspn(buf, "\n")] = 0;
    QV_LOG_DEBUG("libmicrohttpd: %s", buf);
}

/* ======================================================================
 * Listening socket
 * ====================================================================== */

/* Binds and listens on one address; -1 with errno set on failure. */
static int qv_rest_bind(const struct sockaddr *sa, socklen_t len, bool dual) {
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof one);
    if (bind(fd, sa, len) == 0 && listen(fd, 1024) == 0) return fd;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

/* "0.0.0.0" / "::" / empty: every address, IPv6 and IPv4 on one
 * dual-stack socket (IPv4 alone where the kernel has no IPv6). */
static int qv_rest_bind_any(uint16_t port) {
    struct sockaddr_in6 a6;
    memset(&a6, 0, sizeof a6);
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_any;
    a6.sin6_port = htons(port);
    int fd = qv_rest_bind((struct sockaddr *)&a6, sizeof a6, true);
    if (fd >= 0 || (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL)) return fd;
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof a4);
    a4.sin_family = AF_INET;
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    a4.sin_port = htons(port);
    return qv_rest_bind((struct sockaddr *)&a4, sizeof a4, false);
}

static int qv_rest_listen(const char *host, uint16_t port, qv_err *err) {
    if (!host || !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        int fd = qv_rest_bind_any(port);
        if (fd < 0) qv_fail(err, QV_EIO, "cannot listen on port %u: %s", port, strerror(errno));
        return fd;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    int gr = getaddrinfo(host, ps, &hints, &res);
    if (gr != 0) {
        qv_fail(err, QV_EIO, "cannot resolve host %s: %s", host, gai_strerror(gr));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = qv_rest_bind(ai->ai_addr, ai->ai_addrlen, false);
        if (fd < 0) e = errno;
    }
    freeaddrinfo(res);
    if (fd < 0) qv_fail(err, QV_EIO, "cannot listen on %s:%u: %s", host, port, strerror(e));
    return fd;
}

/* ======================================================================
 * Start / stop
 * ====================================================================== */

qv_rc qv_rest_start(const qv_rest_opts *o, qv_catalog *cat, qv_rest_server **out, qv_err *err) {
    *out = NULL;
    qv_rest_server *s = calloc(1, sizeof *s);
    if (!s) return qv_fail(err, QV_ENOMEM, "out of memory");
    s->cat = cat;
    s->auth = o->auth;
    s->max_body = o->max_request_bytes ? o->max_request_bytes : QV_REST_DEFAULT_MAX_BODY;
    int fd = qv_rest_listen(o->host, o->port, err);
    if (fd < 0) {
        free(s);
        return QV_EIO;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    s->daemon = MHD_start_daemon(
        flags, o->port, NULL, NULL, qv_rest_on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_URI_LOG_CALLBACK, qv_rest_on_uri, s, MHD_OPTION_NOTIFY_COMPLETED,
        qv_rest_on_done, s, MHD_OPTION_EXTERNAL_LOGGER, qv_rest_mhd_log, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)1024, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
        MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        free(s);
        return qv_fail(err, QV_EIO, "cannot start the HTTP server on port %u", o->port);
    }
    QV_LOG_INFO("REST API listening on %s:%u", o->host && *o->host ? o->host : "0.0.0.0", o->port);
    *out = s;
    return QV_OK;
}

void qv_rest_stop(qv_rest_server *s) {
    if (!s) return;
    MHD_stop_daemon(s->daemon); /* joins the connection threads, closes the socket */
    free(s);
}

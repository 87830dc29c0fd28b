/*
 * test_concurrency.c - many threads reading and writing one collection at
 * once, plus the flush thread checkpointing underneath them.  Run under
 * ThreadSanitizer by the test command (make BUILD=tsan unit); under the
 * other builds it checks the invariants only.
 *
 * Writers own disjoint ID ranges and upsert, update payloads and delete;
 * readers query, scroll, count and retrieve concurrently and check that
 * what they see is internally consistent (a point's payload always names
 * the writer that owns its ID; counts never exceed what was written).
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collection/catalog.h"
#include "collection/collection_impl.h"
#include "core/log.h"

#define DIM            16
#define WRITERS        4
#define READERS        4
#define IDS_PER_WRITER 200

/* 300 operations per writer; 60 under valgrind (make valgrind sets
 * QV_UNDER_VALGRIND), which serialises the threads and would otherwise take
 * minutes behind the writer-preferring lock. */
static int ops_per_writer = 300;

static char root[256];
static qv_collection *coll;
static atomic_int writers_done;

static qv_rc upsert_one(int w, uint64_t id, int round) {
    qv_arena a;
    qv_arena_init(&a);
    float v[DIM];
    for (int k = 0; k < DIM; k++)
        v[k] = (float)((id * 31 + (uint64_t)k * 7 + (uint64_t)round) % 97) / 97.0f;
    qv_vec_in vin = {"", DIM, v};
    char text[64];
    snprintf(text, sizeof text, "{\"w\":%d,\"r\":%d}", w, round);
    qv_point_in p = {.id = qv_pointid_num(id), .nvec = 1, .vecs = &vin, .has_payload = true};
    jv_parse(&a, text, strlen(text), &p.payload, NULL);
    jv_resolve_numbers(&p.payload);
    qv_update_op op = {.kind = QV_OP_UPSERT, .npoints = 1, .points = &p};
    uint64_t opnum;
    qv_write_status st;
    qv_err err;
    qv_rc rc = qv_collection_update(coll, &op, round % 10 == 0, &opnum, &st, &err);
    qv_arena_free(&a);
    return rc;
}

static void *writer(void *arg) {
    int w = (int)(intptr_t)arg;
    uint64_t base = (uint64_t)w * 1000;
    for (int i = 0; i < ops_per_writer; i++) {
        uint64_t id = base + (uint64_t)(i % IDS_PER_WRITER);
        if (i % 7 == 6) {
            qv_pointid pid = qv_pointid_num(id);
            qv_update_op op = {.kind = QV_OP_DELETE, .nids = 1, .ids = &pid};
            uint64_t opnum;
            qv_write_status st;
            if (qv_collection_update(coll, &op, false, &opnum, &st, NULL) != QV_OK) abort();
        } else if (upsert_one(w, id, i) != QV_OK) {
            abort();
        }
        if (i % 50 == 0) qv_collection_flush(coll, true, NULL);
    }
    atomic_fetch_add(&writers_done, 1);
    return NULL;
}

/* A point's payload must name the writer that owns its ID range. */
static bool check_point(void *ctx, const qv_point_view *p, float score) {
    int *bad = ctx;
    const jv *w = p->payload ? jv_get(p->payload, "w") : NULL;
    int64_t wv = -1;
    if (!w || !jv_to_i64(w, &wv) || (uint64_t)wv != p->id.lo / 1000) (*bad)++;
    if (!qv_point_vector(p, 0)) (*bad)++;
    return true;
}

static void *reader(void *arg) {
    int bad = 0, rounds = 0;
    while (atomic_load(&writers_done) < WRITERS || rounds < 5) {
        float q[DIM];
        for (int k = 0; k < DIM; k++) q[k] = (float)((rounds + k) % 5);
        qv_query query = {
            .kind = QV_QUERY_NEAREST, .using = "", .vector = q, .dim = DIM, .limit = 10};
        if (qv_collection_query(coll, &query, 1, NULL, NULL, check_point, &bad, NULL) != QV_OK)
            bad++;
        qv_pointid next;
        bool has_next;
        if (qv_collection_scroll(coll, NULL, NULL, 50, NULL, check_point, &bad, &next, &has_next,
                                 NULL) != QV_OK)
            bad++;
        uint64_t n;
        if (qv_collection_count(coll, NULL, NULL, &n, NULL) != QV_OK ||
            n > WRITERS * IDS_PER_WRITER)
            bad++;
        qv_pointid ids[3] = {qv_pointid_num(1), qv_pointid_num(1001), qv_pointid_num(2002)};
        qv_collection_retrieve(coll, ids, 3, NULL, check_point, &bad, NULL);
        rounds++;
    }
    return (void *)(intptr_t)bad;
}

static void test_parallel_reads_and_writes(void **state) {
    qv_catalog_opts o = {root, 1, 1};
    qv_catalog *cat;
    qv_err err;
    assert_int_equal(qv_catalog_open(&o, &cat, &err), QV_OK);
    qv_collection_config cfg;
    qv_collection_config_defaults(&cfg);
    cfg.nvectors = 1;
    cfg.vectors = qv_arena_calloc(&cfg.arena, sizeof(qv_vector_params));
    cfg.vectors[0].name = qv_arena_strndup(&cfg.arena, "", 0);
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = QV_DIST_COSINE;
    cfg.wal.wal_capacity_mb = 1;
    assert_int_equal(qv_catalog_create(cat, "conc", &cfg, &err), QV_OK);
    coll = qv_catalog_acquire(cat, "conc");
    pthread_t th[WRITERS + READERS];
    for (int i = 0; i < WRITERS; i++) pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i);
    for (int i = 0; i < READERS; i++) pthread_create(&th[WRITERS + i], NULL, reader, NULL);
    int bad = 0;
    for (int i = 0; i < WRITERS + READERS; i++) {
        void *r;
        pthread_join(th[i], &r);
        bad += (int)(intptr_t)r;
    }
    assert_int_equal(bad, 0);
    /* Final state: each writer's last round for each ID decides presence. */
    uint64_t n;
    assert_int_equal(qv_collection_count(coll, NULL, NULL, &n, NULL), QV_OK);
    uint64_t expect = 0;
    for (int id = 0; id < IDS_PER_WRITER; id++) {
        int last = -1;
        for (int i = 0; i < ops_per_writer; i++)
            if (i % IDS_PER_WRITER == id) last = i;
        if (last >= 0 && last % 7 != 6) expect++;
    }
    assert_int_equal(n, expect * WRITERS);
    qv_collection_release(coll);
    qv_catalog_close(cat);
}

int main(void) {
    qv_log_set_level(QV_LOG_LVL_ERROR);
    if (getenv("QV_UNDER_VALGRIND")) ops_per_writer = 60;
    snprintf(root, sizeof root, "/tmp/qv-test-conc-XXXXXX");
    if (!mkdtemp(root)) return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_parallel_reads_and_writes)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    qv_rmtree(root);
    return rc;
}

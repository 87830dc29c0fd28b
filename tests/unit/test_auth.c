/*
 * test_auth.c - API-key decisions (api/auth): where the key is read from,
 * what each key allows, the exact messages, and that near misses (a prefix
 * of the key, the key plus a byte, a NUL inside) never match.
 *
 * The servers' own parts (which paths and methods are whitelisted or count
 * as reads) are tested end to end in tests/py/test_auth.py and
 * tests/grpc/test_grpc_auth.py.
 */
#include "harness.h"

#include <stdbool.h>
#include <string.h>

#include "api/auth.h"

/* Runs one decision with NUL-terminated header values (NULL = absent). */
static qv_rc check(const qv_auth *a, const char *key, const char *authz, bool write, qv_err *err) {
    qv_err_clear(err);
    return qv_auth_check(a, key, key ? strlen(key) : 0, authz, authz ? strlen(authz) : 0, write,
                         err);
}

static void test_off_without_keys(void **state) {
    bool oom = true;
    assert_null(qv_auth_new(NULL, NULL, &oom));
    assert_false(oom);
    assert_null(qv_auth_new("", "", &oom)); /* empty = unset, as in Qdrant */
    assert_false(oom);
    qv_err err;
    assert_int_equal(check(NULL, NULL, NULL, true, &err), QV_OK);
}

static void test_read_write_key(void **state) {
    bool oom;
    qv_auth *a = qv_auth_new("s3cret", NULL, &oom);
    assert_non_null(a);
    qv_err err;
    assert_int_equal(check(a, "s3cret", NULL, true, &err), QV_OK);
    assert_int_equal(check(a, NULL, "Bearer s3cret", true, &err), QV_OK);
    assert_int_equal(check(a, "s3cret", "Bearer wrong", false, &err), QV_OK);

    assert_int_equal(check(a, NULL, NULL, false, &err), QV_EUNAUTHENTICATED);
    assert_string_equal(err.msg, "Must provide an API key or an Authorization bearer token");
    assert_int_equal(check(a, NULL, "s3cret", false, &err), QV_EUNAUTHENTICATED);
    assert_string_equal(err.msg, "Must provide an API key or an Authorization bearer token");
    assert_int_equal(check(a, NULL, "bearer s3cret", false, &err), QV_EUNAUTHENTICATED);
    assert_int_equal(check(a, NULL, "Bearer", false, &err), QV_EUNAUTHENTICATED);

    static const char *const wrong[] = {"", "s3cre", "s3cret!", "S3cret", "s3crex", "x"};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        assert_int_equal(check(a, wrong[i], NULL, false, &err), QV_EUNAUTHENTICATED);
        assert_string_equal(err.msg, "Invalid API key or JWT");
    }
    /* the api-key header wins even when Authorization holds the right key */
    assert_int_equal(check(a, "nope", "Bearer s3cret", false, &err), QV_EUNAUTHENTICATED);
    assert_int_equal(check(a, NULL, "Bearer s3cret ", false, &err), QV_EUNAUTHENTICATED);
    /* a NUL inside the candidate: compared by length, never as a C string */
    assert_int_equal(qv_auth_check(a, "s3cret\0x", 8, NULL, 0, false, &err), QV_EUNAUTHENTICATED);
    assert_int_equal(qv_auth_check(a, "s3c\0et", 6, NULL, 0, false, &err), QV_EUNAUTHENTICATED);
    qv_auth_free(a);
}

static void test_read_only_key(void **state) {
    bool oom;
    qv_auth *a = qv_auth_new("rw", "ro", &oom);
    assert_non_null(a);
    qv_err err;
    assert_int_equal(check(a, "ro", NULL, false, &err), QV_OK);
    assert_int_equal(check(a, NULL, "Bearer ro", false, &err), QV_OK);
    assert_int_equal(check(a, "ro", NULL, true, &err), QV_EFORBIDDEN);
    assert_string_equal(err.msg, "Global manage access is required");
    assert_int_equal(check(a, "rw", NULL, true, &err), QV_OK);
    assert_int_equal(check(a, "r", NULL, false, &err), QV_EUNAUTHENTICATED);
    qv_auth_free(a);

    /* only a read-only key: reads with it, nothing can write */
    a = qv_auth_new(NULL, "ro", &oom);
    assert_non_null(a);
    assert_int_equal(check(a, "ro", NULL, false, &err), QV_OK);
    assert_int_equal(check(a, "ro", NULL, true, &err), QV_EFORBIDDEN);
    assert_int_equal(check(a, "", NULL, true, &err), QV_EUNAUTHENTICATED);
    assert_int_equal(check(a, NULL, NULL, false, &err), QV_EUNAUTHENTICATED);
    qv_auth_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_without_keys),
        cmocka_unit_test(test_read_write_key),
        cmocka_unit_test(test_read_only_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

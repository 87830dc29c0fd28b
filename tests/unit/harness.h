/*
 * harness.h - common includes for the C unit tests (cmocka).
 *
 * Each tests/unit/test_<subsystem>.c is one binary that mirrors one
 * subsystem of src/, built by `make unit` and linked with libquiver.a.
 */
#ifndef QV_TEST_HARNESS_H
#define QV_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#endif

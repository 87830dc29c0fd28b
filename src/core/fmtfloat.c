/*
 * fmtfloat.c - shortest round-trip float printing in serde_json/ryu style.
 *
 * Two independent steps:
 *
 * 1. Digits.  The shortest decimal significand that reads back to exactly
 *    x (f64 through strtod; f32 through (float)strtod, which is how serde
 *    and the clients read an f32).  The set of decimals that read back to
 *    x is an interval around x, so if some P-digit decimal lies in it, then
 *    either the correctly rounded P-digit value or its neighbour on the
 *    other side of x does; and if P digits work, P+1 digits work too (append
 *    a zero).  So the shortest length is found by binary search over P,
 *    testing at each P the correctly rounded value and, if that fails, its
 *    neighbour.  The digits come from one snprintf "%.*e" at full
 *    precision (exact in glibc, ties to even), re-rounded per P (see
 *    dec_round_from), and candidates are checked with Clinger's exact fast
 *    path when it applies, strtod otherwise.  Among the
 *    shortest candidates the correctly rounded one is preferred, which is
 *    the one ryu picks (ryu also rounds exact ties to even).
 *
 * 2. Layout, copied from ryu's pretty printer (ryu 1.0 `format64` /
 *    `format32`, which serde_json uses).  With the digits d1..dn and kk such
 *    that 10^(kk-1) <= |x| < 10^kk:
 *      f64: plain decimal when -5 < kk <= 16, else exponent form;
 *      f32: plain decimal when -6 < kk <= 13, else exponent form.
 *    Plain: "123.45", integral values get ".0" ("1.0", "1000.0"), small
 *    values "0.00123".  Exponent form: "1e20", "1.5e-7", "5e-324" (no '+',
 *    no leading zeros in the exponent).  Zero prints "0.0" / "-0.0".
 *    So f64 1e16 -> "1e16", 1e15 -> "1000000000000000.0", 1e-5 ->
 *    "0.00001", 1e-6 -> "1e-6"; f32 1e13 -> "1e13", 1e-6 -> "0.000001".
 *
 * Non-finite values print "null" (serde_json does the same for f32/f64).
 */
#include "core/json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decimal candidate: digits dig[0..nd) (no dot), value 0.d1d2.. * 10^kk. */
typedef struct dec {
    char dig[24];
    int nd;
    int kk;
} dec;

/* Renders x (> 0) correctly rounded to p significant digits. */
static void dec_round(double x, int p, dec *d) {
    char b[40];
    snprintf(b, sizeof b, "%.*e", p - 1, x);
    /* b = "D.DDDDe[+-]XX" or "De[+-]XX" */
    int nd = 0;
    const char *s = b;
    for (; *s && *s != 'e'; s++)
        if (*s != '.') d->dig[nd++] = *s;
    d->nd = nd;
    d->kk = atoi(s + 1) + 1;
}

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The double strtod would return for the candidate.  Fast path (Clinger):
 * a significand below 2^53 times an exact power of ten 10^s, |s| <= 22, is
 * one correctly rounded IEEE operation, i.e. exactly strtod's result.
 * Otherwise the text goes through strtod. */
static double dec_value(const dec *d, int is32) {
    uint64_t w = 0;
    for (int k = 0; k < d->nd; k++) w = w * 10 + (uint64_t)(d->dig[k] - '0');
    int scale = d->kk - d->nd;
    double v;
    if (w < (1ull << 53) && scale >= -22 && scale <= 22) {
        v = scale < 0 ? (double)w / pow10_tab[-scale] : (double)w * pow10_tab[scale];
    } else {
        char b[48];
        b[0] = '0';
        b[1] = '.';
        memcpy(b + 2, d->dig, (size_t)d->nd);
        snprintf(b + 2 + d->nd, sizeof b - 2 - (size_t)d->nd, "e%d", d->kk);
        v = strtod(b, NULL);
    }
    return is32 ? (double)(float)v : v;
}

/* Moves d one unit in the last place up (dir > 0) or down. */
static void dec_step(dec *d, int dir) {
    int k = d->nd - 1;
    if (dir > 0) {
        while (k >= 0 && d->dig[k] == '9') d->dig[k--] = '0';
        if (k >= 0) {
            d->dig[k]++;
        } else { /* 999 -> 1000: one more power of ten */
            d->dig[0] = '1';
            d->kk++;
        }
    } else {
        while (k >= 0 && d->dig[k] == '0') d->dig[k--] = '9';
        if (k < 0) return; /* all zeros: cannot happen, digits start 1-9 */
        d->dig[k]--;
        if (d->dig[0] == '0') { /* 1000 -> 0999 -> 9999 (one power less) */
            for (int j = 0; j < d->nd; j++) d->dig[j] = '9';
            d->kk--;
        }
    }
}

/* Correctly rounded p-digit value of x, derived from full, the correctly
 * rounded value at the maximum precision (one snprintf per number instead
 * of one per tried length).  Rounding full again gives the same result as
 * rounding x directly unless full's dropped tail is exactly "50...0": a
 * p-digit midpoint has at most maxp digits, so if it lay between x and
 * full, it would be closer to x than full is.  That tie case re-rounds x. */
static void dec_round_from(double x, const dec *full, int p, dec *d) {
    if (p >= full->nd) {
        *d = *full;
        return;
    }
    int tie = full->dig[p] == '5';
    for (int k = p + 1; k < full->nd && tie; k++) tie = full->dig[k] == '0';
    if (tie) {
        dec_round(x, p, d);
        return;
    }
    memcpy(d->dig, full->dig, (size_t)p);
    d->nd = p;
    d->kk = full->kk;
    if (full->dig[p] >= '5') dec_step(d, 1);
}

/* True when some p-digit decimal reads back to x; *d is then the one ryu
 * would print (the correctly rounded one if it works). */
static int dec_try(double x, const dec *full, int p, int is32, dec *d) {
    dec_round_from(x, full, p, d);
    double v = dec_value(d, is32);
    if (v == x) return 1;
    dec_step(d, v < x ? 1 : -1);
    return dec_value(d, is32) == x;
}

static void dec_trim(dec *d) {
    while (d->nd > 1 && d->dig[d->nd - 1] == '0') d->nd--;
}

/* Shortest round-trip digits of x > 0 (finite). */
static void shortest(double x, int is32, dec *out) {
    int lo = 1, hi = is32 ? 9 : 17;
    dec full, d;
    dec_round(x, hi, &full);
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (dec_try(x, &full, mid, is32, &d))
            hi = mid;
        else
            lo = mid + 1;
    }
    if (!dec_try(x, &full, lo, is32, out)) *out = full; /* unreachable */
    dec_trim(out);
}

/* ryu's layout switch (see the top of this file). */
static int layout(char *buf, int neg, const dec *d, int maxkk, int minkk) {
    char *o = buf;
    int nd = d->nd, kk = d->kk;
    if (neg) *o++ = '-';
    if (kk >= nd && kk <= maxkk) { /* 1234e7 -> 12340000000.0 */
        memcpy(o, d->dig, (size_t)nd);
        o += nd;
        for (int k = nd; k < kk; k++) *o++ = '0';
        *o++ = '.';
        *o++ = '0';
    } else if (kk > 0 && kk <= maxkk) { /* 1234e-2 -> 12.34 */
        memcpy(o, d->dig, (size_t)kk);
        o += kk;
        *o++ = '.';
        memcpy(o, d->dig + kk, (size_t)(nd - kk));
        o += nd - kk;
    } else if (kk > minkk && kk <= 0) { /* 1234e-6 -> 0.001234 */
        *o++ = '0';
        *o++ = '.';
        for (int k = kk; k < 0; k++) *o++ = '0';
        memcpy(o, d->dig, (size_t)nd);
        o += nd;
    } else { /* 1e30, 1.234e33, 1.5e-7 */
        *o++ = d->dig[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, d->dig + 1, (size_t)(nd - 1));
            o += nd - 1;
        }
        o += sprintf(o, "e%d", kk - 1);
    }
    *o = '\0';
    return (int)(o - buf);
}

static int fmt_special(char *buf, double x) {
    if (!isfinite(x)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    if (signbit(x)) {
        memcpy(buf, "-0.0", 5);
        return 4;
    }
    memcpy(buf, "0.0", 4);
    return 3;
}

int fmt_f64(char *buf, double x) {
    if (!isfinite(x) || x == 0) return fmt_special(buf, x);
    dec d;
    shortest(fabs(x), 0, &d);
    return layout(buf, x < 0, &d, 16, -5);
}

int fmt_f32(char *buf, float x) {
    if (!isfinite(x) || x == 0) return fmt_special(buf, x);
    dec d;
    shortest(fabs((double)x), 1, &d);
    return layout(buf, x < 0, &d, 13, -6);
}

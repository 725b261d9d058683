/* Straus w-NAF multi-exponentiation rows in Montgomery form: GMP's mpn layer, or AVX-512 IFMA.
 *
 * wnaf_rows(bases, rows, modulus, window, vector=True) -> list[int]
 *
 *     y_j = Π_k bases[k]^rows[j][k] mod modulus      (signed exponents, odd modulus > 1)
 *
 * The algorithm of hefl.crypto.multiexp (see its module docstring): every exponent is recoded in
 * w-NAF (odd digits |δ| < 2^(w−1), at least w − 1 zeros between non-zero digits); every base used
 * by some row gets the tables of its odd powers b^1, b^3, …, b^(2^(w−1) − 1) and of its inverse's,
 * shared by all rows; a row is one accumulator, squared once per bit position from the top digit
 * down and multiplied by the table entry of every digit at that position.
 *
 * Arithmetic: every residue a is held in Montgomery form ã = a·R mod m and multiplied as
 * ã·b̃·R^−1 ≡ (ab)~ (mod m), which needs no division by m. Two backends, the same residues:
 *
 * - mpn (any x86-64 or other 64-bit CPU): R = 2^(64n) for the n limbs of m;
 *       T = ã·b̃ (mpn_mul_n / mpn_sqr);  for i < n: T += (T_i·(−m^−1) mod 2^64)·m·2^(64i);
 *       result = T / R, minus m if ≥ m      (T < m² + R·m, so T / R < 2m);
 *   ≈ 1.9 + 3.0 µs at 4096 bits, against ≈ 1.6 + 3.6 µs for gmpy2's a * b % m.
 * - vector (CPUs with AVX-512 IFMA, checked at run time): K = 8V digits of 52 bits in V zmm
 *   registers, R = 2^(52K) with 4m < R, and Gueron–Krasnov's almost-Montgomery product: for each
 *   digit b_i, acc += a·b_i + y·m with y = acc_0·(−m^−1) mod 2^52 (vpmadd52luq / vpmadd52huq:
 *   the low and high 52 bits of 52 × 52-bit products, summed in 64-bit lanes without carries),
 *   then acc shifts down one digit; the carries are propagated once per product. Inputs below 2m
 *   give a result below (4m² + R·m)/R < 2m, so values stay in [0, 2m) and only the final
 *   conversion reduces fully. ≈ 1.3 µs at 4096 bits (V = 10).
 *
 * Table entries and running products are converted once each way. Inputs are read with the GIL
 * held; the tables and rows are computed with it released.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <gmp.h>
#include <stdint.h>
#include <string.h>

#if GMP_NUMB_BITS != 64 || GMP_NAIL_BITS != 0
#error "hefl's multi-exponentiation kernel needs 64-bit GMP limbs without nails"
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_VECTOR 1
#include <immintrin.h>
#else
#define HAVE_VECTOR 0
#endif

typedef struct Arith Arith;
struct Arith {
    size_t words;                 /* uint64 words per element */
    mpz_srcptr m;                 /* the modulus */
    void (*mul)(const Arith *, uint64_t *r, const uint64_t *a, const uint64_t *b);
    void (*to_form)(const Arith *, uint64_t *dst, mpz_srcptr z);   /* z in [0, m) */
    void (*from_form)(const Arith *, mpz_ptr out, const uint64_t *src);
    /* mpn */
    mp_size_t n;
    mp_limb_t *mod;               /* m, n limbs */
    mp_limb_t minv;               /* −m^−1 mod 2^64 */
    mp_limb_t *t;                 /* 2n limbs of scratch */
    /* vector */
    void (*amm)(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *m, uint64_t k0);
    uint64_t *mdig;               /* m in 52-bit digits */
    uint64_t k0;                  /* −m^−1 mod 2^52 */
    uint64_t *one;                /* 1 in 52-bit digits */
};

/* −m^−1 mod 2^64 by Newton's iteration: x ← x·(2 − m·x) doubles the correct low bits. */
static uint64_t neg_inverse_64(uint64_t m0)
{
    uint64_t x = m0; /* m0·m0 ≡ 1 mod 8: three bits */
    for (int i = 0; i < 5; i++)
        x *= 2 - m0 * x;
    return (uint64_t)0 - x;
}

/* ---- mpn backend ---- */

/* r = t·R^−1 mod m for t < m·R (2n limbs, destroyed); r may not overlap t. */
static void redc(const Arith *A, mp_limb_t *r, mp_limb_t *t)
{
    mp_size_t n = A->n;
    for (mp_size_t i = 0; i < n; i++)
        t[i] = mpn_addmul_1(t + i, A->mod, n, t[i] * A->minv); /* t_i becomes 0: keep the carry */
    mp_limb_t cy = mpn_add_n(r, t + n, t, n);                 /* the carries belong at limb n + i */
    if (cy || mpn_cmp(r, A->mod, n) >= 0)
        mpn_sub_n(r, r, A->mod, n);
}

static void mpn_mont_mul(const Arith *A, uint64_t *r, const uint64_t *a, const uint64_t *b)
{
    if (a == b)
        mpn_sqr(A->t, (mp_srcptr)a, A->n);
    else
        mpn_mul_n(A->t, (mp_srcptr)a, (mp_srcptr)b, A->n);
    redc(A, (mp_ptr)r, A->t);
}

static void mpn_to_form(const Arith *A, uint64_t *dst, mpz_srcptr z)
{
    mpz_t x;
    mpz_init(x);
    mpz_mul_2exp(x, z, (mp_bitcnt_t)(64 * A->n));
    mpz_mod(x, x, A->m);
    memset(dst, 0, A->words * sizeof(uint64_t));
    mpn_copyi((mp_ptr)dst, mpz_limbs_read(x), (mp_size_t)mpz_size(x));
    mpz_clear(x);
}

static void mpn_from_form(const Arith *A, mpz_ptr out, const uint64_t *src)
{
    mp_size_t n = A->n;
    memcpy(A->t, src, (size_t)n * sizeof(mp_limb_t)); /* REDC(ỹ·1) = y */
    memset(A->t + n, 0, (size_t)n * sizeof(mp_limb_t));
    mp_limb_t *y = mpz_limbs_write(out, n);
    redc(A, y, A->t);
    mpz_limbs_finish(out, n);
}

/* ---- vector backend (AVX-512 IFMA) ---- */

#define DIGIT_MASK (((uint64_t)1 << 52) - 1)
#define MAX_VECTORS 12 /* moduli up to 52·96 − 2 bits; larger ones use the mpn backend */

static void to_digits(uint64_t *dst, mpz_srcptr z, size_t k)
{
    mpz_t t;
    mpz_init_set(t, z);
    for (size_t j = 0; j < k; j++) {
        dst[j] = (uint64_t)mpz_getlimbn(t, 0) & DIGIT_MASK;
        mpz_tdiv_q_2exp(t, t, 52);
    }
    mpz_clear(t);
}

static void from_digits(mpz_ptr z, const uint64_t *src, size_t k)
{
    mpz_set_ui(z, 0);
    for (size_t j = k; j-- > 0;) {
        mpz_mul_2exp(z, z, 52);
        mpz_add_ui(z, z, (unsigned long)src[j]);
    }
}

static void vec_mul(const Arith *A, uint64_t *r, const uint64_t *a, const uint64_t *b)
{
    A->amm(r, a, b, A->mdig, A->k0);
}

static void vec_to_form(const Arith *A, uint64_t *dst, mpz_srcptr z)
{
    mpz_t x;
    mpz_init(x);
    mpz_mul_2exp(x, z, (mp_bitcnt_t)(52 * A->words));
    mpz_mod(x, x, A->m);
    to_digits(dst, x, A->words);
    mpz_clear(x);
}

static void vec_from_form(const Arith *A, mpz_ptr out, const uint64_t *src)
{
    uint64_t *y = A->t; /* scratch of ≥ words */
    A->amm(y, src, A->one, A->mdig, A->k0); /* ỹ·1·R^−1 = y, at most m */
    from_digits(out, y, A->words);
    mpz_mod(out, out, A->m);
}

#if HAVE_VECTOR
#pragma GCC push_options
#pragma GCC target("avx512f,avx512ifma")

/* r = a·b·2^(−52·8V) mod m, almost reduced (see the header); a, b below 2m in normalised
 * 52-bit digits; r may alias a or b. */
static inline __attribute__((always_inline)) void amm_body(uint64_t *r, const uint64_t *a,
                                                           const uint64_t *b, const uint64_t *m,
                                                           uint64_t k0, const int V)
{
    __m512i va[MAX_VECTORS], vm[MAX_VECTORS], acc[MAX_VECTORS];
    const __m512i zero = _mm512_setzero_si512();
#pragma GCC unroll 16
    for (int v = 0; v < V; v++) {
        va[v] = _mm512_loadu_si512((const void *)(a + 8 * v));
        vm[v] = _mm512_loadu_si512((const void *)(m + 8 * v));
        acc[v] = zero;
    }
    const uint64_t m0 = m[0];
    for (int i = 0; i < 8 * V; i++) {
        const __m512i bi = _mm512_set1_epi64((long long)b[i]);
#pragma GCC unroll 16
        for (int v = 0; v < V; v++)
            acc[v] = _mm512_madd52lo_epu64(acc[v], va[v], bi);
        const uint64_t acc0 = (uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(acc[0]));
        const uint64_t y = ((acc0 & DIGIT_MASK) * k0) & DIGIT_MASK;
        const uint64_t carry = (acc0 + ((m0 * y) & DIGIT_MASK)) >> 52; /* digit 0 is now 0 */
        const __m512i vy = _mm512_set1_epi64((long long)y);
#pragma GCC unroll 16
        for (int v = 0; v < V; v++)
            acc[v] = _mm512_madd52lo_epu64(acc[v], vm[v], vy);
#pragma GCC unroll 16
        for (int v = 0; v < V - 1; v++) /* down one digit */
            acc[v] = _mm512_alignr_epi64(acc[v + 1], acc[v], 1);
        acc[V - 1] = _mm512_alignr_epi64(zero, acc[V - 1], 1);
        acc[0] = _mm512_add_epi64(acc[0], _mm512_maskz_set1_epi64(1, (long long)carry));
#pragma GCC unroll 16
        for (int v = 0; v < V; v++) /* the high halves belong one digit up: here after the shift */
            acc[v] = _mm512_madd52hi_epu64(acc[v], va[v], bi);
#pragma GCC unroll 16
        for (int v = 0; v < V; v++)
            acc[v] = _mm512_madd52hi_epu64(acc[v], vm[v], vy);
    }
    uint64_t lanes[8 * MAX_VECTORS];
#pragma GCC unroll 16
    for (int v = 0; v < V; v++)
        _mm512_storeu_si512((void *)(lanes + 8 * v), acc[v]);
    uint64_t c = 0; /* lanes hold < 2^61: 4 terms below 2^52 per step, ≤ 8V steps per digit */
    for (int j = 0; j < 8 * V; j++) {
        const uint64_t x = lanes[j] + c;
        r[j] = x & DIGIT_MASK;
        c = x >> 52;
    }
}

#define AMM(V)                                                                                     \
    static void amm##V(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *m,       \
                       uint64_t k0)                                                                \
    {                                                                                              \
        amm_body(r, a, b, m, k0, V);                                                               \
    }
AMM(1)
AMM(2)
AMM(3)
AMM(4)
AMM(5)
AMM(6)
AMM(7)
AMM(8)
AMM(9)
AMM(10)
AMM(11)
AMM(12)
#pragma GCC pop_options

typedef void (*AmmFn)(uint64_t *, const uint64_t *, const uint64_t *, const uint64_t *, uint64_t);
static const AmmFn amm_by_vectors[MAX_VECTORS + 1] = {
    NULL, amm1, amm2, amm3, amm4, amm5, amm6, amm7, amm8, amm9, amm10, amm11, amm12,
};

static int cpu_has_vector(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
}
#else
static int cpu_has_vector(void)
{
    return 0;
}
#endif

/* Set up the backend for m (odd, > 1); vector: use AVX-512 IFMA if the CPU has it and m fits.
 * Returns 0, or −1 when out of memory. */
static int arith_init(Arith *A, mpz_srcptr m, int vector)
{
    memset(A, 0, sizeof(*A));
    A->m = m;
    A->n = (mp_size_t)mpz_size(m);
    uint64_t minv = neg_inverse_64((uint64_t)mpz_getlimbn(m, 0));
#if HAVE_VECTOR
    size_t vectors = (mpz_sizeinbase(m, 2) + 2 + 52 * 8 - 1) / (52 * 8); /* 4m < 2^(52·8V) */
    if (vector && vectors <= MAX_VECTORS && cpu_has_vector()) {
        A->words = 8 * vectors;
        A->amm = amm_by_vectors[vectors];
        A->k0 = minv & DIGIT_MASK;
        A->mdig = calloc(A->words, sizeof(uint64_t));
        A->one = calloc(A->words, sizeof(uint64_t));
        A->t = calloc(A->words, sizeof(uint64_t));
        if (!A->mdig || !A->one || !A->t)
            return -1;
        to_digits(A->mdig, m, A->words);
        A->one[0] = 1;
        A->mul = vec_mul;
        A->to_form = vec_to_form;
        A->from_form = vec_from_form;
        return 0;
    }
#else
    (void)vector;
#endif
    A->words = (size_t)A->n;
    A->minv = (mp_limb_t)minv;
    A->mod = calloc((size_t)A->n, sizeof(mp_limb_t));
    A->t = calloc(2 * (size_t)A->n, sizeof(mp_limb_t));
    if (!A->mod || !A->t)
        return -1;
    mpn_copyi(A->mod, mpz_limbs_read(m), A->n);
    A->mul = mpn_mont_mul;
    A->to_form = mpn_to_form;
    A->from_form = mpn_from_form;
    return 0;
}

static void arith_clear(Arith *A)
{
    free(A->mod);
    free(A->t);
    free(A->mdig);
    free(A->one);
}

static void prefetch_entry(const uint64_t *p, size_t words)
{
    const char *c = (const char *)p;
    for (size_t off = 0; off < words * sizeof(uint64_t); off += 64)
        __builtin_prefetch(c + off);
}

/* ---- reading Python integers (int, gmpy2.mpz or anything with __index__) ---- */

/* z = |obj|; *negative = obj < 0. Returns 0, or −1 with an exception set. */
static int read_integer(PyObject *obj, mpz_t z, int *negative)
{
    PyObject *value = PyNumber_Index(obj);
    if (value == NULL)
        return -1;
    PyObject *zero = PyLong_FromLong(0);
    int neg = zero == NULL ? -1 : PyObject_RichCompareBool(value, zero, Py_LT);
    Py_XDECREF(zero);
    if (neg < 0) {
        Py_DECREF(value);
        return -1;
    }
    PyObject *magnitude = neg ? PyNumber_Negative(value) : (Py_INCREF(value), value);
    Py_DECREF(value);
    if (magnitude == NULL)
        return -1;
    PyObject *bits = PyObject_CallMethod(magnitude, "bit_length", NULL);
    Py_ssize_t nbits = bits == NULL ? -1 : PyLong_AsSsize_t(bits);
    Py_XDECREF(bits);
    if (nbits < 0) {
        Py_DECREF(magnitude);
        return -1;
    }
    PyObject *raw = PyObject_CallMethod(magnitude, "to_bytes", "ns", (nbits + 7) / 8, "little");
    Py_DECREF(magnitude);
    if (raw == NULL)
        return -1;
    mpz_import(z, (size_t)PyBytes_GET_SIZE(raw), -1, 1, 0, 0, PyBytes_AS_STRING(raw));
    Py_DECREF(raw);
    *negative = neg;
    return 0;
}

static PyObject *to_python(const mpz_t z)
{
    size_t size = (mpz_sizeinbase(z, 2) + 7) / 8, count = 0;
    PyObject *raw = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (raw == NULL)
        return NULL;
    mpz_export(PyBytes_AS_STRING(raw), &count, -1, 1, 0, 0, z);
    if (count < size)
        memset(PyBytes_AS_STRING(raw) + count, 0, size - count);
    PyObject *out = PyObject_CallMethod((PyObject *)&PyLong_Type, "from_bytes", "Os", raw, "little");
    Py_DECREF(raw);
    return out;
}

/* ---- the product ---- */

#define BIG INT64_MIN /* marks an exponent held in Job.big (|e| ≥ 2^63) */

typedef struct {
    Py_ssize_t d, rows;
    int w;
    int vector;            /* may use the vector backend */
    mpz_t m;
    mpz_t *bases;          /* d residues in [0, m) */
    int64_t *e;            /* rows·d exponents, BIG for the long ones */
    Py_ssize_t n_big;
    Py_ssize_t *big_at;    /* their flat indices, increasing */
    mpz_t *big;            /* and values */
    size_t max_bits;       /* longest |e| */
    mpz_t *out;            /* the rows' products */
    Py_ssize_t failed_base;/* ≥ 0: that used base has no inverse */
    int no_memory;
} Job;

typedef struct {
    size_t pos;
    const uint64_t *entry;
} Event;

/* Append the w-NAF digits of a > 0 as events on the tables plus (digit > 0) and minus. */
static size_t recode_small(uint64_t a, int w, const uint64_t *plus, const uint64_t *minus,
                           size_t words, Event *ev)
{
    const int64_t full = (int64_t)1 << w, half = full >> 1;
    const uint64_t mask = (uint64_t)full - 1;
    size_t count = 0, pos = 0;
    while (a) {
        int tz = __builtin_ctzll(a);
        a >>= tz;
        pos += (size_t)tz;
        int64_t digit = (int64_t)(a & mask);
        if (digit >= half)
            digit -= full;
        ev[count].pos = pos;
        ev[count].entry = digit > 0 ? plus + (size_t)(digit >> 1) * words
                                    : minus + (size_t)((-digit) >> 1) * words;
        count++;
        a = (a - (uint64_t)digit) >> w; /* the low w bits of a − digit are zero */
        pos += (size_t)w;
    }
    return count;
}

static size_t recode_big(mpz_srcptr value, int w, const uint64_t *plus, const uint64_t *minus,
                         size_t words, Event *ev)
{
    const long full = 1L << w, half = full >> 1;
    const mp_limb_t mask = (mp_limb_t)full - 1;
    mpz_t a;
    mpz_init(a);
    mpz_abs(a, value);
    size_t count = 0, pos = 0;
    while (mpz_sgn(a)) {
        mp_bitcnt_t tz = mpz_scan1(a, 0);
        mpz_tdiv_q_2exp(a, a, tz);
        pos += tz;
        long digit = (long)(mpz_getlimbn(a, 0) & mask);
        if (digit >= half)
            digit -= full;
        if (digit > 0)
            mpz_sub_ui(a, a, (unsigned long)digit);
        else
            mpz_add_ui(a, a, (unsigned long)(-digit));
        mpz_tdiv_q_2exp(a, a, (mp_bitcnt_t)w);
        ev[count].pos = pos;
        ev[count].entry = digit > 0 ? plus + (size_t)(digit >> 1) * words
                                    : minus + (size_t)((-digit) >> 1) * words;
        count++;
        pos += (size_t)w;
    }
    mpz_clear(a);
    return count;
}

/* Everything after reading the inputs; runs without the GIL. */
static void run(Job *job)
{
    const Py_ssize_t d = job->d;
    const int w = job->w;
    const size_t count = (size_t)1 << (w - 2); /* odd powers per sign */
    Arith A;
    const int arith_ok = arith_init(&A, job->m, job->vector) == 0;
    const size_t words = A.words;
    const size_t dd = (size_t)(d ? d : 1);

    Py_ssize_t *slot = malloc(dd * sizeof(Py_ssize_t));
    uint64_t *square = malloc((words ? words : 1) * sizeof(uint64_t));
    uint64_t *acc = malloc((words ? words : 1) * sizeof(uint64_t));
    const size_t bits = job->max_bits;
    /* non-zero digits are ≥ w positions apart and the top one is at position ≤ bits */
    const size_t per_exponent = bits / (size_t)w + 2;
    Event *events = malloc(dd * per_exponent * sizeof(Event));
    Event *sorted = malloc(dd * per_exponent * sizeof(Event));
    const size_t n_pos = bits + (size_t)w + 2;
    size_t *starts = malloc((n_pos + 1) * sizeof(size_t));
    uint64_t *table = NULL;
    mpz_t inverse;
    mpz_init(inverse);
    if (!arith_ok || !slot || !square || !acc || !events || !sorted || !starts)
        goto no_memory;

    /* the tables of the bases some row uses */
    size_t used = 0;
    for (Py_ssize_t k = 0; k < d; k++) {
        slot[k] = -1;
        for (Py_ssize_t j = 0; j < job->rows; j++)
            if (job->e[(size_t)j * (size_t)d + (size_t)k]) {
                slot[k] = (Py_ssize_t)used++;
                break;
            }
    }
    const size_t per_base = 2 * count * words;
    if (used && per_base > SIZE_MAX / sizeof(uint64_t) / used)
        goto no_memory;
    table = malloc((used ? used : 1) * per_base * sizeof(uint64_t));
    if (!table)
        goto no_memory;
    for (Py_ssize_t k = 0; k < d; k++) {
        if (slot[k] < 0)
            continue;
        if (!mpz_invert(inverse, job->bases[k], job->m)) {
            job->failed_base = k;
            goto done;
        }
        for (int sign = 0; sign < 2; sign++) {
            uint64_t *t = table + (size_t)slot[k] * per_base + (size_t)sign * count * words;
            A.to_form(&A, t, sign ? inverse : job->bases[k]);
            if (count > 1) {
                A.mul(&A, square, t, t);
                for (size_t i = 1; i < count; i++)
                    A.mul(&A, t + i * words, t + (i - 1) * words, square);
            }
        }
    }

    /* the rows */
    Py_ssize_t big_next = 0;
    for (Py_ssize_t j = 0; j < job->rows; j++) {
        size_t n_ev = 0;
        for (Py_ssize_t k = 0; k < d; k++) {
            const int64_t e = job->e[(size_t)j * (size_t)d + (size_t)k];
            if (!e)
                continue;
            const uint64_t *pos_tab = table + (size_t)slot[k] * per_base;
            const uint64_t *neg_tab = pos_tab + count * words;
            if (e == BIG) {
                mpz_srcptr value = job->big[big_next++];
                const int neg = mpz_sgn(value) < 0;
                n_ev += recode_big(value, w, neg ? neg_tab : pos_tab, neg ? pos_tab : neg_tab,
                                   words, events + n_ev);
            } else if (e > 0) {
                n_ev += recode_small((uint64_t)e, w, pos_tab, neg_tab, words, events + n_ev);
            } else {
                n_ev += recode_small((uint64_t)0 - (uint64_t)e, w, neg_tab, pos_tab, words,
                                     events + n_ev);
            }
        }
        if (n_ev == 0) { /* an empty product */
            mpz_set_ui(job->out[j], 1);
            continue;
        }
        /* counting sort of the events by bit position; starts[p] ends as the end of p */
        size_t top = 0;
        memset(starts, 0, (n_pos + 1) * sizeof(size_t));
        for (size_t i = 0; i < n_ev; i++) {
            starts[events[i].pos + 1]++;
            if (events[i].pos > top)
                top = events[i].pos;
        }
        for (size_t p = 1; p <= n_pos; p++)
            starts[p] += starts[p - 1];
        for (size_t i = 0; i < n_ev; i++)
            sorted[starts[events[i].pos]++] = events[i];
        /* now sorted[starts[p − 1] .. starts[p]) (starts[−1] = 0) are the events at p */
        int have = 0;
        for (size_t p = top + 1; p-- > 0;) {
            if (have)
                A.mul(&A, acc, acc, acc);
            const size_t begin = p ? starts[p - 1] : 0;
            for (size_t i = begin; i < starts[p]; i++) {
                if (i + 1 < n_ev) /* the entries are scattered over the tables: fetch ahead */
                    prefetch_entry(sorted[i + 1].entry, words);
                if (have) {
                    A.mul(&A, acc, acc, sorted[i].entry);
                } else {
                    memcpy(acc, sorted[i].entry, words * sizeof(uint64_t));
                    have = 1;
                }
            }
        }
        A.from_form(&A, job->out[j], acc);
    }
    goto done;
no_memory:
    job->no_memory = 1;
done:
    mpz_clear(inverse);
    free(table);
    free(starts);
    free(sorted);
    free(events);
    free(acc);
    free(square);
    free(slot);
    arith_clear(&A);
}

static void job_clear(Job *job)
{
    if (job->bases) {
        for (Py_ssize_t k = 0; k < job->d; k++)
            mpz_clear(job->bases[k]);
        PyMem_Free(job->bases);
    }
    if (job->big) {
        for (Py_ssize_t i = 0; i < job->n_big; i++)
            mpz_clear(job->big[i]);
        PyMem_Free(job->big);
    }
    if (job->out) {
        for (Py_ssize_t j = 0; j < job->rows; j++)
            mpz_clear(job->out[j]);
        PyMem_Free(job->out);
    }
    PyMem_Free(job->big_at);
    PyMem_Free(job->e);
    mpz_clear(job->m);
}

static int add_big(Job *job, Py_ssize_t *capacity, Py_ssize_t flat, const mpz_t value, int neg)
{
    if (job->n_big == *capacity) {
        Py_ssize_t grown = *capacity ? 2 * *capacity : 16;
        mpz_t *big = PyMem_Realloc(job->big, (size_t)grown * sizeof(mpz_t));
        if (big == NULL)
            return -1;
        job->big = big;
        Py_ssize_t *at = PyMem_Realloc(job->big_at, (size_t)grown * sizeof(Py_ssize_t));
        if (at == NULL)
            return -1;
        job->big_at = at;
        *capacity = grown;
    }
    mpz_init_set(job->big[job->n_big], value);
    if (neg)
        mpz_neg(job->big[job->n_big], job->big[job->n_big]);
    job->big_at[job->n_big++] = flat;
    return 0;
}

static int read_rows(Job *job, PyObject *rows)
{
    PyObject *fast_rows = PySequence_Fast(rows, "rows must be a sequence of sequences");
    if (fast_rows == NULL)
        return -1;
    job->rows = PySequence_Fast_GET_SIZE(fast_rows);
    size_t total = (size_t)job->rows * (size_t)job->d;
    job->e = PyMem_Malloc((total ? total : 1) * sizeof(int64_t));
    if (job->e == NULL) {
        Py_DECREF(fast_rows);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t capacity = 0;
    mpz_t value;
    mpz_init(value);
    int status = 0;
    for (Py_ssize_t j = 0; j < job->rows && status == 0; j++) {
        PyObject *row = PySequence_Fast(PySequence_Fast_GET_ITEM(fast_rows, j),
                                        "every row must be a sequence");
        if (row == NULL) {
            status = -1;
            break;
        }
        if (PySequence_Fast_GET_SIZE(row) != job->d) {
            PyErr_Format(PyExc_ValueError, "exponent row of length %zd for %zd bases",
                         PySequence_Fast_GET_SIZE(row), job->d);
            Py_DECREF(row);
            status = -1;
            break;
        }
        for (Py_ssize_t k = 0; k < job->d; k++) {
            PyObject *item = PySequence_Fast_GET_ITEM(row, k);
            size_t flat = (size_t)j * (size_t)job->d + (size_t)k;
            int overflow = 0;
            long long e = PyLong_Check(item) ? PyLong_AsLongLongAndOverflow(item, &overflow) : 0;
            if (PyLong_Check(item) && e == -1 && PyErr_Occurred()) {
                status = -1;
                break;
            }
            if (PyLong_Check(item) && !overflow && e != BIG) {
                job->e[flat] = (int64_t)e;
                size_t b = e ? 64 - (size_t)__builtin_clzll(e < 0 ? 0ULL - (unsigned long long)e
                                                                  : (unsigned long long)e)
                             : 0;
                if (b > job->max_bits)
                    job->max_bits = b;
                continue;
            }
            int neg = 0;
            if (read_integer(item, value, &neg) < 0) {
                status = -1;
                break;
            }
            if (mpz_fits_slong_p(value) && mpz_sgn(value) != 0 && mpz_sizeinbase(value, 2) < 63) {
                long small = mpz_get_si(value); /* an __index__ object of a small value */
                job->e[flat] = neg ? -(int64_t)small : (int64_t)small;
            } else if (mpz_sgn(value) == 0) {
                job->e[flat] = 0;
            } else {
                job->e[flat] = BIG;
                if (add_big(job, &capacity, (Py_ssize_t)flat, value, neg) < 0) {
                    PyErr_NoMemory();
                    status = -1;
                    break;
                }
            }
            size_t b = mpz_sgn(value) ? mpz_sizeinbase(value, 2) : 0;
            if (b > job->max_bits)
                job->max_bits = b;
        }
        Py_DECREF(row);
    }
    mpz_clear(value);
    Py_DECREF(fast_rows);
    return status;
}

PyDoc_STRVAR(wnaf_rows_doc,
"wnaf_rows(bases, rows, modulus, window, vector=True) -> list[int]\n\n"
"y_j = prod_k bases[k]**rows[j][k] mod modulus for every row j: Straus' interleaving with w-NAF\n"
"digits (window w in [2, 16]) and Montgomery multiplication, on AVX-512 IFMA when the CPU has it\n"
"(VECTOR) and vector is true, else on GMP's mpn layer; the same residues either way. Signed\n"
"exponents of any size; the modulus must be odd and > 1; a base that some row uses must be\n"
"invertible modulo it (ZeroDivisionError otherwise). Integers are ints or objects with\n"
"__index__ (gmpy2.mpz). The GIL is released while the products are computed.");

static PyObject *wnaf_rows(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *bases_obj, *rows_obj, *modulus_obj;
    int w, vector = 1;
    if (!PyArg_ParseTuple(args, "OOOi|p:wnaf_rows", &bases_obj, &rows_obj, &modulus_obj, &w,
                          &vector))
        return NULL;
    if (w < 2 || w > 16) {
        PyErr_Format(PyExc_ValueError, "w-NAF window must lie in [2, 16], got %d", w);
        return NULL;
    }
    Job job;
    memset(&job, 0, sizeof(job));
    job.w = w;
    job.vector = vector;
    job.failed_base = -1;
    mpz_init(job.m);
    PyObject *result = NULL;
    int neg = 0;
    if (read_integer(modulus_obj, job.m, &neg) < 0)
        goto out;
    if (neg || mpz_cmp_ui(job.m, 1) <= 0 || mpz_even_p(job.m)) {
        PyErr_SetString(PyExc_ValueError, "the modulus must be odd and greater than 1");
        goto out;
    }
    PyObject *fast_bases = PySequence_Fast(bases_obj, "bases must be a sequence");
    if (fast_bases == NULL)
        goto out;
    job.d = PySequence_Fast_GET_SIZE(fast_bases);
    job.bases = PyMem_Calloc((size_t)(job.d ? job.d : 1), sizeof(mpz_t));
    if (job.bases == NULL) {
        Py_DECREF(fast_bases);
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t k = 0; k < job.d; k++)
        mpz_init(job.bases[k]);
    for (Py_ssize_t k = 0; k < job.d; k++) {
        if (read_integer(PySequence_Fast_GET_ITEM(fast_bases, k), job.bases[k], &neg) < 0) {
            Py_DECREF(fast_bases);
            goto out;
        }
        if (neg)
            mpz_neg(job.bases[k], job.bases[k]);
        mpz_mod(job.bases[k], job.bases[k], job.m);
    }
    Py_DECREF(fast_bases);
    if (read_rows(&job, rows_obj) < 0)
        goto out;
    job.out = PyMem_Calloc((size_t)(job.rows ? job.rows : 1), sizeof(mpz_t));
    if (job.out == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t j = 0; j < job.rows; j++)
        mpz_init(job.out[j]);
    Py_BEGIN_ALLOW_THREADS
    run(&job);
    Py_END_ALLOW_THREADS
    if (job.no_memory) {
        PyErr_NoMemory();
        goto out;
    }
    if (job.failed_base >= 0) {
        PyErr_Format(PyExc_ZeroDivisionError, "base %zd has no inverse modulo the modulus",
                     job.failed_base);
        goto out;
    }
    result = PyList_New(job.rows);
    if (result == NULL)
        goto out;
    for (Py_ssize_t j = 0; j < job.rows; j++) {
        PyObject *value = to_python(job.out[j]);
        if (value == NULL) {
            Py_CLEAR(result);
            goto out;
        }
        PyList_SET_ITEM(result, j, value);
    }
out:
    job_clear(&job);
    return result;
}

static PyMethodDef methods[] = {
    {"wnaf_rows", wnaf_rows, METH_VARARGS, wnaf_rows_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "hefl.crypto._multiexp",
    "Straus w-NAF multi-exponentiation rows in Montgomery form (see wnaf_rows); VECTOR: this CPU\n"
    "runs them on AVX-512 IFMA.",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__multiexp(void)
{
    PyObject *mod = PyModule_Create(&module);
    if (mod == NULL)
        return NULL;
    if (PyModule_AddObjectRef(mod, "VECTOR", cpu_has_vector() ? Py_True : Py_False) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}

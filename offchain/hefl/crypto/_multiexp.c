/* Straus w-NAF multi-exponentiation rows in Montgomery form on GMP's mpn layer.
 *
 * wnaf_rows(bases, rows, modulus, window) -> list[int]
 *
 *     y_j = Π_k bases[k]^rows[j][k] mod modulus      (signed exponents, odd modulus > 1)
 *
 * The algorithm of hefl.crypto.multiexp (see its module docstring): every exponent is recoded in
 * w-NAF (odd digits |δ| < 2^(w−1), at least w − 1 zeros between non-zero digits); every base used
 * by some row gets the tables of its odd powers b^1, b^3, …, b^(2^(w−1) − 1) and of its inverse's,
 * shared by all rows; a row is one accumulator, squared once per bit position from the top digit
 * down and multiplied by the table entry of every digit at that position.
 *
 * Arithmetic: with R = 2^(64·n) (n limbs of the modulus m, m odd), every residue a is held as
 * ã = a·R mod m and multiplied by Montgomery's REDC, ã·b̃·R^−1 = (ab)~ mod m:
 *
 *     T = ã·b̃ (mpn_mul_n / mpn_sqr);   for i < n: u = T_i·(−m^−1) mod 2^64, T += u·m·2^(64i);
 *     result = T / R, minus m if ≥ m           (T < m² + R·m, so T / R < 2m),
 *
 * which replaces the division of T by m (≈ 4 µs at 4096 bits) by n·addmul_1 (≈ 3 µs); the
 * entries are converted once per table and the row products once at the end (REDC of ỹ). Inputs
 * are read with the GIL held, the tables and rows are computed with it released.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <gmp.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    mp_size_t n;        /* limbs of m */
    mp_limb_t *m;       /* the modulus, n limbs */
    mp_limb_t minv;     /* −m^−1 mod 2^64 */
    mp_limb_t *t;       /* 2n limbs of scratch for the double-length product */
} Mont;

/* r = t·R^−1 mod m for t < m·R (2n limbs, destroyed); r may not overlap t. */
static void redc(const Mont *M, mp_limb_t *r, mp_limb_t *t)
{
    mp_size_t n = M->n;
    for (mp_size_t i = 0; i < n; i++)
        t[i] = mpn_addmul_1(t + i, M->m, n, t[i] * M->minv); /* t_i becomes 0: keep the carry */
    mp_limb_t cy = mpn_add_n(r, t + n, t, n);               /* the carries belong at limb n + i */
    if (cy || mpn_cmp(r, M->m, n) >= 0)
        mpn_sub_n(r, r, M->m, n);
}

static void mont_mul(const Mont *M, mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b)
{
    mpn_mul_n(M->t, a, b, M->n);
    redc(M, r, M->t);
}

static void mont_sqr(const Mont *M, mp_limb_t *r, const mp_limb_t *a)
{
    mpn_sqr(M->t, a, M->n);
    redc(M, r, M->t);
}

/* dst (n limbs) = z·R mod m, for 0 ≤ z < m. */
static void to_mont(const Mont *M, mp_limb_t *dst, const mpz_t z, const mpz_t m)
{
    mpz_t x;
    mpz_init(x);
    mpz_mul_2exp(x, z, (mp_bitcnt_t)(64 * M->n));
    mpz_mod(x, x, m);
    memset(dst, 0, (size_t)M->n * sizeof(mp_limb_t));
    mpn_copyi(dst, mpz_limbs_read(x), (mp_size_t)mpz_size(x));
    mpz_clear(x);
}

static void prefetch_entry(const mp_limb_t *p, mp_size_t n)
{
    const char *c = (const char *)p;
    for (size_t off = 0; off < (size_t)n * sizeof(mp_limb_t); off += 64)
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
    mpz_t m;
    mpz_t *bases;          /* d residues in [0, m) */
    int64_t *e;            /* rows·d exponents, BIG for the long ones */
    Py_ssize_t n_big;
    Py_ssize_t *big_at;    /* their flat indices, increasing */
    mpz_t *big;            /* and values */
    size_t max_bits;       /* longest |e| */
    mp_limb_t *out;        /* rows·n limbs: the products */
    Py_ssize_t failed_base;/* ≥ 0: that used base has no inverse */
    int no_memory;
} Job;

typedef struct {
    size_t pos;
    const mp_limb_t *entry;
} Event;

/* Append the w-NAF digits of e (sign applied by choosing the table) as events. */
static size_t recode_small(uint64_t a, int w, const mp_limb_t *plus, const mp_limb_t *minus,
                           mp_size_t n, Event *ev)
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
        ev[count].entry = digit > 0 ? plus + (size_t)(digit >> 1) * (size_t)n
                                    : minus + (size_t)((-digit) >> 1) * (size_t)n;
        count++;
        a = (a - (uint64_t)digit) >> w; /* the low w bits of a − digit are zero */
        pos += (size_t)w;
    }
    return count;
}

static size_t recode_big(const mpz_t value, int w, const mp_limb_t *plus, const mp_limb_t *minus,
                         mp_size_t n, Event *ev)
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
        ev[count].entry = digit > 0 ? plus + (size_t)(digit >> 1) * (size_t)n
                                    : minus + (size_t)((-digit) >> 1) * (size_t)n;
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
    Mont M;
    M.n = (mp_size_t)mpz_size(job->m);
    const mp_size_t n = M.n;
    const size_t entry_limbs = (size_t)n;

    Py_ssize_t *slot = malloc((size_t)(d ? d : 1) * sizeof(Py_ssize_t));
    M.m = malloc(entry_limbs * sizeof(mp_limb_t));
    M.t = malloc(2 * entry_limbs * sizeof(mp_limb_t));
    mp_limb_t *one = calloc(2 * entry_limbs, sizeof(mp_limb_t));
    mp_limb_t *square = malloc(entry_limbs * sizeof(mp_limb_t));
    mp_limb_t *acc = malloc(entry_limbs * sizeof(mp_limb_t));
    size_t bits = job->max_bits;
    /* non-zero digits are ≥ w positions apart and the top one is at position ≤ bits */
    size_t per_exponent = bits / (size_t)w + 2;
    Event *events = malloc(((size_t)(d ? d : 1) * per_exponent) * sizeof(Event));
    Event *sorted = malloc(((size_t)(d ? d : 1) * per_exponent) * sizeof(Event));
    size_t n_pos = bits + (size_t)w + 2;
    size_t *starts = malloc((n_pos + 1) * sizeof(size_t));
    mp_limb_t *table = NULL;
    mpz_t inverse;
    mpz_init(inverse);
    if (!slot || !M.m || !M.t || !one || !square || !acc || !events || !sorted || !starts)
        goto no_memory;
    mpn_copyi(M.m, mpz_limbs_read(job->m), n);
    M.minv = 0;
    { /* −m^−1 mod 2^64 by Newton's iteration: x ← x·(2 − m·x) doubles the correct bits */
        mp_limb_t m0 = M.m[0], x = m0; /* m0·m0 ≡ 1 mod 8: three bits */
        for (int i = 0; i < 5; i++)
            x *= 2 - m0 * x;
        M.minv = (mp_limb_t)0 - x;
    }

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
    size_t per_base = 2 * count * entry_limbs;
    if (used && per_base > SIZE_MAX / sizeof(mp_limb_t) / used)
        goto no_memory;
    table = malloc((used ? used : 1) * per_base * sizeof(mp_limb_t));
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
            mp_limb_t *t = table + (size_t)slot[k] * per_base + (size_t)sign * count * entry_limbs;
            to_mont(&M, t, sign ? inverse : job->bases[k], job->m);
            if (count > 1) {
                mont_sqr(&M, square, t);
                for (size_t i = 1; i < count; i++)
                    mont_mul(&M, t + i * entry_limbs, t + (i - 1) * entry_limbs, square);
            }
        }
    }

    /* the rows */
    Py_ssize_t big_next = 0;
    for (Py_ssize_t j = 0; j < job->rows; j++) {
        size_t n_ev = 0;
        for (Py_ssize_t k = 0; k < d; k++) {
            size_t flat = (size_t)j * (size_t)d + (size_t)k;
            int64_t e = job->e[flat];
            if (!e)
                continue;
            const mp_limb_t *pos_tab = table + (size_t)slot[k] * per_base;
            const mp_limb_t *neg_tab = pos_tab + count * entry_limbs;
            if (e == BIG) {
                const mpz_t *value = &job->big[big_next++];
                int neg = mpz_sgn(*value) < 0;
                n_ev += recode_big(*value, w, neg ? neg_tab : pos_tab, neg ? pos_tab : neg_tab, n,
                                   events + n_ev);
            } else if (e > 0) {
                n_ev += recode_small((uint64_t)e, w, pos_tab, neg_tab, n, events + n_ev);
            } else {
                n_ev += recode_small((uint64_t)0 - (uint64_t)e, w, neg_tab, pos_tab, n,
                                     events + n_ev);
            }
        }
        mp_limb_t *y = job->out + (size_t)j * entry_limbs;
        if (n_ev == 0) { /* an empty product */
            memset(y, 0, entry_limbs * sizeof(mp_limb_t));
            y[0] = 1;
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
                mont_sqr(&M, acc, acc);
            size_t begin = p ? starts[p - 1] : 0;
            for (size_t i = begin; i < starts[p]; i++) {
                if (i + 1 < n_ev)
                    prefetch_entry(sorted[i + 1].entry, n);
                if (have) {
                    mont_mul(&M, acc, acc, sorted[i].entry);
                } else {
                    mpn_copyi(acc, sorted[i].entry, n);
                    have = 1;
                }
            }
        }
        memcpy(one, acc, entry_limbs * sizeof(mp_limb_t)); /* out of Montgomery form: REDC(ỹ) */
        memset(one + entry_limbs, 0, entry_limbs * sizeof(mp_limb_t));
        redc(&M, y, one);
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
    free(one);
    free(M.t);
    free(M.m);
    free(slot);
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
    PyMem_Free(job->big_at);
    PyMem_Free(job->e);
    PyMem_Free(job->out);
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
"wnaf_rows(bases, rows, modulus, window) -> list[int]\n\n"
"y_j = prod_k bases[k]**rows[j][k] mod modulus for every row j: Straus' interleaving with w-NAF\n"
"digits (window w in [2, 16]) and Montgomery multiplication. Signed exponents of any size; the\n"
"modulus must be odd and > 1; a base that some row uses must be invertible modulo it\n"
"(ZeroDivisionError otherwise). Bases are ints or objects with __index__ (gmpy2.mpz).");

static PyObject *wnaf_rows(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *bases_obj, *rows_obj, *modulus_obj;
    int w;
    if (!PyArg_ParseTuple(args, "OOOi:wnaf_rows", &bases_obj, &rows_obj, &modulus_obj, &w))
        return NULL;
    if (w < 2 || w > 16) {
        PyErr_Format(PyExc_ValueError, "w-NAF window must lie in [2, 16], got %d", w);
        return NULL;
    }
    Job job;
    memset(&job, 0, sizeof(job));
    job.w = w;
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
    size_t n = mpz_size(job.m);
    job.out = PyMem_Malloc(((size_t)job.rows * n + 1) * sizeof(mp_limb_t));
    if (job.out == NULL) {
        PyErr_NoMemory();
        goto out;
    }
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
    mpz_t y;
    for (Py_ssize_t j = 0; j < job.rows; j++) {
        PyObject *value = to_python(mpz_roinit_n(y, job.out + (size_t)j * n, (mp_size_t)n));
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
    "Straus w-NAF multi-exponentiation rows in Montgomery form on GMP (see wnaf_rows).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__multiexp(void)
{
    return PyModule_Create(&module);
}

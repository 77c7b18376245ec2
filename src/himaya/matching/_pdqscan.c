/* Exact Hamming range search over 256-bit PDQ codes: the kernel behind himaya.matching.pdq_index.
 *
 * The database is scanned in blocks small enough to stay in the core's cache, and every query of the
 * batch is compared with a block while it is there, so the database is read from memory once per batch
 * rather than once per query (faiss's IndexBinaryFlat.range_search reads all of it for each query).
 *
 * A pair is rejected as soon as the distance over the first 128 bits exceeds the radius: a partial
 * distance never exceeds the full one, so no pair within the radius is skipped. Everything else is
 * counted over all 256 bits. Nothing is approximate.
 *
 * Three kernels give the same answers: AVX-512 (VPOPCNTQ; eight codes against eight queries per step),
 * scalar POPCNT (four queries per pass), and plain C. The best one the CPU supports is picked at run time, so the module is
 * fast without -march=native. The GIL is released while scanning; callers run several scans over
 * disjoint slices of the database (or of the queries) in threads.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define PDQ_X86 1
#include <immintrin.h>
#else
#define PDQ_X86 0
#endif

#define CODE_BYTES 32
/* 2,048 codes: the AVX-512 kernel's transposed first halves (2 x 16 KiB) fit in a 32 KiB L1d; the
 * whole block (64 KiB) stays in L2, where the rare full-distance checks read it. */
#define BLOCK 2048

enum { KERNEL_AUTO = 0, KERNEL_GENERIC = 1, KERNEL_POPCNT = 2, KERNEL_AVX512 = 3 };

typedef struct {
    int32_t *query;
    int64_t *position;
    uint16_t *distance;
    size_t len;
    size_t cap;
} Hits;

static int hits_push(Hits *hits, int64_t query, int64_t position, int distance) {
    if (hits->len == hits->cap) {
        size_t cap = hits->cap ? hits->cap * 2 : 1024;
        int32_t *q = realloc(hits->query, cap * sizeof *q);
        if (q == NULL) return -1;
        hits->query = q;
        int64_t *p = realloc(hits->position, cap * sizeof *p);
        if (p == NULL) return -1;
        hits->position = p;
        uint16_t *d = realloc(hits->distance, cap * sizeof *d);
        if (d == NULL) return -1;
        hits->distance = d;
        hits->cap = cap;
    }
    hits->query[hits->len] = (int32_t)query;
    hits->position[hits->len] = position;
    hits->distance[hits->len] = (uint16_t)distance;
    hits->len++;
    return 0;
}

static void hits_free(Hits *hits) {
    free(hits->query);
    free(hits->position);
    free(hits->distance);
}

static inline uint64_t word(const uint8_t *code, int n) {
    uint64_t value;
    memcpy(&value, code + 8 * n, sizeof value); /* unaligned-safe; compiles to one load */
    return value;
}

typedef struct {
    const uint8_t *codes; /* N x 32 bytes */
    const uint8_t *queries; /* Q x 32 bytes */
    int64_t start, end; /* database rows to scan */
    int64_t q_start, q_end; /* query rows to scan */
    int radius; /* inclusive */
} Scan;

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Full distance of row `i` to query `q`, whose first-half distance `partial` is already <= radius. */
static ALWAYS_INLINE int scalar_check(const Scan *scan, int64_t q, int64_t i, int partial, Hits *hits) {
    const uint8_t *query = scan->queries + q * CODE_BYTES, *code = scan->codes + i * CODE_BYTES;
    const int distance = partial + __builtin_popcountll(word(query, 2) ^ word(code, 2)) +
                         __builtin_popcountll(word(query, 3) ^ word(code, 3));
    return distance <= scan->radius ? hits_push(hits, q, i, distance) : 0;
}

/* The scalar kernel, four queries per pass over the block so that each code is loaded once for four
 * comparisons. always_inline so that each caller compiles it for its own target: with POPCNT
 * __builtin_popcountll is one instruction, without it a few shifts and masks. */
static ALWAYS_INLINE int scan_scalar_body(const Scan *scan, Hits *hits) {
    const int radius = scan->radius;
    for (int64_t block = scan->start; block < scan->end; block += BLOCK) {
        const int64_t block_end = block + BLOCK < scan->end ? block + BLOCK : scan->end;
        int64_t q = scan->q_start;
        for (; q + 4 <= scan->q_end; q += 4) {
            const uint8_t *query = scan->queries + q * CODE_BYTES;
            const uint64_t a0 = word(query, 0), b0 = word(query, 1);
            const uint64_t a1 = word(query + CODE_BYTES, 0), b1 = word(query + CODE_BYTES, 1);
            const uint64_t a2 = word(query + 2 * CODE_BYTES, 0), b2 = word(query + 2 * CODE_BYTES, 1);
            const uint64_t a3 = word(query + 3 * CODE_BYTES, 0), b3 = word(query + 3 * CODE_BYTES, 1);
            for (int64_t i = block; i < block_end; i++) {
                const uint8_t *code = scan->codes + i * CODE_BYTES;
                const uint64_t x = word(code, 0), y = word(code, 1);
                /* The usual case: all four rejected on the first 128 bits, with one branch. */
                const int d0 = __builtin_popcountll(x ^ a0) + __builtin_popcountll(y ^ b0);
                const int d1 = __builtin_popcountll(x ^ a1) + __builtin_popcountll(y ^ b1);
                const int d2 = __builtin_popcountll(x ^ a2) + __builtin_popcountll(y ^ b2);
                const int d3 = __builtin_popcountll(x ^ a3) + __builtin_popcountll(y ^ b3);
                if (((d0 <= radius) | (d1 <= radius) | (d2 <= radius) | (d3 <= radius)) == 0) continue;
                if (d0 <= radius && scalar_check(scan, q, i, d0, hits) < 0) return -1;
                if (d1 <= radius && scalar_check(scan, q + 1, i, d1, hits) < 0) return -1;
                if (d2 <= radius && scalar_check(scan, q + 2, i, d2, hits) < 0) return -1;
                if (d3 <= radius && scalar_check(scan, q + 3, i, d3, hits) < 0) return -1;
            }
        }
        for (; q < scan->q_end; q++) {
            const uint8_t *query = scan->queries + q * CODE_BYTES;
            const uint64_t a0 = word(query, 0), b0 = word(query, 1);
            for (int64_t i = block; i < block_end; i++) {
                const uint8_t *code = scan->codes + i * CODE_BYTES;
                const int d0 =
                    __builtin_popcountll(word(code, 0) ^ a0) + __builtin_popcountll(word(code, 1) ^ b0);
                if (d0 <= radius && scalar_check(scan, q, i, d0, hits) < 0) return -1;
            }
        }
    }
    return 0;
}

static int scan_generic(const Scan *scan, Hits *hits) { return scan_scalar_body(scan, hits); }

#if PDQ_X86
__attribute__((target("popcnt"))) static int scan_popcnt(const Scan *scan, Hits *hits) {
    return scan_scalar_body(scan, hits);
}

#ifndef AVX512_QUERIES
#define AVX512_QUERIES 8
#endif
#define AVX512_TARGET __attribute__((target("popcnt,avx512f,avx512vpopcntdq")))

/* Full distance of the lanes in `mask` (their first-half distance is already <= radius). */
AVX512_TARGET static int avx512_check(const Scan *scan, int64_t q, int64_t first, unsigned mask, Hits *hits) {
    const uint8_t *query = scan->queries + q * CODE_BYTES;
    while (mask) {
        const int lane = __builtin_ctz(mask);
        mask &= mask - 1;
        const int64_t i = first + lane;
        const uint8_t *code = scan->codes + i * CODE_BYTES;
        int distance = 0;
        for (int n = 0; n < 4; n++) distance += __builtin_popcountll(word(query, n) ^ word(code, n));
        if (distance <= scan->radius && hits_push(hits, q, i, distance) < 0) return -1;
    }
    return 0;
}

/* AVX512_QUERIES queries against the transposed block: w0[k], w1[k] are the first two words of code k.
 * With fewer queries left (nq), the last one is repeated and its copies' hits are not reported. */
AVX512_TARGET static int avx512_queries(const Scan *scan, const uint64_t *w0, const uint64_t *w1,
                                        int64_t block, int64_t count, int64_t q, int nq, Hits *hits) {
    const __m512i radius = _mm512_set1_epi64(scan->radius);
    __m512i a[AVX512_QUERIES], b[AVX512_QUERIES];
    for (int j = 0; j < AVX512_QUERIES; j++) {
        const uint8_t *query = scan->queries + (q + (j < nq ? j : nq - 1)) * CODE_BYTES;
        a[j] = _mm512_set1_epi64((long long)word(query, 0));
        b[j] = _mm512_set1_epi64((long long)word(query, 1));
    }
    for (int64_t k = 0; k < count; k += 8) {
        const __m512i x = _mm512_load_si512((const void *)(w0 + k));
        const __m512i y = _mm512_load_si512((const void *)(w1 + k));
        __mmask8 near[AVX512_QUERIES];
        unsigned any = 0;
#pragma GCC unroll 16
        for (int j = 0; j < AVX512_QUERIES; j++) {
            const __m512i d = _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_xor_si512(x, a[j])),
                                               _mm512_popcnt_epi64(_mm512_xor_si512(y, b[j])));
            near[j] = _mm512_cmple_epu64_mask(d, radius);
            any |= near[j];
        }
        if (__builtin_expect(any == 0, 1)) continue; /* the usual case: all rejected on 128 bits */
        /* Lanes past the end of the block hold padding: never report them. */
        const unsigned valid = count - k >= 8 ? 0xFFu : (1u << (count - k)) - 1;
        for (int j = 0; j < nq; j++) {
            const unsigned lanes = near[j] & valid;
            if (lanes && avx512_check(scan, q + j, block + k, lanes, hits) < 0) return -1;
        }
    }
    return 0;
}

AVX512_TARGET static int scan_avx512(const Scan *scan, Hits *hits) {
    uint64_t *w0 = aligned_alloc(64, 2 * BLOCK * sizeof(uint64_t));
    if (w0 == NULL) return -1;
    uint64_t *w1 = w0 + BLOCK;
    int status = 0;
    for (int64_t block = scan->start; block < scan->end && status == 0; block += BLOCK) {
        const int64_t count = block + BLOCK < scan->end ? BLOCK : scan->end - block;
        for (int64_t k = 0; k < count; k++) {
            const uint8_t *code = scan->codes + (block + k) * CODE_BYTES;
            w0[k] = word(code, 0);
            w1[k] = word(code, 1);
        }
        for (int64_t k = count; k < ((count + 7) & ~(int64_t)7); k++) w0[k] = w1[k] = 0;
        for (int64_t q = scan->q_start; q < scan->q_end && status == 0; q += AVX512_QUERIES) {
            const int nq = scan->q_end - q >= AVX512_QUERIES ? AVX512_QUERIES : (int)(scan->q_end - q);
            status = avx512_queries(scan, w0, w1, block, count, q, nq, hits);
        }
    }
    free(w0);
    return status;
}
#endif

static int has_popcnt(void) {
#if PDQ_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("popcnt");
#else
    return 0;
#endif
}

static int has_avx512(void) {
#if PDQ_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
#else
    return 0;
#endif
}

static int best_kernel(void) {
    if (has_avx512()) return KERNEL_AVX512;
    if (has_popcnt()) return KERNEL_POPCNT;
    return KERNEL_GENERIC;
}

static const char *const KERNEL_NAMES[] = {"auto", "generic", "popcnt", "avx512"};

static int kernel_by_name(const char *name) {
    for (int k = 0; k < 4; k++) {
        if (strcmp(name, KERNEL_NAMES[k]) == 0) return k;
    }
    return -1;
}

static int kernel_supported(int kernel) {
    switch (kernel) {
    case KERNEL_GENERIC: return 1;
    case KERNEL_POPCNT: return has_popcnt();
    case KERNEL_AVX512: return has_avx512();
    default: return 0;
    }
}

static PyObject *pdqscan_kernels(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    PyObject *names = PyList_New(0);
    if (names == NULL) return NULL;
    for (int kernel = KERNEL_AVX512; kernel >= KERNEL_GENERIC; kernel--) {
        if (!kernel_supported(kernel)) continue;
        PyObject *name = PyUnicode_FromString(KERNEL_NAMES[kernel]);
        if (name == NULL || PyList_Append(names, name) < 0) {
            Py_XDECREF(name);
            Py_DECREF(names);
            return NULL;
        }
        Py_DECREF(name);
    }
    return names;
}

static PyObject *pdqscan_range_search(PyObject *self, PyObject *args, PyObject *kwargs) {
    (void)self;
    static char *keywords[] = {"codes",   "queries", "max_distance", "start", "end",
                               "q_start", "q_end",   "kernel",       NULL};
    Py_buffer codes, queries;
    int radius;
    Py_ssize_t start, end, q_start, q_end;
    const char *kernel_name = "auto";
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*y*innnn|s", keywords, &codes, &queries, &radius, &start,
                                     &end, &q_start, &q_end, &kernel_name))
        return NULL;
    PyObject *result = NULL;
    Hits hits = {0};
    int kernel = kernel_by_name(kernel_name);
    if (codes.len % CODE_BYTES || queries.len % CODE_BYTES) {
        PyErr_Format(PyExc_ValueError, "codes and queries must be rows of %d bytes", CODE_BYTES);
        goto done;
    }
    const Py_ssize_t rows = codes.len / CODE_BYTES, query_rows = queries.len / CODE_BYTES;
    if (start < 0 || start > end || end > rows || q_start < 0 || q_start > q_end || q_end > query_rows) {
        PyErr_Format(PyExc_ValueError, "rows %zd..%zd of %zd or queries %zd..%zd of %zd out of range", start,
                     end, rows, q_start, q_end, query_rows);
        goto done;
    }
    if (query_rows > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many queries in one batch");
        goto done;
    }
    if (radius < 0 || radius > 256) {
        PyErr_Format(PyExc_ValueError, "max_distance %d is outside 0..256", radius);
        goto done;
    }
    if (kernel < 0) {
        PyErr_Format(PyExc_ValueError, "unknown kernel %s", kernel_name);
        goto done;
    }
    if (kernel == KERNEL_AUTO) kernel = best_kernel();
    if (!kernel_supported(kernel)) {
        PyErr_Format(PyExc_ValueError, "this CPU cannot run the %s kernel", KERNEL_NAMES[kernel]);
        goto done;
    }
    const Scan scan = {codes.buf, queries.buf, start, end, q_start, q_end, radius};
    int status;
    Py_BEGIN_ALLOW_THREADS
    switch (kernel) {
#if PDQ_X86
    case KERNEL_AVX512: status = scan_avx512(&scan, &hits); break;
    case KERNEL_POPCNT: status = scan_popcnt(&scan, &hits); break;
#endif
    default: status = scan_generic(&scan, &hits); break;
    }
    Py_END_ALLOW_THREADS
    if (status < 0) {
        PyErr_NoMemory();
        goto done;
    }
    /* PyBytes_FromStringAndSize, not Py_BuildValue's "y#": with no hits the pointers are NULL, which
     * "y#" turns into None. */
    const Py_ssize_t n = (Py_ssize_t)hits.len;
    result = Py_BuildValue("(NNN)", PyBytes_FromStringAndSize((const char *)hits.query, n * 4),
                           PyBytes_FromStringAndSize((const char *)hits.position, n * 8),
                           PyBytes_FromStringAndSize((const char *)hits.distance, n * 2));
done:
    hits_free(&hits);
    PyBuffer_Release(&codes);
    PyBuffer_Release(&queries);
    return result;
}

static PyMethodDef methods[] = {
    {"range_search", (PyCFunction)(void (*)(void))pdqscan_range_search, METH_VARARGS | METH_KEYWORDS,
     "range_search(codes, queries, max_distance, start, end, q_start, q_end, kernel='auto')\n"
     "Every (query, row) pair within max_distance bits (inclusive) among rows start..end and queries\n"
     "q_start..q_end, as three bytes objects: query rows (int32), database rows (int64), distances\n"
     "(uint16), in native byte order. Releases the GIL while it scans."},
    {"kernels", pdqscan_kernels, METH_NOARGS, "Kernels this CPU can run, fastest first."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_pdqscan",
    .m_doc = "Exact Hamming range search over 256-bit PDQ codes.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__pdqscan(void) { return PyModule_Create(&module); }

/*
 * The sequential part of reading a capture: finding where each record starts.
 *
 * A record's offset depends on the length field of the record before it, so this walk cannot
 * be vectorised; in Python it is the largest single cost of building the packets table. These
 * functions do exactly what the Python loops of pcap.py and pcapng.py do (those loops stay
 * as the fallback when this module is not built) and nothing else: every check on a record's
 * contents stays in Python, on the offsets given back.
 *
 * walk_pcap_heads(buf, pos, big_endian) -> (offsets, heads, pos)
 *     Classic pcap records from buf[pos:]: while a 16-byte record header and the incl_len
 *     bytes it announces fit in the buffer; heads is the 16-byte header of every record found,
 *     one after another (copied while the walk has it in the cache).
 * walk_epb(buf, pos, big_endian) -> (offsets, pos)
 *     pcapng Enhanced Packet Blocks from buf[pos:]: while the block type is 6, its length is at
 *     least 32, a multiple of 4, and the whole block fits in the buffer.
 *
 * offsets is a bytes object of native int64 values (numpy.frombuffer(offsets, numpy.int64)),
 * the start of each complete record or block; pos is where the walk stopped.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t
read_u32(const unsigned char *p, int big_endian)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if PY_BIG_ENDIAN
    if (!big_endian)
#else
    if (big_endian)
#endif
        v = ((v & 0xFFu) << 24) | ((v & 0xFF00u) << 8) | ((v >> 8) & 0xFF00u) | (v >> 24);
    return v;
}

/* One step of each walk: the next position, or -1 where the walk stops. */
static inline Py_ssize_t
step_pcap(const unsigned char *b, Py_ssize_t pos, Py_ssize_t end, int be)
{
    if (end - pos < 12)
        return -1;
    Py_ssize_t nxt = pos + 16 + (Py_ssize_t)read_u32(b + pos + 8, be);
    return nxt > end ? -1 : nxt;
}

static inline Py_ssize_t
step_epb(const unsigned char *b, Py_ssize_t pos, Py_ssize_t end, int be)
{
    if (end - pos < 8)
        return -1;
    uint32_t btype = read_u32(b + pos, be);
    uint32_t blen = read_u32(b + pos + 4, be);
    Py_ssize_t nxt = pos + (Py_ssize_t)blen;
    if (btype != 6 || blen < 32 || (blen & 3) || nxt > end)
        return -1;
    return nxt;
}

#define PREFETCH_BYTES 1024

typedef Py_ssize_t (*step_fn)(const unsigned char *, Py_ssize_t, Py_ssize_t, int);

/* The walk from buf[start:], in one pass: offsets (and, when head > 0, the first head bytes of
 * every record, copied while they are in the cache) go into buffers sized for the most records
 * the bytes could hold (min_size bytes each; pages never written are never touched), then cut
 * to what was found. */
static PyObject *
walk(PyObject *args, step_fn step, Py_ssize_t min_size, Py_ssize_t head)
{
    Py_buffer view;
    Py_ssize_t start;
    int be;
    if (!PyArg_ParseTuple(args, "y*np", &view, &start, &be))
        return NULL;
    const unsigned char *b = (const unsigned char *)view.buf;
    Py_ssize_t end = view.len;
    if (start < 0 || start > end) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "start position outside the buffer");
        return NULL;
    }
    Py_ssize_t most = (end - start) / min_size + 1;
    PyObject *out = PyBytes_FromStringAndSize(NULL, most * (Py_ssize_t)sizeof(int64_t));
    PyObject *heads = head > 0 ? PyBytes_FromStringAndSize(NULL, most * head) : NULL;
    if (out == NULL || (head > 0 && heads == NULL)) {
        Py_XDECREF(out);
        Py_XDECREF(heads);
        PyBuffer_Release(&view);
        return NULL;
    }
    int64_t *o = (int64_t *)PyBytes_AS_STRING(out);
    unsigned char *h = head > 0 ? (unsigned char *)PyBytes_AS_STRING(heads) : NULL;
    Py_ssize_t n = 0, pos = start, nxt, ahead = start;
    while ((nxt = step(b, pos, end, be)) >= 0) {
        /* Each step needs the length the last one read: ask for the bytes a few records on
         * before they are needed, so the walk does not wait for memory at every record. */
        for (; ahead < nxt + PREFETCH_BYTES && ahead < end; ahead += 64)
            __builtin_prefetch(b + ahead);
        o[n] = (int64_t)pos;
        if (head > 0)
            memcpy(h + n * head, b + pos, (size_t)head);
        n++;
        pos = nxt;
    }
    PyBuffer_Release(&view);
    if (_PyBytes_Resize(&out, n * (Py_ssize_t)sizeof(int64_t)) < 0) {
        Py_XDECREF(heads);
        return NULL;
    }
    if (head <= 0)
        return Py_BuildValue("(Nn)", out, pos);
    if (_PyBytes_Resize(&heads, n * head) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return Py_BuildValue("(NNn)", out, heads, pos);
}

static PyObject *
walk_pcap_heads(PyObject *self, PyObject *args)
{
    (void)self;
    return walk(args, step_pcap, 16, 16);
}

static PyObject *
walk_epb(PyObject *self, PyObject *args)
{
    (void)self;
    return walk(args, step_epb, 32, 0);
}

static PyMethodDef methods[] = {
    {"walk_pcap_heads", walk_pcap_heads, METH_VARARGS,
     "walk_pcap_heads(buf, pos, big_endian) -> (offsets, heads, pos): start of every complete "
     "classic pcap record from buf[pos:] (offsets: native int64 values as bytes), the 16-byte "
     "header of each (one after another, as bytes) and where the walk stopped."},
    {"walk_epb", walk_epb, METH_VARARGS,
     "walk_epb(buf, pos, big_endian) -> (offsets, pos): start of every complete, well-sized "
     "pcapng Enhanced Packet Block from buf[pos:] and where the walk stopped."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_walk",
    "Record walks of the pcap and pcapng readers in C (see pcap.py and pcapng.py).", -1, methods,
};

PyMODINIT_FUNC
PyInit__walk(void)
{
    return PyModule_Create(&module);
}

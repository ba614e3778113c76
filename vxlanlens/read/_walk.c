/*
 * The sequential part of reading a capture: finding where each record starts.
 *
 * A record's offset depends on the length field of the record before it, so this walk cannot
 * be vectorised; in Python it is the largest single cost of building the packets table. These
 * two functions do exactly what the Python loops of pcap.py and pcapng.py do (those loops stay
 * as the fallback when this module is not built) and nothing else: every check on a record's
 * contents stays in Python, on the offsets given back.
 *
 * walk_pcap(buf, pos, big_endian) -> (offsets, pos)
 *     Classic pcap records from buf[pos:]: while a 16-byte record header and the incl_len
 *     bytes it announces fit in the buffer.
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

typedef Py_ssize_t (*step_fn)(const unsigned char *, Py_ssize_t, Py_ssize_t, int);

static PyObject *
walk(PyObject *args, step_fn step)
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
    /* First pass counts, second fills: no reallocation, and the headers just read are in
     * the cache for the second pass. */
    Py_ssize_t n = 0, pos = start, nxt;
    while ((nxt = step(b, pos, end, be)) >= 0) {
        n++;
        pos = nxt;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    if (out == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    int64_t *o = (int64_t *)PyBytes_AS_STRING(out);
    pos = start;
    for (Py_ssize_t i = 0; i < n; i++) {
        o[i] = (int64_t)pos;
        pos = step(b, pos, end, be);
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(Nn)", out, pos);
}

static PyObject *
walk_pcap(PyObject *self, PyObject *args)
{
    (void)self;
    return walk(args, step_pcap);
}

static PyObject *
walk_epb(PyObject *self, PyObject *args)
{
    (void)self;
    return walk(args, step_epb);
}

static PyMethodDef methods[] = {
    {"walk_pcap", walk_pcap, METH_VARARGS,
     "walk_pcap(buf, pos, big_endian) -> (offsets, pos): start of every complete classic pcap "
     "record from buf[pos:] (offsets: native int64 values as bytes) and where the walk stopped."},
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

/*
 * cext_demo._fast: a tiny C extension module.
 *
 *   add(a, b)   -> a + b, for two integers that fit in a C long
 *   version()   -> the version string of this module
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>

#define FAST_VERSION "1.0"

static PyObject *
fast_add(PyObject *self, PyObject *args)
{
    long a, b;

    if (!PyArg_ParseTuple(args, "ll:add", &a, &b)) {
        return NULL;
    }
    if ((b > 0 && a > LONG_MAX - b) || (b < 0 && a < LONG_MIN - b)) {
        PyErr_SetString(PyExc_OverflowError, "add() result does not fit in a C long");
        return NULL;
    }
    return PyLong_FromLong(a + b);
}

static PyObject *
fast_version(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyUnicode_FromString(FAST_VERSION);
}

static PyMethodDef fast_methods[] = {
    {"add", fast_add, METH_VARARGS, "add(a, b)\n--\n\nReturn a + b for two C longs."},
    {"version", fast_version, METH_NOARGS, "version()\n--\n\nReturn the module version."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef fast_module = {
    PyModuleDef_HEAD_INIT,
    "cext_demo._fast",
    "A tiny C extension module for the exearchive samples.",
    -1,
    fast_methods
};

PyMODINIT_FUNC
PyInit__fast(void)
{
    return PyModule_Create(&fast_module);
}

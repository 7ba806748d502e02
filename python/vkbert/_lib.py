"""ctypes declarations of libvkbert's public C API (host/vkbert.h).

Only what the binding uses is declared.  The structs mirror vkbert.h field by
field; keep them in step with it (python/tests/test_model.py compares the
field names and order with the header, so a change there fails the test).  The library is found, in this order, at
$VKBERT_LIBRARY, <repo>/build/libvkbert.so, then by ctypes.util.find_library
("vkbert") (the system library path).  It is loaded once per process with
ctypes.CDLL, which releases the GIL around every C call, so scoring in one
thread does not stop the others.
"""
import ctypes
import ctypes.util
import os
import threading

VKB_ERR_MAX = 1024

PRECISIONS = {None: 0, "auto": 0, "fp32": 1, "fp16": 2, "bf16": 3, "int8": 4}  # vkb_precision
POOLINGS = {"mean": 1, "cls": 2, "max": 3}  # vkb_pooling


class Error(RuntimeError):
    """An error reported by libvkbert; the message is the library's own
    (it names the file, field or tensor at fault)."""


class Note(UserWarning):
    """Warned when a Model opens on a backend that runs otherwise than asked
    (vkb_backend_note: e.g. precision="bf16" or "int8" on a CPU without the
    instructions runs fp32); Model.note holds the same text."""


class vkb_error(ctypes.Structure):
    _fields_ = [("msg", ctypes.c_char * VKB_ERR_MAX), ("code", ctypes.c_int)]

    def text(self):
        return self.msg.decode("utf-8", "replace")


class vkb_config(ctypes.Structure):
    _fields_ = [("dim", ctypes.c_int), ("n_layers", ctypes.c_int),
                ("n_heads", ctypes.c_int), ("hidden_dim", ctypes.c_int),
                ("vocab_size", ctypes.c_int), ("max_pos", ctypes.c_int),
                ("pad_token_id", ctypes.c_int), ("n_labels", ctypes.c_int),
                ("labels", ctypes.POINTER(ctypes.c_char_p))]


class vkb_vulkan_opts(ctypes.Structure):
    # kernel variants, 0 = AUTO (the device policy); enums are C ints
    _fields_ = [("gemm", ctypes.c_int), ("layernorm", ctypes.c_int), ("attention", ctypes.c_int),
                ("staging_upload", ctypes.c_int),
                ("tune_dir", ctypes.c_char_p),  # the tuning cache (NULL: not used)
                ("coopmat", ctypes.c_int)]


class vkb_backend_opts(ctypes.Structure):
    _fields_ = [("device", ctypes.c_char_p), ("precision", ctypes.c_int),
                ("threads", ctypes.c_int), ("fp64_accum", ctypes.c_int),
                ("max_tokens", ctypes.c_int), ("max_len", ctypes.c_int),
                ("validation", ctypes.c_int), ("max_device_mem", ctypes.c_uint64),
                ("vulkan", vkb_vulkan_opts),
                ("dnnl_library", ctypes.c_char_p)]  # CPU bf16/int8: NULL = libdnnl.so.2


class vkb_default_values(ctypes.Structure):
    _fields_ = [("max_len", ctypes.c_int), ("batch_tokens", ctypes.c_int),
                ("max_tokens", ctypes.c_int), ("window", ctypes.c_int)]


NOTE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)
DROP_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class vkb_scorer_opts(ctypes.Structure):
    _fields_ = [("max_len", ctypes.c_int), ("batch_tokens", ctypes.c_int),
                ("window", ctypes.c_int), ("no_sort", ctypes.c_int),
                ("threads", ctypes.c_int), ("pad_multiple", ctypes.c_int),
                ("note", NOTE_FN), ("interrupt", ctypes.POINTER(ctypes.c_int)),
                ("drop_user", DROP_FN), ("fault_inject", ctypes.c_int),
                ("fault_after_batches", ctypes.c_longlong),
                ("pooling", ctypes.c_int), ("normalize", ctypes.c_int),
                ("batch_cost_tokens", ctypes.c_int)]


class vkb_score(ctypes.Structure):
    _fields_ = [("index", ctypes.c_uint64), ("user", ctypes.c_void_p),
                ("logits", ctypes.POINTER(ctypes.c_float)),
                ("n_labels", ctypes.c_int), ("n_tokens", ctypes.c_int),
                ("truncated", ctypes.c_int),
                ("embedding", ctypes.POINTER(ctypes.c_float)), ("dim", ctypes.c_int)]


class vkb_st_pooling(ctypes.Structure):
    _fields_ = [("present", ctypes.c_int), ("pooling", ctypes.c_int), ("normalize", ctypes.c_int)]


SCORE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(vkb_score))

_P = ctypes.c_void_p  # opaque handles (vkb_model*, vkb_backend*, ...)
_ERR = ctypes.POINTER(vkb_error)
_I32P = ctypes.POINTER(ctypes.c_int32)

# name: (restype, argtypes)
_PROTOS = {
    "vkb_model_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(_P), _ERR]),
    "vkb_model_free": (None, [_P]),
    "vkb_defaults": (ctypes.POINTER(vkb_default_values), []),
    "vkb_model_max_len": (ctypes.c_int, [_P, ctypes.c_int]),
    "vkb_model_config": (ctypes.POINTER(vkb_config), [_P]),
    "vkb_model_tokenizer": (_P, [_P]),
    "vkb_model_st_pooling": (ctypes.POINTER(vkb_st_pooling), [_P]),
    "vkb_tokenize": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int, _I32P]),
    "vkb_token_str": (ctypes.c_char_p, [_P, ctypes.c_int32]),
    "vkb_tokenizer_max_len": (ctypes.c_int, [_P]),
    "vkb_backend_create": (ctypes.c_int, [_P, ctypes.POINTER(vkb_backend_opts),
                                          ctypes.POINTER(_P), _ERR]),
    "vkb_backend_free": (None, [_P]),
    "vkb_backend_device": (ctypes.c_char_p, [_P]),
    "vkb_backend_note": (ctypes.c_char_p, [_P]),
    "vkb_scorer_create": (ctypes.c_int, [_P, ctypes.POINTER(vkb_scorer_opts), SCORE_FN,
                                         _P, ctypes.POINTER(_P), _ERR]),
    "vkb_scorer_add_text": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t, _P, _ERR]),
    "vkb_scorer_add_ids": (ctypes.c_int, [_P, _I32P, ctypes.c_int, _P, _ERR]),
    "vkb_scorer_finish": (ctypes.c_int, [_P, _ERR]),
    "vkb_scorer_max_len": (ctypes.c_int, [_P]),
    "vkb_scorer_free": (None, [_P]),
    "vkb_softmax": (None, [ctypes.POINTER(ctypes.c_float), ctypes.c_int]),
    "vkb_devices_report": (ctypes.c_int, [ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), _ERR]),
    # the output line, one contract with `vkbert score` (vkbert.h)
    "vkb_result_json": (ctypes.c_int, [ctypes.POINTER(vkb_config), ctypes.c_void_p,
                                       ctypes.POINTER(ctypes.c_float), ctypes.c_int,
                                       ctypes.c_uint, ctypes.c_int, ctypes.POINTER(_P),
                                       ctypes.POINTER(ctypes.c_size_t), _ERR]),
    "vkb_embedding_json": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int,
                                          ctypes.POINTER(_P), ctypes.POINTER(ctypes.c_size_t), _ERR]),
    "vkb_error_json": (ctypes.c_int, [ctypes.c_long, ctypes.c_char_p, ctypes.c_void_p,
                                      ctypes.c_char_p, ctypes.POINTER(_P),
                                      ctypes.POINTER(ctypes.c_size_t), _ERR]),
    "vkb_record_parse_json": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                             ctypes.POINTER(_P), ctypes.POINTER(ctypes.c_size_t),
                                             ctypes.POINTER(_P), ctypes.POINTER(_P),
                                             ctypes.POINTER(_P)]),
    "vkb_free": (None, [ctypes.c_void_p]),
}

OUT_ALL_SCORES = 1
OUT_LOGITS = 2

_lock = threading.Lock()
_lib = None


def repo_root():
    """The repository this package lives in (python/vkbert/ -> <repo>)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def library_path():
    """Where the shared library would be loaded from (see module doc)."""
    env = os.environ.get("VKBERT_LIBRARY")
    if env:
        return env
    local = os.path.join(repo_root(), "build", "libvkbert.so")
    if os.path.exists(local):
        return local
    return ctypes.util.find_library("vkbert")


def lib():
    """The loaded library with prototypes set (loaded on first use)."""
    global _lib
    with _lock:
        if _lib is None:
            path = library_path()
            if not path:
                raise Error("libvkbert.so not found: build it (cmake --build build "
                            "--target vkbert_shared) or set VKBERT_LIBRARY to its path")
            try:
                so = ctypes.CDLL(path)
            except OSError as e:
                raise Error("cannot load libvkbert from %s: %s" % (path, e)) from None
            for name, (res, args) in _PROTOS.items():
                fn = getattr(so, name)
                fn.restype = res
                fn.argtypes = args
            so.free = ctypes.CDLL(None).free
            so.free.argtypes = [ctypes.c_void_p]
            so.free.restype = None
            _lib = so
        return _lib


def check(rc, err):
    """Raises Error with the library's message when rc is non-zero."""
    if rc != 0:
        raise Error(err.text() or "libvkbert call failed (rc=%d)" % rc)

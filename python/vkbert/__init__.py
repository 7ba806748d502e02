"""vkbert: DistilBERT text classification on any Vulkan GPU (or the CPU
reference), as a thin ctypes binding over libvkbert.so.

    import vkbert
    with vkbert.Model("path/to/model", device="gpu") as m:
        m.score(["a great film", "dull"])   # [{"label": ..., "score": ...}, ...]
        m.logits(["a great film"])         # numpy float32 [1, n_labels]

See docs/python.md; vkbert.dask scores large datasets on a Dask cluster.
"""
from ._lib import Error, Note, library_path
from .model import Model, default_model_path, devices

__all__ = ["Model", "Error", "Note", "devices", "default_model_path", "library_path"]

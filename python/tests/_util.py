"""Tiny test runner shared by the binding tests: plain asserts, run every
test_* function of a module, exit 1 on failure and 77 (ctest's skip) when a
prerequisite is missing."""
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))

SKIP = 77


class Skip(Exception):
    pass


def skip(why):
    raise Skip(why)


def require_library():
    """Imports vkbert and loads libvkbert.so, or skips (with the reason)."""
    import vkbert
    from vkbert import _lib
    try:
        _lib.lib()
    except vkbert.Error as e:
        # Under ctest the library is a build product: not loading it is a
        # failure, not a reason to skip.
        if os.environ.get("VKB_REQUIRE_LIBRARY") == "1":
            raise
        skip(str(e))
    return vkbert


def library_or_exit():
    """require_library() at a script's top level: exits 77 on a skip."""
    try:
        return require_library()
    except Skip as e:
        print("SKIP: %s" % e)
        sys.exit(SKIP)


def run(namespace):
    tests = [(k, v) for k, v in namespace.items() if k.startswith("test_") and callable(v)]
    failed = 0
    for name, fn in tests:
        t0 = time.time()
        try:
            fn()
        except Skip as e:
            print("SKIP %s: %s" % (name, e))
            if len(tests) == 1:
                sys.exit(SKIP)
            continue
        except Exception:
            failed += 1
            print("FAIL %s" % name)
            traceback.print_exc()
            continue
        print("ok   %s (%.2fs)" % (name, time.time() - t0))
    sys.exit(1 if failed else 0)

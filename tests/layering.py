#!/usr/bin/env python3
"""layering.py - the layer rule of the source tree, checked.

The folders are the layers.  Data flows one way, text -> loader -> backends
-> scorer -> front ends, and each layer may include headers of the layers
listed for it below and of nothing else: not of a higher layer, not of a
sibling it must not know (the CPU backend and the Vulkan backend do not see
each other).  CMake gives every layer's target only the include directories
of the layers it may use (CMakeLists.txt); this script is the second guard,
which also catches a relative path ("../x/y.h") that include directories
would not stop.

Usage: tests/layering.py [ROOT]      exit 0 when clean, 1 with one line per
                                     violation (file:line: what and why)
       tests/layering.py --self-test  plants violations in a copy of the tree
                                     and fails unless each one is reported
"""
import os
import re
import sys

# layer: (folders or files that form it, layers it may include)
LAYERS = {
    "loader":  (["loader"], []),
    "base":    (["host/base"], ["loader"]),
    "ops":     (["host/ops"], ["loader", "base"]),
    "backend": (["host/backend"], ["loader", "base"]),
    "io":      (["host/io"], ["loader", "base"]),
    "cpu":     (["host/cpu"], ["loader", "base", "ops", "backend"]),
    "vulkan":  (["host/vulkan"], ["loader", "base", "ops", "backend"]),
    "scorer":  (["host/scorer"], ["loader", "base", "ops", "backend", "io", "cpu", "vulkan"]),
    "api":     (["host/vkbert.h"], ["loader", "backend", "io", "vulkan", "scorer"]),
    "cli":     (["host/cli"], ["api", "base"]),
}
# Generated headers (build/...), named by the layer that owns them.
GENERATED = {"vkb_shaders.h": "vulkan", "vkb_git.h": "cli"}
# Headers of one layer that higher layers may NOT include: a layer's
# internals.  Everything a front end needs comes through vkbert.h.
PRIVATE = {"vk_internal.h"}

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def layer_of(rel):
    for name, (places, _) in LAYERS.items():
        for p in places:
            if rel == p or rel.startswith(p + "/"):
                return name
    return None


def check(root):
    headers = {}  # basename -> [relative paths]
    sources = []
    for top in ("loader", "host"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                rel = os.path.relpath(os.path.join(d, f), root)
                if f.endswith(".h"):
                    headers.setdefault(f, []).append(rel)
                if f.endswith((".c", ".h")):
                    sources.append(rel)
    bad = []
    for name, paths in headers.items():
        if len(paths) > 1:
            bad.append("%s: one header name in two layers: %s" % (name, ", ".join(paths)))
    for rel in sorted(sources):
        me = layer_of(rel)
        if me is None:
            bad.append("%s: not in any layer (add its folder to LAYERS in tests/layering.py)" % rel)
            continue
        allowed = set(LAYERS[me][1]) | {me}
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                inc = m.group(1)
                base = os.path.basename(inc)
                if "/" in inc:
                    target = os.path.normpath(os.path.join(os.path.dirname(rel), inc))
                    where = layer_of(target)
                    bad.append("%s:%d: includes \"%s\" by a path; use the include directories "
                               "CMake gives the layer%s" % (rel, n, inc,
                               " (it is in layer '%s')" % where if where else ""))
                    continue
                if base in GENERATED:
                    where = GENERATED[base]
                elif base in headers:
                    where = layer_of(headers[base][0])
                else:
                    bad.append("%s:%d: includes \"%s\", which is in no layer" % (rel, n, inc))
                    continue
                if where not in allowed:
                    bad.append("%s:%d: layer '%s' includes \"%s\" of layer '%s' (allowed: %s)" % (
                        rel, n, me, inc, where, ", ".join(sorted(allowed))))
                elif where != me and base in PRIVATE:
                    bad.append("%s:%d: \"%s\" is internal to layer '%s'" % (rel, n, inc, where))
    return bad, len(sources)


# Each plant: (file, line to add, text the report must contain).
PLANTS = [
    ("loader/model.c", '#include "vkbert_scorer.h"', "layer 'loader' includes \"vkbert_scorer.h\" of layer 'scorer'"),
    ("host/cpu/cpu_backend.c", '#include "vk_backend.h"', "layer 'cpu' includes \"vk_backend.h\" of layer 'vulkan'"),
    ("host/cli/cli.c", '#include "model.h"', "layer 'cli' includes \"model.h\" of layer 'loader'"),
    ("host/scorer/scorer.c", '#include "vk_internal.h"', "\"vk_internal.h\" is internal to layer 'vulkan'"),
    ("loader/config.c", '#include "../host/base/parallel.h"', "by a path"),
]


def self_test(root):
    import shutil
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        for top in ("loader", "host"):
            shutil.copytree(os.path.join(root, top), os.path.join(tmp, top))
        bad, _ = check(tmp)
        if bad:
            print("layering --self-test: the tree itself is not clean:\n" + "\n".join(bad))
            return 1
        for path, line, _ in PLANTS:
            with open(os.path.join(tmp, path), "a") as f:
                f.write("\n" + line + "\n")
        bad, _ = check(tmp)
        missed = [p for p in PLANTS if not any(p[0] in b and p[2] in b for b in bad)]
        for b in bad:
            print("reported: " + b)
        for p in missed:
            print("MISSED: %s: %s" % (p[0], p[1]))
        if missed or len(bad) != len(PLANTS):
            print("layering --self-test: FAILED (%d planted, %d reported, %d missed)" %
                  (len(PLANTS), len(bad), len(missed)))
            return 1
        print("layering --self-test: all %d planted violations reported" % len(PLANTS))
        return 0


def main():
    args = sys.argv[1:]
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    if args and args[0] == "--self-test":
        return self_test(os.path.abspath(args[1] if len(args) > 1 else here))
    bad, n = check(os.path.abspath(args[0] if args else here))
    for b in bad:
        print(b)
    if bad:
        print("layering: %d violation(s)" % len(bad))
        return 1
    print("layering: %d files, %d layers, no violation" % (n, len(LAYERS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

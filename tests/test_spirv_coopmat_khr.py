#!/usr/bin/env python3
"""test_spirv_coopmat_khr.py - checks the SPV_KHR_cooperative_matrix modules
that shaders/spirv_coopmat_khr.py derives from the NV coopmat variants,
without a GPU and without a validator that knows the KHR extension (Debian
12's spirv-val, SPIRV-Tools 2023.1, rejects CooperativeMatrixKHR as an
unknown capability; no newer one is packaged).

  test_spirv_coopmat_khr.py GRAMMAR NV.spv KHR.spv   one variant
  test_spirv_coopmat_khr.py --self-test GRAMMAR NV.spv
      the rewriter refuses what it cannot map, and this checker catches
      planted faults in a good KHR module

Checks of a pair:
  - the NV module is valid (spirv-val --target-env vulkan1.1, when installed);
  - every instruction of the KHR module decodes to exactly its word count
    (grammar operand layouts; the KHR instructions' fixed sizes from the spec);
  - no NV coopmat opcode, capability or extension is left; the KHR ones and
    VulkanMemoryModel are declared; ids are defined once and below the bound;
  - every OpTypeCooperativeMatrixKHR has a Use that is a 32-bit OpConstant of
    MatrixA/MatrixB/MatrixAccumulator; each MulAdd's A, B, C and result have
    Use A, B, Accumulator, Accumulator and consistent M x N x K; loads and
    stores name pointee/operand types that agree (a value of one Use never
    flows into another's type); conversions keep the Use;
  - instruction by instruction against the NV module (instructions defining
    new ids skipped): the same words up to type ids that duplicate the NV
    type; loads/stores with the same pointer, stride and memory operands and
    MemoryLayout ColumnMajorKHR exactly where the NV ColumnMajor was true.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shaders"))
import spirv_coopmat_khr as R  # noqa: E402

NV_OPS = {R.NV_TYPE, R.NV_LOAD, R.NV_STORE, R.NV_MULADD, R.NV_LENGTH}
OP_LOAD, OP_STORE, OP_ACCESS_CHAIN, OP_IN_BOUNDS_ACCESS_CHAIN, OP_VARIABLE = 61, 62, 65, 66, 59
OP_PHI, OP_COPY_OBJECT, OP_SELECT = 245, 83, 169
CONVERSIONS = set(range(109, 125))
# fixed word counts (header included) of the KHR instructions, or (min, max)
KHR_SIZES = {R.KHR_TYPE: (7, 7), R.KHR_LOAD: (4, 99), R.KHR_STORE: (4, 99), R.KHR_MULADD: (6, 7),
             R.KHR_LENGTH: (4, 4)}


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def spirv_val(path):
    exe = shutil.which("spirv-val")
    if not exe:
        print("note: spirv-val not installed; the NV module is not validated")
        return
    r = subprocess.run([exe, "--target-env", "vulkan1.1", path], capture_output=True, text=True)
    check(r.returncode == 0, "spirv-val rejects the NV module %s: %s" % (path, r.stderr.strip()))


def check_pair(g, nv_data, khr_data):
    nv = R.Module(g, nv_data)
    try:
        k = R.Module(g, khr_data)
    except R.SpirvError as e:
        raise Fail("KHR module does not decode: %s" % e)
    ops = [k.op(i) for i in range(len(k.insts))]
    bound = k.header[3]
    check(k.header[:3] == nv.header[:3] and k.header[4] == 0, "header changed")
    check(bound >= nv.header[3], "bound shrank")
    # ids: each defined once, below the bound
    seen = set()
    for i, ins in enumerate(k.insts):
        for kind, p in k.ops[i]:
            if kind == "IdResult":
                check(ins[p] not in seen, "id %%%d defined twice" % ins[p])
                check(0 < ins[p] < bound, "id %%%d not below the bound %d" % (ins[p], bound))
                seen.add(ins[p])
        early = g.ops[k.op(i)][1] in ("Type-Declaration", "Constant-Creation")
        for _, v in k.ids(i, ("IdResultType", "IdRef", "IdScope", "IdMemorySemantics")):
            check(v in k.def_at, "%s uses undefined %%%d" % (g.name(k.op(i)), v))
            # types and constants only refer back
            check(not early or v in seen, "%s %%%d uses %%%d before it is defined"
                  % (g.name(k.op(i)), ins[1], v))
    for i, ins in enumerate(k.insts):
        op = ops[i]
        check(op not in NV_OPS, "NV instruction %s left" % g.name(op))
        if op in KHR_SIZES:
            lo, hi = KHR_SIZES[op]
            check(lo <= len(ins) <= hi, "%s has %d words" % (g.name(op), len(ins)))
    caps = [ins[1] for ins in k.insts if ins[0] & 0xFFFF == R.OP_CAPABILITY]
    exts = [R.words_string(ins[1:]) for ins in k.insts if ins[0] & 0xFFFF == R.OP_EXTENSION]
    check(R.CAP_COOP_NV not in caps and R.EXT_NV not in exts, "NV capability or extension left")
    check(caps.count(R.CAP_COOP_KHR) == 1 and exts.count(R.EXT_KHR) == 1,
          "CooperativeMatrixKHR / SPV_KHR_cooperative_matrix not declared once")
    check(R.CAP_VULKAN_MEMORY_MODEL in caps, "VulkanMemoryModel not declared")

    def int_const(v):
        d = k.defn(v)
        if d is None or d[0] & 0xFFFF != R.OP_CONSTANT or len(d) != 4:
            return None
        t = k.defn(d[1])
        return d[3] if t is not None and t[0] & 0xFFFF == R.OP_TYPE_INT and t[2] == 32 else None

    coop = {}  # KHR type id -> (comp, scope, rows, cols, use)
    for ins in k.insts:
        if ins[0] & 0xFFFF == R.KHR_TYPE:
            use = int_const(ins[6])
            check(use in (R.USE_A, R.USE_B, R.USE_ACC),
                  "type %%%d: Use %%%d is not a 32-bit constant 0..2" % (ins[1], ins[6]))
            coop[ins[1]] = (ins[2], ins[3], ins[4], ins[5], use)
    check(coop, "no OpTypeCooperativeMatrixKHR")

    def pointee(t):
        d = k.defn(t)
        check(d is not None and d[0] & 0xFFFF == R.OP_TYPE_POINTER, "%%%d is not a pointer type" % t)
        return d[2], d[3]

    def tof(v):
        check(v in k.type_of, "%%%d has no type" % v)
        return k.type_of[v]

    # types agree along every data path a coopmat value takes
    for i, ins in enumerate(k.insts):
        op = ops[i]
        name = g.name(op)
        if op == R.KHR_MULADD:
            a, b, c, r = coop.get(tof(ins[3])), coop.get(tof(ins[4])), coop.get(tof(ins[5])), coop.get(ins[1])
            check(None not in (a, b, c, r), "MulAdd %%%d on non-coopmat operands" % ins[2])
            check((a[4], b[4], c[4], r[4]) == (R.USE_A, R.USE_B, R.USE_ACC, R.USE_ACC),
                  "MulAdd %%%d: uses A,B,C,result = %s" % (ins[2], (a[4], b[4], c[4], r[4])))
            m_, kk, n_ = int_const(a[2]), int_const(a[3]), int_const(b[3])
            check(int_const(b[2]) == kk and int_const(c[2]) == m_ and int_const(c[3]) == n_ and
                  int_const(r[2]) == m_ and int_const(r[3]) == n_ and len({a[1], b[1], c[1], r[1]}) == 1,
                  "MulAdd %%%d: inconsistent shapes or scopes" % ins[2])
            comps = [k.defn(x[0]) for x in (a, b, c, r)]
            mask = ins[6] if len(ins) > 6 else 0
            want = sum(bit for d, bit in zip(comps, (1, 2, 4, 8))
                       if d[0] & 0xFFFF == R.OP_TYPE_INT and d[3] == 1)
            check(mask == want, "MulAdd %%%d: operands 0x%x, signedness says 0x%x" % (ins[2], mask, want))
        elif op == R.KHR_LOAD:
            check(ins[1] in coop, "load %%%d: result type not coopmat" % ins[2])
            check(int_const(ins[4]) in (R.ROW_MAJOR, R.COL_MAJOR), "load %%%d: bad MemoryLayout" % ins[2])
        elif op == R.KHR_STORE:
            check(tof(ins[2]) in coop, "store of a non-coopmat")
            check(int_const(ins[3]) in (R.ROW_MAJOR, R.COL_MAJOR), "store: bad MemoryLayout")
        elif op == R.KHR_LENGTH:
            check(ins[3] in coop, "length of a non-coopmat type")
        elif op == OP_LOAD:
            check(pointee(tof(ins[3]))[1] == ins[1], "OpLoad %%%d: type differs from the pointee" % ins[2])
        elif op == OP_STORE:
            check(pointee(tof(ins[1]))[1] == tof(ins[2]), "OpStore to %%%d: value type differs" % ins[1])
        elif op == OP_VARIABLE and len(ins) > 4:
            check(pointee(ins[1])[1] == tof(ins[4]), "OpVariable %%%d: initializer type" % ins[2])
        elif op in (OP_ACCESS_CHAIN, OP_IN_BOUNDS_ACCESS_CHAIN):
            sc, t = pointee(tof(ins[3]))
            for idx in ins[4:]:
                d = k.defn(t)
                dop = d[0] & 0xFFFF
                if dop in (R.OP_TYPE_ARRAY, R.OP_TYPE_RUNTIME_ARRAY, 23, 24):
                    t = d[2]
                elif dop == R.OP_TYPE_STRUCT:
                    t = d[2 + int_const(idx)]
                else:
                    raise Fail("%s %%%d indexes into %s" % (name, ins[2], g.name(dop)))
            check(pointee(ins[1]) == (sc, t), "%s %%%d: result type differs from the element" % (name, ins[2]))
        elif op in (OP_PHI, OP_COPY_OBJECT, OP_SELECT) and ins[1] in coop:
            vals = ins[3::2] if op == OP_PHI else ins[3:] if op == OP_COPY_OBJECT else ins[4:]
            check(all(tof(v) == ins[1] for v in vals), "%s %%%d: operand types differ" % (name, ins[2]))
        elif op in CONVERSIONS and ins[1] in coop:
            s = coop.get(tof(ins[3]))
            check(s is not None and s[1:] == coop[ins[1]][1:],
                  "%s %%%d converts between uses or shapes" % (name, ins[2]))
        elif ins[1:2] and ins[1] in coop and op not in (R.KHR_TYPE,):
            # other values of a coopmat type: every coopmat operand has its type
            for _, v in k.ids(i):
                if k.type_of.get(v) in coop:
                    check(tof(v) == ins[1], "%s %%%d mixes coopmat types" % (name, ins[2]))

    # instruction by instruction against the NV module
    nvb = nv.header[3]
    canon = {}

    def same_type_as(i):
        """The NV-era id the new type instruction i duplicates."""
        ins = k.insts[i]
        for j in range(len(k.insts)):
            o = k.insts[j]
            if o[1:2] and o[1] < nvb and o[0] == ins[0] and \
                    [canon.get(x, x) for x in o[2:]] == [canon.get(x, x) for x in ins[2:]]:
                return o[1]
            if ops[j] == R.KHR_TYPE and ops[i] == R.KHR_TYPE and o[1] < nvb and o[2:6] == ins[2:6]:
                return o[1]
        return None

    fresh_consts = set()
    for i, ins in enumerate(k.insts):
        res = [ins[p] for kind, p in k.ops[i] if kind == "IdResult"]
        if res and res[0] >= nvb:
            if ops[i] == R.OP_CONSTANT:
                fresh_consts.add(res[0])
            else:
                orig = same_type_as(i)
                check(orig is not None, "new id %%%d (%s) duplicates no NV type" % (res[0], g.name(ops[i])))
                canon[res[0]] = orig

    kept = [i for i in range(len(k.insts)) if not ([ins for kind, p in k.ops[i] if kind == "IdResult"
                                                   for ins in [k.insts[i][p]] if ins >= nvb])]
    check(len(kept) == len(nv.insts), "%d instructions kept for the NV module's %d" % (len(kept), len(nv.insts)))
    nloads = nstores = nmuladd = ntypes = 0
    for j, i in enumerate(kept):
        a, b = nv.insts[j], k.insts[i]
        aop, bop = a[0] & 0xFFFF, ops[i]
        where = "instruction %d (%s / %s)" % (j, g.name(aop), g.name(bop))

        def same(x, y):
            return canon.get(y, y) == x

        if aop == R.OP_CAPABILITY and a[1] == R.CAP_COOP_NV:
            check(b == [a[0], R.CAP_COOP_KHR], where)
        elif aop == R.OP_EXTENSION and R.words_string(a[1:]) == R.EXT_NV:
            check(bop == R.OP_EXTENSION and R.words_string(b[1:]) == R.EXT_KHR, where)
        elif aop == R.NV_TYPE:
            ntypes += 1
            check(bop == R.KHR_TYPE and b[1:6] == a[1:6], where)
        elif aop == R.NV_LOAD:
            nloads += 1
            check(bop == R.KHR_LOAD and same(a[1], b[1]) and b[2:4] == a[2:4] and b[5] == a[4] and
                  b[6:] == a[6:], where + ": operands")
            check(int_const(b[4]) == (R.COL_MAJOR if nv.const_value(a[5]) else R.ROW_MAJOR),
                  where + ": MemoryLayout does not match ColumnMajor")
        elif aop == R.NV_STORE:
            nstores += 1
            check(bop == R.KHR_STORE and b[1:3] == a[1:3] and b[4] == a[3] and b[5:] == a[5:],
                  where + ": operands")
            check(int_const(b[3]) == (R.COL_MAJOR if nv.const_value(a[4]) else R.ROW_MAJOR),
                  where + ": MemoryLayout does not match ColumnMajor")
        elif aop == R.NV_MULADD:
            nmuladd += 1
            check(bop == R.KHR_MULADD and same(a[1], b[1]) and b[2:6] == a[2:6], where)
        elif aop == R.NV_LENGTH:
            check(bop == R.KHR_LENGTH and same(a[1], b[1]) and same(a[3], b[3]) and b[2] == a[2], where)
        else:
            check(aop == bop and len(a) == len(b), where + ": differs")
            idpos = {p for kind, p in k.ops[i] if kind in R.ID_KINDS}
            for p in range(1, len(a)):
                check(a[p] == b[p] or (p in idpos and same(a[p], b[p])),
                      where + ": word %d is %d, NV has %d" % (p, b[p], a[p]))
    # fresh constants serve only as Use / MemoryLayout operands
    for i, ins in enumerate(k.insts):
        for p, v in k.ids(i):
            if v in fresh_consts:
                op = ops[i]
                check((op == R.KHR_TYPE and p == 6) or (op == R.KHR_LOAD and p == 4) or
                      (op == R.KHR_STORE and p == 3), "new constant %%%d used by %s" % (v, g.name(op)))
    return ntypes, nloads, nstores, nmuladd, len(coop)


def pair(g, nv_path, khr_path):
    spirv_val(nv_path)
    with open(nv_path, "rb") as f:
        nv = f.read()
    with open(khr_path, "rb") as f:
        khr = f.read()
    check(R.rewrite(g, nv) == khr, "%s is not what the rewriter makes of %s" % (khr_path, nv_path))
    t, ld, st, ma, kt = check_pair(g, nv, khr)
    print("%s: %d NV types -> %d KHR types, %d loads, %d stores, %d MulAdds: ok"
          % (os.path.basename(khr_path), t, kt, ld, st, ma))


def words(data):
    return list(struct.unpack("<%dI" % (len(data) // 4), data))


def pack(w):
    return struct.pack("<%dI" % len(w), *w)


def find(w, opcode, nth=0):
    i, seen = 5, 0
    while i < len(w):
        if w[i] & 0xFFFF == opcode:
            if seen == nth:
                return i
            seen += 1
        i += w[i] >> 16
    raise Fail("opcode %d not found" % opcode)


def self_test(g, nv_path):
    with open(nv_path, "rb") as f:
        nv = f.read()
    good = R.rewrite(g, nv)
    check_pair(g, nv, good)
    w = words(nv)
    # 1. the rewriter refuses a value used both as A and B
    m = list(w)
    i = find(m, R.NV_MULADD)
    m[i + 4] = m[i + 3]
    try:
        R.rewrite(g, pack(m))
        raise Fail("rewriter accepted a value used as MatrixA and MatrixB")
    except R.SpirvError as e:
        check("MatrixAKHR" in str(e) and "MatrixBKHR" in str(e), "unclear refusal: %s" % e)
        print("refused as it should: %s" % e)
    # 2. ... and a ColumnMajor operand that is not a boolean constant
    m = list(w)
    i = find(m, R.NV_LOAD)
    m[i + 5] = m[i + 4]  # the stride id
    try:
        R.rewrite(g, pack(m))
        raise Fail("rewriter accepted a non-constant ColumnMajor")
    except R.SpirvError as e:
        print("refused as it should: %s" % e)
    # 3. ... and a type that needs duplicating but is decorated (the fp16 type
    # serves as MatrixA and MatrixB in every coopmat shader here)
    m = list(w)
    i = find(m, R.NV_TYPE, 1)  # glslang declares the fp32 accumulator type first
    m[i:i] = [(3 << 16) | 71, m[i + 1], 0]  # OpDecorate %t RelaxedPrecision
    try:
        R.rewrite(g, pack(m))
        raise Fail("rewriter dropped the decorations of a duplicated type")
    except R.SpirvError as e:
        check("decorated" in str(e), "unclear refusal: %s" % e)
        print("refused as it should: %s" % e)
    # 4. the checker catches planted faults in a good KHR module
    kw = words(good)
    faults = []
    m = list(kw)
    i = find(m, R.KHR_LOAD)
    m[i + 4], m[i + 5] = m[i + 5], m[i + 4]   # stride and layout swapped
    faults.append(("layout/stride swapped", m))
    km = R.Module(g, good)
    consts = {ins[3]: ins[2] for ins in km.insts if ins[0] & 0xFFFF == R.OP_CONSTANT and len(ins) == 4}
    for nth in range(64):
        m = list(kw)
        try:
            i = find(m, R.KHR_LOAD, nth)
        except Fail:
            break
        lay = km.const_value(m[i + 4])
        m[i + 4] = consts[1 - lay] if (1 - lay) in consts else m[i + 4]
        if m != kw:
            faults.append(("layout flipped", m))
            break
    m = list(kw)
    i = find(m, R.KHR_TYPE)
    m[i + 6] = consts.get(5, m[i + 2])    # Use not 0..2
    faults.append(("bad Use", m))
    m = list(kw)
    i = find(m, R.KHR_MULADD)
    m[i + 3], m[i + 4] = m[i + 4], m[i + 3]  # A and B swapped
    faults.append(("A and B swapped", m))
    m = list(kw)
    i = find(m, R.OP_CAPABILITY)
    j = find(m, R.KHR_TYPE)
    m[j] = (6 << 16) | R.NV_TYPE              # an NV type left behind (word count 6 of 7)
    faults.append(("NV type left", m))
    m = list(kw)
    i = find(m, R.KHR_MULADD)
    m[i] = (7 << 16) | R.KHR_MULADD           # word count past the instruction
    faults.append(("bad word count", m))
    for what, m in faults:
        try:
            check_pair(g, nv, pack(m))
        except (Fail, R.SpirvError, KeyError, IndexError, TypeError) as e:
            print("planted fault caught (%s): %s" % (what, e))
            continue
        raise Fail("planted fault not caught: %s" % what)
    print("self-test ok")


def main(argv):
    try:
        if len(argv) == 4 and argv[1] == "--self-test":
            self_test(R.Grammar(argv[2]), argv[3])
        elif len(argv) == 4:
            pair(R.Grammar(argv[1]), argv[2], argv[3])
        else:
            sys.stderr.write(__doc__)
            return 2
    except (Fail, R.SpirvError) as e:
        print("FAIL: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""spirv_coopmat_khr.py - rewrites a SPV_NV_cooperative_matrix SPIR-V module
into the equivalent SPV_KHR_cooperative_matrix module (build time, run by
shaders/shaders.cmake on every coopmat variant).

Why: AMD RDNA3 and Intel Arc drivers expose only VK_KHR_cooperative_matrix,
and Debian 12's glslc (shaderc 2023.2) cannot compile GL_KHR_cooperative_matrix,
so the KHR module is derived from the NV one that glslc does compile.  Python 3
stdlib (no third-party module): python3 is already a build dependency (setup.sh,
tests/layering.py), and the instruction layouts come from the official SPIR-V
grammar (spirv.core.grammar.json, Debian package spirv-headers), not from a
hand-kept table, so every operand of every instruction is decoded exactly.
The five KHR instructions are newer than Debian's grammar; their layouts
(SPV_KHR_cooperative_matrix, revision 10) are declared below.

What changes (the rest of the module is copied word for word):
  OpCapability CooperativeMatrixNV (5357)  -> CooperativeMatrixKHR (6022)
  OpExtension "SPV_NV_cooperative_matrix"  -> "SPV_KHR_cooperative_matrix"
  OpTypeCooperativeMatrixNV (5358) comp scope rows cols
      -> OpTypeCooperativeMatrixKHR (4456) comp scope rows cols Use
     one KHR type per Use the NV type's values are put to; Use is inferred
     by data flow: every value whose type involves a coopmat type is joined
     (union-find) with the other coopmat-typed ids of each instruction it
     takes part in (loads/stores through variables, access chains, phis,
     conversions, arithmetic), and OpCooperativeMatrixMulAddNV fixes A ->
     MatrixAKHR, B -> MatrixBKHR, C and the result -> MatrixAccumulatorKHR.
     A class put to two uses is refused (exit 1, the ids named): KHR allows
     no conversion between uses.  Types built on coopmat types (arrays,
     pointers, structs) are duplicated per use in the same way.
  OpCooperativeMatrixLoadNV (5359) rt res ptr stride colmajor [mem]
      -> OpCooperativeMatrixLoadKHR (4457) rt' res ptr layout stride [mem]
  OpCooperativeMatrixStoreNV (5360) ptr obj stride colmajor [mem]
      -> OpCooperativeMatrixStoreKHR (4458) ptr obj layout stride [mem]
     colmajor must be OpConstantTrue/False; layout = a 32-bit OpConstant
     ColumnMajorKHR (1) / RowMajorKHR (0), reused or created.
  OpCooperativeMatrixMulAddNV (5361) -> OpCooperativeMatrixMulAddKHR (4459),
     with the Matrix{A,B,C,Result}SignedComponentsKHR operands where the
     component type is a signed integer (NV took signedness from the type).
  OpCooperativeMatrixLengthNV (5362) -> OpCooperativeMatrixLengthKHR (4460)
  Scope operands are ids in both extensions and are kept as they are.
New ids (constants, duplicated types) raise the header's bound.

usage: spirv_coopmat_khr.py GRAMMAR_JSON IN.spv OUT.spv
"""
import json
import struct
import sys

OP_EXTENSION, OP_CAPABILITY = 10, 17
OP_TYPE_BOOL, OP_TYPE_INT = 20, 21
OP_TYPE_ARRAY, OP_TYPE_RUNTIME_ARRAY, OP_TYPE_STRUCT, OP_TYPE_POINTER, OP_TYPE_FUNCTION = 28, 29, 30, 32, 33
OP_CONSTANT_TRUE, OP_CONSTANT_FALSE, OP_CONSTANT = 41, 42, 43
OP_FUNCTION, OP_FUNCTION_PARAMETER, OP_FUNCTION_CALL = 54, 55, 57
CAP_VULKAN_MEMORY_MODEL = 5345
CAP_COOP_NV, CAP_COOP_KHR = 5357, 6022
NV_TYPE, NV_LOAD, NV_STORE, NV_MULADD, NV_LENGTH = 5358, 5359, 5360, 5361, 5362
KHR_TYPE, KHR_LOAD, KHR_STORE, KHR_MULADD, KHR_LENGTH = 4456, 4457, 4458, 4459, 4460
EXT_NV, EXT_KHR = "SPV_NV_cooperative_matrix", "SPV_KHR_cooperative_matrix"
USE_A, USE_B, USE_ACC = 0, 1, 2
USE_NAMES = {USE_A: "MatrixAKHR", USE_B: "MatrixBKHR", USE_ACC: "MatrixAccumulatorKHR"}
ROW_MAJOR, COL_MAJOR = 0, 1
SIGNED_A, SIGNED_B, SIGNED_C, SIGNED_RESULT = 0x1, 0x2, 0x4, 0x8
MAGIC = 0x07230203

# SPV_KHR_cooperative_matrix, sections 3.42.x (not in Debian 12's grammar)
KHR_INSTRUCTIONS = {
    KHR_TYPE: ("OpTypeCooperativeMatrixKHR", "Type-Declaration",
               [("IdResult", None), ("IdRef", None), ("IdScope", None), ("IdRef", None),
                ("IdRef", None), ("IdRef", None)]),
    KHR_LOAD: ("OpCooperativeMatrixLoadKHR", "Memory",
               [("IdResultType", None), ("IdResult", None), ("IdRef", None), ("IdRef", None),
                ("IdRef", "?"), ("MemoryAccess", "?")]),
    KHR_STORE: ("OpCooperativeMatrixStoreKHR", "Memory",
                [("IdRef", None), ("IdRef", None), ("IdRef", None), ("IdRef", "?"),
                 ("MemoryAccess", "?")]),
    KHR_MULADD: ("OpCooperativeMatrixMulAddKHR", "Arithmetic",
                 [("IdResultType", None), ("IdResult", None), ("IdRef", None), ("IdRef", None),
                  ("IdRef", None), ("CooperativeMatrixOperands", "?")]),
    KHR_LENGTH: ("OpCooperativeMatrixLengthKHR", "Miscellaneous",
                 [("IdResultType", None), ("IdResult", None), ("IdRef", None)]),
}
ID_KINDS = ("IdResultType", "IdResult", "IdRef", "IdScope", "IdMemorySemantics")


class SpirvError(Exception):
    pass


class Grammar:
    """Instruction operand layouts and operand kinds from spirv.core.grammar.json."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            g = json.load(f)
        self.ops = {}
        for i in g["instructions"]:
            self.ops[i["opcode"]] = (i["opname"], i.get("class", ""),
                                     [(o["kind"], o.get("quantifier")) for o in i.get("operands", [])])
        for code, ins in KHR_INSTRUCTIONS.items():
            self.ops.setdefault(code, ins)
        self.kinds = {}
        for k in g["operand_kinds"]:
            enums = {}
            for e in k.get("enumerants", []):
                v = e["value"]
                v = int(v, 16) if isinstance(v, str) else v
                enums[v] = [p["kind"] for p in e.get("parameters", [])]
            self.kinds[k["kind"]] = (k["category"], enums, k.get("bases"))
        self.kinds["Capability"][1].setdefault(CAP_COOP_KHR, [])
        self.kinds.setdefault("CooperativeMatrixOperands",
                              ("BitEnum", {0: [], 1: [], 2: [], 4: [], 8: [], 16: []}, None))

    def name(self, opcode):
        return self.ops[opcode][0] if opcode in self.ops else "opcode %d" % opcode

    def decode(self, words):
        """The operands of one instruction (words[0] = length|opcode) as a list
        of (kind, word index); raises SpirvError if they do not fill it exactly."""
        opcode = words[0] & 0xFFFF
        if opcode not in self.ops:
            raise SpirvError("unknown opcode %d" % opcode)
        name, _cls, operands = self.ops[opcode]
        n = len(words)
        out = []
        pos = 1

        def one(kind, pos):
            if pos >= n:
                raise SpirvError("%s: operand %s runs past the instruction" % (name, kind))
            if kind in ID_KINDS or kind in ("LiteralInteger", "LiteralExtInstInteger"):
                out.append((kind, pos))
                return pos + 1
            if kind == "LiteralString":
                p = pos
                while p < n:
                    if any(((words[p] >> s) & 0xFF) == 0 for s in (0, 8, 16, 24)):
                        out.append((kind, pos))
                        return p + 1
                    p += 1
                raise SpirvError("%s: unterminated string" % name)
            if kind == "LiteralSpecConstantOpInteger":
                out.append((kind, pos))
                out.extend(("SpecConstantOpOperand", p) for p in range(pos + 1, n))
                return n  # the operation's operands: never cooperative matrices
            if kind == "LiteralContextDependentNumber":
                out.append((kind, pos))
                return n  # the rest (OpConstant / OpSpecConstant, width-dependent)
            if kind not in self.kinds:
                raise SpirvError("%s: unknown operand kind %s" % (name, kind))
            cat, enums, bases = self.kinds[kind]
            if cat == "Composite":
                for b in bases:
                    pos = one(b, pos)
                return pos
            v = words[pos]
            out.append((kind, pos))
            pos += 1
            if cat == "ValueEnum":
                if v not in enums:
                    raise SpirvError("%s: %s value %d unknown" % (name, kind, v))
                for p in enums[v]:
                    pos = one(p, pos)
            elif cat == "BitEnum":
                rest = v
                for bit in sorted(b for b in enums if b):
                    if v & bit:
                        rest &= ~bit
                        for p in enums[bit]:
                            pos = one(p, pos)
                if rest:
                    raise SpirvError("%s: %s bits 0x%x unknown" % (name, kind, rest))
            return pos

        for kind, q in operands:
            if q == "*":
                while pos < n:
                    pos = one(kind, pos)
            elif q == "?":
                if pos < n:
                    pos = one(kind, pos)
            else:
                pos = one(kind, pos)
        if pos != n:
            raise SpirvError("%s: %d words, operands fill %d" % (name, n, pos))
        return out


def read_module(data):
    if len(data) % 4 or len(data) < 20:
        raise SpirvError("not a SPIR-V module (%d bytes)" % len(data))
    w = list(struct.unpack("<%dI" % (len(data) // 4), data))
    if w[0] != MAGIC:
        raise SpirvError("bad magic 0x%08x" % w[0])
    header, insts, i = w[:5], [], 5
    while i < len(w):
        n = w[i] >> 16
        if n == 0 or i + n > len(w):
            raise SpirvError("instruction at word %d: bad word count %d" % (i, n))
        insts.append(w[i:i + n])
        i += n
    return header, insts


def write_module(header, insts):
    w = list(header)
    for ins in insts:
        w.extend(ins)
    return struct.pack("<%dI" % len(w), *w)


def string_words(s):
    b = s.encode() + b"\0"
    b += b"\0" * (-len(b) % 4)
    return list(struct.unpack("<%dI" % (len(b) // 4), b))


def words_string(ws):
    b = struct.pack("<%dI" % len(ws), *ws)
    return b[:b.index(b"\0")].decode()


class Module:
    """A parsed module with the facts both the rewriter and the test need."""

    def __init__(self, grammar, data):
        self.g = grammar
        self.header, self.insts = read_module(data)
        self.ops = []       # per instruction: decoded operands
        self.type_of = {}   # value id -> its type id
        self.def_at = {}    # result id -> instruction index
        for idx, ins in enumerate(self.insts):
            ops = grammar.decode(ins)
            self.ops.append(ops)
            kinds = [k for k, _ in ops]
            if "IdResult" in kinds:
                rid = ins[ops[kinds.index("IdResult")][1]]
                self.def_at[rid] = idx
                if "IdResultType" in kinds:
                    self.type_of[rid] = ins[ops[kinds.index("IdResultType")][1]]

    def op(self, i):
        return self.insts[i][0] & 0xFFFF

    def ids(self, i, kinds=("IdRef", "IdScope", "IdMemorySemantics")):
        """(word index, id) of the operands of instruction i that are ids of `kinds`."""
        return [(p, self.insts[i][p]) for k, p in self.ops[i] if k in kinds]

    def defn(self, rid):
        return self.insts[self.def_at[rid]] if rid in self.def_at else None

    def const_value(self, rid):
        d = self.defn(rid)
        if d is None:
            return None
        if d[0] & 0xFFFF == OP_CONSTANT and len(d) == 4:
            return d[3]
        if d[0] & 0xFFFF == OP_CONSTANT_TRUE:
            return True
        if d[0] & 0xFFFF == OP_CONSTANT_FALSE:
            return False
        return None


def coop_type_roots(m, coop_op):
    """type id -> the coopmat type it is or contains (arrays, pointers, structs)."""
    root = {}
    for i, ins in enumerate(m.insts):
        op = ins[0] & 0xFFFF
        if op == coop_op:
            root[ins[1]] = ins[1]
        elif op in (OP_TYPE_ARRAY, OP_TYPE_RUNTIME_ARRAY, OP_TYPE_STRUCT, OP_TYPE_POINTER,
                    OP_TYPE_FUNCTION):
            found = {root[t] for _, t in m.ids(i) if t in root}
            if len(found) > 1:
                raise SpirvError("%s %%%d holds several cooperative-matrix types"
                                 % (m.g.name(op), ins[1]))
            if found:
                if op == OP_TYPE_FUNCTION:
                    raise SpirvError("function type %%%d passes cooperative matrices "
                                     "(inline the function)" % ins[1])
                root[ins[1]] = found.pop()
    return root


class Roles:
    """Union-find of values that must share one cooperative-matrix Use."""

    def __init__(self):
        self.parent, self.use, self.why = {}, {}, {}

    def find(self, a):
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def fix(self, a, use, why):
        r = self.find(a)
        if r in self.use and self.use[r] != use:
            raise SpirvError("value %%%d is used as %s (%s) and as %s (%s): SPV_KHR_cooperative_matrix "
                             "has no conversion between uses" % (a, USE_NAMES[self.use[r]], self.why[r],
                                                                  USE_NAMES[use], why))
        self.use[r], self.why[r] = use, why

    def join(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        self.parent[ra] = rb
        if ra in self.use:
            self.fix(rb, self.use[ra], self.why[ra])

    def of(self, a):
        return self.use.get(self.find(a), USE_ACC)


def infer_roles(m, root):
    roles = Roles()
    for i, ins in enumerate(m.insts):
        op = ins[0] & 0xFFFF
        cls = m.g.ops[op][1]
        if cls in ("Type-Declaration", "Annotation", "Debug") or op in (NV_TYPE, NV_LENGTH):
            continue
        res = [v for k, p in m.ops[i] if k == "IdResult" for v in [ins[p]]]
        coop_res = [r for r in res if m.type_of.get(r) in root]
        coop_ops = [v for _, v in m.ids(i) if m.type_of.get(v) in root]
        if op in (OP_FUNCTION, OP_FUNCTION_PARAMETER, OP_FUNCTION_CALL) and (coop_res or coop_ops):
            raise SpirvError("%s passes cooperative matrices (inline the function)" % m.g.name(op))
        if op == NV_MULADD:
            for v, use, what in ((ins[3], USE_A, "A"), (ins[4], USE_B, "B"), (ins[5], USE_ACC, "C"),
                                 (ins[2], USE_ACC, "result")):
                roles.fix(v, use, "operand %s of OpCooperativeMatrixMulAddNV %%%d" % (what, ins[2]))
            continue
        group = coop_res + coop_ops
        for v in group:
            roles.find(v)
        for v in group[1:]:
            roles.join(group[0], v)
    return roles


def rewrite(grammar, data):
    m = Module(grammar, data)
    caps = [ins[1] for ins in m.insts if ins[0] & 0xFFFF == OP_CAPABILITY]
    if CAP_COOP_NV not in caps:
        raise SpirvError("the module does not declare CooperativeMatrixNV")
    if CAP_VULKAN_MEMORY_MODEL not in caps:
        raise SpirvError("SPV_KHR_cooperative_matrix needs the VulkanMemoryModel capability")
    root = coop_type_roots(m, NV_TYPE)
    roles = infer_roles(m, root)

    # which (type, use) pairs the module needs
    need = {}

    def add_need(t, use):
        if t not in root or use in need.setdefault(t, []):
            return
        need[t].append(use)
        i = m.def_at[t]
        for _, c in m.ids(i):
            add_need(c, use)

    for v, t in m.type_of.items():
        if t in root:
            add_need(t, roles.of(v))
    length_use = {}
    for i, ins in enumerate(m.insts):
        if ins[0] & 0xFFFF == NV_LENGTH:
            uses = need.get(ins[3], [])
            if len(uses) > 1:
                raise SpirvError("OpCooperativeMatrixLengthNV %%%d of type %%%d, which is used as %s: "
                                 "ambiguous in KHR" % (ins[2], ins[3], ", ".join(USE_NAMES[u] for u in uses)))
            length_use[i] = uses[0] if uses else USE_ACC
            add_need(ins[3], length_use[i])
    # types no value has (an unused pointer type, say): the first use of their root
    for t in sorted(root, key=lambda t: m.def_at[t]):
        if not need.get(t):
            need.pop(t, None)
            add_need(t, need[root[t]][0] if need.get(root[t]) else USE_ACC)

    # a duplicated type would lose its decorations (none on Function/Private
    # coopmat types as glslang emits them): refuse rather than drop them
    decorated = {ins[1] for ins in m.insts if ins[0] & 0xFFFF in (71, 72)}  # OpDecorate, OpMemberDecorate
    for t, uses in need.items():
        if len(uses) > 1 and t in decorated:
            raise SpirvError("type %%%d is used as %s and is decorated: its duplicates would lose "
                             "the decorations" % (t, " and ".join(USE_NAMES[u] for u in sorted(uses))))
    bound = m.header[3]

    def new_id():
        nonlocal bound
        bound += 1
        return bound - 1

    newtype = {}
    for t in sorted(need):
        for k, use in enumerate(sorted(need[t])):
            newtype[(t, use)] = t if k == 0 else new_id()

    def retype(t, use):
        return newtype[(t, use)] if t in root else t

    # 32-bit int constants for Use and MemoryLayout, declared before the first coopmat type
    first = min(m.def_at[t] for t in root if m.op(m.def_at[t]) == NV_TYPE)
    rows_const = m.insts[first][4]
    int_type = m.type_of.get(rows_const)
    it = m.defn(int_type) if int_type is not None else None
    if it is None or it[0] & 0xFFFF != OP_TYPE_INT or it[2] != 32:
        raise SpirvError("the Rows operand of %%%d is not a 32-bit integer constant" % m.insts[first][1])
    consts, added = {}, []
    for i in range(first):
        ins = m.insts[i]
        if ins[0] & 0xFFFF == OP_CONSTANT and ins[1] == int_type and len(ins) == 4:
            consts.setdefault(ins[3], ins[2])

    def const(v):
        if v not in consts:
            consts[v] = new_id()
            added.append([(4 << 16) | OP_CONSTANT, int_type, consts[v], v])
        return consts[v]

    use_const = {u: const(u) for u in (USE_A, USE_B, USE_ACC)}
    layout_const = {False: const(ROW_MAJOR), True: const(COL_MAJOR)}

    def layout(colmajor_id, what):
        v = m.const_value(colmajor_id)
        if not isinstance(v, bool):
            raise SpirvError("%s: the ColumnMajor operand %%%d is not OpConstantTrue/False "
                             "(KHR needs a constant MemoryLayout)" % (what, colmajor_id))
        return layout_const[v]

    def signed_int(t):
        d = m.defn(t)
        return d is not None and d[0] & 0xFFFF == OP_TYPE_INT and d[3] == 1

    out = []
    for i, ins in enumerate(m.insts):
        op = ins[0] & 0xFFFF
        if i == first:
            out.extend(added)
        if op == OP_CAPABILITY and ins[1] == CAP_COOP_NV:
            out.append([ins[0], CAP_COOP_KHR])
            continue
        if op == OP_EXTENSION and words_string(ins[1:]) == EXT_NV:
            s = string_words(EXT_KHR)
            out.append([((1 + len(s)) << 16) | OP_EXTENSION] + s)
            continue
        if len(ins) > 1 and ins[1] in root and (op == NV_TYPE or m.g.ops[op][1] == "Type-Declaration"):
            t = ins[1]
            for use in sorted(need[t]):
                if op == NV_TYPE:
                    out.append([(7 << 16) | KHR_TYPE, newtype[(t, use)], ins[2], ins[3], ins[4], ins[5],
                                use_const[use]])
                else:
                    w = list(ins)
                    w[1] = newtype[(t, use)]
                    for p, c in m.ids(i):
                        w[p] = retype(c, use)
                    out.append(w)
            continue
        w = list(ins)
        rt_pos = [p for k, p in m.ops[i] if k == "IdResultType"]
        res_pos = [p for k, p in m.ops[i] if k == "IdResult"]
        if rt_pos and w[rt_pos[0]] in root:
            w[rt_pos[0]] = retype(w[rt_pos[0]], roles.of(w[res_pos[0]]))
        if op == NV_LOAD:
            w = [w[0], w[1], w[2], w[3], layout(w[5], "OpCooperativeMatrixLoadNV %%%d" % w[2]), w[4]] + w[6:]
            w[0] = (len(w) << 16) | KHR_LOAD
        elif op == NV_STORE:
            w = [w[0], w[1], w[2], layout(w[4], "OpCooperativeMatrixStoreNV"), w[3]] + w[5:]
            w[0] = (len(w) << 16) | KHR_STORE
        elif op == NV_MULADD:
            mask = 0
            for v, bit in ((w[3], SIGNED_A), (w[4], SIGNED_B), (w[5], SIGNED_C), (w[2], SIGNED_RESULT)):
                comp = m.defn(root[m.type_of[v]])[2]
                if signed_int(comp):
                    mask |= bit
            w = w[:6] + ([mask] if mask else [])
            w[0] = (len(w) << 16) | KHR_MULADD
        elif op == NV_LENGTH:
            w[3] = retype(w[3], length_use[i])
            w[0] = (4 << 16) | KHR_LENGTH
        out.append(w)
    header = list(m.header)
    header[3] = bound
    return write_module(header, out)


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: spirv_coopmat_khr.py GRAMMAR_JSON IN.spv OUT.spv\n")
        return 2
    try:
        g = Grammar(argv[1])
        with open(argv[2], "rb") as f:
            data = f.read()
        out = rewrite(g, data)
    except (SpirvError, OSError, ValueError, KeyError) as e:
        sys.stderr.write("spirv_coopmat_khr: %s: %s\n" % (argv[2], e))
        return 1
    with open(argv[3], "wb") as f:
        f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

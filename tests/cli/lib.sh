# lib.sh - shared set-up for the CLI script tests (sourced).
# usage: bash tests/cli/<test>.sh VKBERT_BINARY DEVICE   (run from tests/)
# DEVICE is cpu or gpu; the gpu run skips (77) when no Vulkan device exists.
set -u
B=${1:?vkbert binary}
DEV=${2:-cpu}
M=${VKB_CLI_MODEL:-data/tiny-f32}
T=$(mktemp -d /tmp/vkb_cli_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
# the tuning cache (vkbert tune): a temporary one, never the user's
export XDG_CACHE_HOME="$T/cache"
FAILS=0
PY=/usr/bin/python3

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
done_test() {
    if [ "$FAILS" -ne 0 ]; then echo "$FAILS check(s) failed" >&2; exit 1; fi
    echo "all ok"; exit 0
}
[ -x "$B" ] || { echo "no binary $B" >&2; exit 1; }
[ -f "$M/config.json" ] || { echo "missing checkpoint $M" >&2; exit 1; }
if [ "$DEV" != cpu ]; then
    if ! out=$("$B" classify --model "$M" --device "$DEV" "probe" 2>&1); then
        case "$out" in
            *"no Vulkan"*) echo "skip: no Vulkan device ($out)"; exit 77 ;;
        esac
        echo "FAIL: classify on $DEV: $out" >&2; exit 1
    fi
fi
S() { "$B" score --model "$M" --device "$DEV" --quiet "$@"; }

# jsonl_check FILE: every line is a complete JSON object; prints the count.
jsonl_check() {
    $PY - "$1" <<'PYEOF'
import json, sys
data = open(sys.argv[1], 'rb').read()
if data and not data.endswith(b'\n'):
    print("incomplete last line"); sys.exit(1)
n = 0
for ln in data.split(b'\n')[:-1] if data else []:
    o = json.loads(ln)
    assert isinstance(o, dict), ln
    n += 1
print(n)
PYEOF
}

# same_scores A B: same lines; scores/logits equal on the CPU (its fp32 path
# computes a text the same way whatever its batch), else within 1e-5 (a
# Vulkan device may round differently by batch shape).
same_scores() {
    local exact=0
    [ "$DEV" = cpu ] && exact=1
    $PY - "$1" "$2" "$exact" <<'PYEOF'
import json, sys
TOL = 0.0 if sys.argv[3] == "1" else 1e-5
a = open(sys.argv[1]).read().splitlines()
b = open(sys.argv[2]).read().splitlines()
if len(a) != len(b): print("line counts differ", len(a), len(b)); sys.exit(1)
def close(x, y):
    if isinstance(x, float) or isinstance(y, float): return abs(x - y) <= TOL
    if isinstance(x, dict): return x.keys() == y.keys() and all(close(x[k], y[k]) for k in x)
    if isinstance(x, list): return len(x) == len(y) and all(close(u, v) for u, v in zip(x, y))
    return x == y
for i, (x, y) in enumerate(zip(a, b)):
    if not close(json.loads(x), json.loads(y)): print("line", i + 1, "differs:", x, y); sys.exit(1)
PYEOF
}

# make_jsonl N FILE: N JSON lines with ids 0..N-1 and mixed lengths.
make_jsonl() {
    $PY - "$1" "$2" <<'PYEOF'
import json, random, sys
random.seed(7)
w = "the a movie film great bad good terrible plot acting was is not very fun boring love hate".split()
with open(sys.argv[2], 'w') as f:
    for i in range(int(sys.argv[1])):
        n = random.choice([random.randint(1, 8), random.randint(8, 70)])
        f.write(json.dumps({"id": i, "text": " ".join(random.choice(w) for _ in range(n))}) + "\n")
PYEOF
}

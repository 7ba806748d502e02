#!/bin/bash
# Interrupts and failures keep the work done (issue 11, items 17 and 19):
# results complete in input order are written (not a whole window lost),
# the message says how many and to --resume, the bar shows what was done,
# and a second SIGINT/SIGTERM ends the process at once.
. "$(dirname "$0")/lib.sh" "$@"

make_jsonl 400 "$T/in.jsonl"
S --no-sort --batch-tokens 256 -o "$T/full.jsonl" "$T/in.jsonl" || fail "full run"

# ---- a failure in batch 6 of one window (default --window 2048): the 5
# batches scored before it (in input order with --no-sort) are written
VKB_FAULT_AFTER_BATCHES=5 "$B" score --model "$M" --device "$DEV" --quiet --no-sort \
    --batch-tokens 256 -o "$T/part.jsonl" "$T/in.jsonl" 2> "$T/err"; st=$?
[ $st = 1 ] || fail "fault: exit $st"
n=$(jsonl_check "$T/part.jsonl") || fail "fault: incomplete line"
[ "$n" -gt 0 ] || fail "fault after 5 batches: no line written (the scored batches were lost)"
head -n "$n" "$T/full.jsonl" > "$T/prefix.jsonl"
same_scores "$T/prefix.jsonl" "$T/part.jsonl" || fail "fault: lines are not a prefix"
S --no-sort --batch-tokens 256 -o "$T/part.jsonl" --resume "$T/in.jsonl" || fail "fault: resume"
same_scores "$T/full.jsonl" "$T/part.jsonl" || fail "fault: resumed output differs"
ok "failure mid-window: the $n results scored before it are kept"

# ---- the bar (on a terminal) ends at what was done, not at 100%
$PY - "$B" "$M" "$DEV" "$T" <<'PYEOF' || fail "progress bar after a failure"
import os, pty, re, subprocess, sys
B, M, DEV, T = sys.argv[1:5]
m, s = pty.openpty()
env = dict(os.environ, VKB_FAULT_AFTER_BATCHES="5")
p = subprocess.Popen([B, "score", "--model", M, "--device", DEV, "--no-sort", "--batch-tokens", "256",
                      "-o", T + "/bar.jsonl", T + "/in.jsonl"], stderr=s, env=env)
os.close(s)
out = b""
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
p.wait()
bars = re.findall(rb"\[[=> ]{24}\] +(\d+)%  (\d+) items", out)
lines = sum(1 for _ in open(T + "/bar.jsonl"))
if not bars:
    sys.exit("no bar drawn: %r" % out[-400:])
pct, items = int(bars[-1][0]), int(bars[-1][1])
if pct >= 100 or items != lines:
    sys.exit("last bar %d%% %d items, but %d of 400 lines written: %r" % (pct, items, lines, out[-400:]))
PYEOF
ok "the bar ends at the work done"

# ---- eval has a bar too (on a terminal)
$PY - "$B" "$M" "$DEV" <<'PYEOF' || fail "eval progress bar"
import os, pty, subprocess, sys
B, M, DEV = sys.argv[1:4]
m, s = pty.openpty()
p = subprocess.Popen([B, "eval", "--model", M, "--device", DEV, "--batch-tokens", "64"],
                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=s)
os.close(s)
p.stdin.write(b"".join(b'{"text":"good movie %d","label":1}\n' % i for i in range(300)))
p.stdin.close()
out = b""
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
if p.wait() != 0 or b"] 100%  300 items" not in out:
    sys.exit("eval: no bar ending at 300 items: %r" % out[-300:])
PYEOF
ok "eval draws a bar"

wait_lines() { # FILE N TIMEOUT_S
    local i=0
    while [ "$(cat "$1" 2>/dev/null | wc -l)" -lt "$2" ]; do
        sleep 0.1; i=$((i + 1)); [ $i -lt $(($3 * 10)) ] || return 1
    done
}
# ---- SIGINT / SIGTERM while windows are being scored: every result complete
# in order is written, the message counts them, exit 128 + signal
mkfifo "$T/fifo"
for sig in INT TERM; do
    want=130; [ $sig = TERM ] && want=143
    rm -f "$T/s.jsonl"
    ( cat "$T/in.jsonl"; exec sleep 300 ) > "$T/fifo" &
    writer=$!
    ( exec "$B" score --model "$M" --device "$DEV" --window 100 -o "$T/s.jsonl" < "$T/fifo" 2> "$T/s.err" ) &
    pid=$!
    wait_lines "$T/s.jsonl" 100 120 || fail "$sig: no progress"
    kill -$sig $pid
    wait $pid; st=$?
    kill $writer 2>/dev/null; wait $writer 2>/dev/null
    [ $st = $want ] || fail "SIG$sig: exit $st, expected $want"
    n=$(jsonl_check "$T/s.jsonl") || fail "$sig: incomplete line"
    grep -q "interrupted: $n of 400 records.* written to .*s.jsonl; rerun with --resume" "$T/s.err" ||
        fail "SIG$sig: message: $(cat "$T/s.err")"
    S --window 100 -o "$T/s.jsonl" --resume "$T/in.jsonl" || fail "$sig: resume"
    same_scores "$T/full.jsonl" "$T/s.jsonl" || fail "$sig: resumed output differs"
done
ok "SIGINT/SIGTERM: complete lines kept, counted, exit 130/143, --resume finishes"

# ---- a second signal ends the process even when the first is still being
# handled: SIGINT and SIGTERM arrive together (the process is stopped)
$PY - "$B" "$M" "$DEV" "$T" <<'PYEOF' || fail "second signal"
import os, signal, subprocess, sys, time
B, M, DEV, T = sys.argv[1:5]
r, w = os.pipe()
p = subprocess.Popen([B, "score", "--model", M, "--device", DEV, "--quiet", "--window", "4",
                      "-o", T + "/two.jsonl"], stdin=r, stderr=subprocess.DEVNULL)
os.close(r)
os.write(w, b"".join(l + b"\n" for l in open(T + "/in.jsonl", "rb").read().split(b"\n")[:8]))
for _ in range(1200):  # the handler is installed once the output has lines
    if os.path.exists(T + "/two.jsonl") and open(T + "/two.jsonl").read().count("\n") >= 8:
        break
    time.sleep(0.1)
else:
    sys.exit("no progress")
os.kill(p.pid, signal.SIGSTOP)
os.kill(p.pid, signal.SIGINT)
os.kill(p.pid, signal.SIGTERM)
os.kill(p.pid, signal.SIGCONT)
rc = p.wait(timeout=300)
os.close(w)
if rc >= 0:
    sys.exit("SIGINT + SIGTERM: exit status %d, expected death by a signal" % rc)
PYEOF
ok "a second SIGINT/SIGTERM ends the process"
done_test

#!/usr/bin/env bash
# Instructions per observation of kernel::step and of the hash-map interpreter, counted by
# callgrind inside each function only (--toggle-collect), which is stable on a noisy machine.
#   benches/kernel_callgrind.sh            (LEDGRAPH_BENCH_KERNEL_CALLGRIND_OBS, default 200000)
# JSON lines on stdout, like the benches.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ledgraph/target}"
export LEDGRAPH_BENCH_KERNEL_CALLGRIND_OBS="${LEDGRAPH_BENCH_KERNEL_CALLGRIND_OBS:-200000}"
bin=$(cargo bench --quiet --bench kernel --no-default-features --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("executable") and m.get("target", {}).get("name") == "kernel":
        print(m["executable"])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# `step` and what it calls out of line (the exact path), and the interpreter's `run`.
declare -A fn=([step]='ledgraph::kernel::step*' [interp]='*Interpreter*run*')
n=$LEDGRAPH_BENCH_KERNEL_CALLGRIND_OBS
for mix in telemetry mixed; do
  declare -A ir
  for engine in step interp; do
    # A program with no stream of this kind (no numeric predicate for telemetry) is skipped.
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect="${fn[$engine]}" \
      --callgrind-out-file="$out/$engine.out" "$bin" --callgrind "$engine" "$mix" >/dev/null 2>"$out/$engine.log" ||
      { echo "{\"bench\":\"kernel\",\"case\":\"callgrind/$mix\",\"skipped\":\"$(tail -1 "$out/$engine.log" | tr -d '"')\"}"; continue 2; }
    ir[$engine]=$(awk '/^(summary|totals):/ {print $2; exit}' "$out/$engine.out")
  done
  python3 - "$n" "$mix" "${ir[step]}" "${ir[interp]}" <<'PY'
import json, sys
n, mix, step, interp = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
print(json.dumps({"bench": "kernel", "case": "callgrind/" + mix, "observations": n,
                  "step_instructions_per_obs": round(step / n, 2),
                  "interpreter_instructions_per_obs": round(interp / n, 2),
                  "target_step_instructions_max": 40,
                  "vs_interpreter": round(interp / max(step, 1), 2)}))
PY
done

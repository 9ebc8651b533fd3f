#!/usr/bin/env bash
# The demo: copies workspaces/primes into a fresh git repository, runs a loop with the
# built-in tuner and then the replayed patches (two in flight at once), and prints the report.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ratchet="$root/.build/debug/ratchet"
work=$(mktemp -d "${TMPDIR:-/tmp}/ratchet-demo.XXXXXX")
cp -R "$root/workspaces/primes/." "$work/"
cd "$work"
git init -q -b main
git add -A
git -c user.name="Ratchet demo" -c user.email=demo@localhost commit -qm "primes: starting point"
echo "== demo repository: $work"
echo
echo "== ratchet run --proposer tuner"
"$ratchet" run --proposer tuner
echo
echo "== ratchet run --proposer patches --candidates 2   (two candidates in flight, measured one at a time)"
"$ratchet" run --proposer patches --candidates 2
echo
echo "== ratchet log"
"$ratchet" log
echo
echo "== ratchet status"
"$ratchet" status
echo
echo "== base (main) against best (ratchet/primes), measured again with hyperfine"
check=$(mktemp -d "${TMPDIR:-/tmp}/ratchet-demo-check.XXXXXX")
for rev in main ratchet/primes; do
    dir="$check/$(echo "$rev" | tr / -)"
    mkdir -p "$dir"
    git archive "$rev" | tar -x -C "$dir"
    make -s -C "$dir"
done
hyperfine -N --style basic --warmup 2 --runs 15 --export-json "$check/h.json" \
    -n base "$check/main/primes 1500000" -n best "$check/ratchet-primes/primes 1500000" >/dev/null
"$ratchet" log --json > "$check/log.json"
python3 - "$check/h.json" "$check/log.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base, best = r["base"]["median"], r["best"]["median"]
print(f"base {base*1000:.1f} ms, best {best*1000:.1f} ms: {base/best:.1f}x faster")
# What the loop claimed (its accepted effects multiplied) against what hyperfine measures.
claimed = 1.0
for c in json.load(open(sys.argv[2])):
    if c.get("outcome") == "accepted" and c.get("estimate") is not None:
        claimed *= 1 + c["estimate"]
print(f"the accepted effects multiply to {claimed:.1f}x; hyperfine measures {base/best:.1f}x: "
      f"demo_effect_vs_hyperfine_ratio {claimed / (base / best):.2f}")
sys.exit(0 if base / best >= 2 else 1)
PY
rm -rf "$check"
echo
echo "demo repository kept at $work (git log ratchet/primes; ratchet show <id> inside it)"

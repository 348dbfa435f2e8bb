#!/usr/bin/env bash
# Transform throughput: relay::transform parse + render per format, beside a bare simdjson DOM parse of the
# same bytes (benchmarks/transform_benchmark.cpp) and beside HAPI FHIR R4 parse + serialize of the same files
# (benchmarks/hapi/HapiBench.java), as bundles/s per core and ratios.
#
#   benchmarks/transform/run-transform-bench.sh [BUILD_DIR]     default build/release; builds nothing
#
# Needs: BUILD_DIR/benchmarks/transform_benchmark (cmake --build BUILD_DIR --target transform_benchmark),
# python3, a JDK 17+ (java, javac) and the HAPI FHIR jars tests/fhir-validator/fhir-validate.sh resolves
# (it runs `mvn` once to fetch them into ~/.cache/ocean-relay; nothing else is downloaded).
#
# Environment (defaults in brackets):
#   REPETITIONS [3]        repetitions of every measurement, C++ and Java; tables show medians
#   MIN_TIME [0.3]         --benchmark_min_time, seconds per C++ repetition
#   FILTER []              --benchmark_filter for the C++ side (the tables need BM_DomParse, BM_Parse and
#                          BM_ParseRender)
#   JAVA_WARMUP [8]        seconds of JIT warm-up over every input before the Java side times anything
#   JAVA_INPUT_WARMUP [1]  seconds of warm-up per input and mode just before its repetitions
#   JAVA_SECONDS [2]       seconds per Java repetition
#   HAPI_JVM_OPTS [-XX:+UseSerialGC -Xms1g -Xmx1g]   serial GC: its work stays on the cores it is
#                          charged to, so the JVM's process CPU is a per-core figure
#   IDLE_WAIT [0]          before each phase, wait up to this many seconds for the machine to be idle
#                          (under 10 % busy for 3 s); it starts anyway after that
#   SKIP_JAVA [0]          1 = the C++ side only
#   KEEP [0]               1 = keep the work directory (inputs, raw JSON/TSV, report)
#
# In order it: writes the inputs (transform_benchmark --dump-inputs: the two real fixtures, ocean-sim v0.10
# and v0.11 bundles with fixed seeds, an ocean-sim bundle with a 1 MiB attachment) into the work directory;
# runs transform_benchmark over that directory (--inputs) with JSON output; compiles HapiBench.java into
# the cache (not the source tree) and runs it over the same directory; checks that both sides saw the same
# byte counts; prints markdown tables (also WORK/report.md). Each phase records how busy the machine was
# besides the benchmark itself ("other cores"): on a shared machine, distrust a phase where that is not
# near 0.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

BUILD_ARG="${1:-build/release}"
if [[ -d "$BUILD_ARG" ]]; then
  BUILD="$(cd "$BUILD_ARG" && pwd)"
elif [[ -d "$ROOT/$BUILD_ARG" ]]; then
  BUILD="$(cd "$ROOT/$BUILD_ARG" && pwd)"
else
  echo "run-transform-bench: build directory '$BUILD_ARG' not found" >&2
  exit 2
fi

REPETITIONS="${REPETITIONS:-3}"
MIN_TIME="${MIN_TIME:-0.3}"
FILTER="${FILTER:-}"
JAVA_WARMUP="${JAVA_WARMUP:-8}"
JAVA_INPUT_WARMUP="${JAVA_INPUT_WARMUP:-1}"
JAVA_SECONDS="${JAVA_SECONDS:-2}"
HAPI_JVM_OPTS="${HAPI_JVM_OPTS:--XX:+UseSerialGC -Xms1g -Xmx1g}"
export IDLE_WAIT="${IDLE_WAIT:-0}"
SKIP_JAVA="${SKIP_JAVA:-0}"
KEEP="${KEEP:-0}"

BENCH_BIN="$BUILD/benchmarks/transform_benchmark"
HAPI_SRC="$ROOT/benchmarks/hapi/HapiBench.java"
VALIDATOR_SH="$ROOT/tests/fhir-validator/fhir-validate.sh"
CACHE_DIR="${RELAY_CACHE_DIR:-$HOME/.cache/ocean-relay}/hapi-bench"

log() { printf 'run-transform-bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

[[ -x "$BENCH_BIN" ]] || die "$BENCH_BIN not found (cmake --build $BUILD_ARG --target transform_benchmark)"
command -v python3 >/dev/null || die "python3 not found"
if [[ "$SKIP_JAVA" != 1 ]]; then
  command -v java >/dev/null || die "java not found (or SKIP_JAVA=1)"
  command -v javac >/dev/null || die "javac not found (or SKIP_JAVA=1)"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/transform-bench.XXXXXX")"
cleanup() {
  if [[ "$KEEP" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# run_measured PHASE OUT CMD...: runs CMD with stdout to OUT and appends to WORK/phases.tsv its wall time,
# its own CPU (children's rusage) and the whole machine's busy time over the same interval (/proc/stat).
run_measured() {
  python3 -c '
import os, resource, subprocess, sys, time
phases, phase, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
hz = os.sysconf("SC_CLK_TCK")
def busy_seconds():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(v) - v[3] - v[4]) / hz
# Wait (up to IDLE_WAIT s) for 3 s in which the machine is under 10 % busy (builds by other sessions).
deadline = time.monotonic() + float(os.environ.get("IDLE_WAIT", "0"))
while time.monotonic() < deadline:
    b, t = busy_seconds(), time.monotonic()
    time.sleep(3)
    if (busy_seconds() - b) / (time.monotonic() - t) / os.cpu_count() < 0.10:
        break
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
b0, t0 = busy_seconds(), time.monotonic()
with open(out, "wb") as f:
    rc = subprocess.call(cmd, stdout=f, stdin=subprocess.DEVNULL)
b1, t1 = busy_seconds(), time.monotonic()
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
own = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
wall = t1 - t0
with open(phases, "a") as f:
    f.write(f"{phase}\t{wall:.1f}\t{own / wall:.2f}\t{max(0.0, (b1 - b0 - own) / wall):.2f}\t{os.getloadavg()[0]:.2f}\n")
sys.exit(rc)
' "$WORK/phases.tsv" "$@"
}

printf 'phase\twall_s\town_cores\tother_cores\tload1_end\n' >"$WORK/phases.tsv"

# 1. Inputs, written once: both sides read these exact files.
log "writing inputs to $WORK/inputs"
"$BENCH_BIN" --dump-inputs="$WORK/inputs" >"$WORK/inputs.tsv"

# 2. C++.
log "transform_benchmark: $REPETITIONS repetitions, min time $MIN_TIME s (about a minute)"
bench_args=(--inputs="$WORK/inputs" --benchmark_repetitions="$REPETITIONS" --benchmark_min_time="$MIN_TIME"
            --benchmark_report_aggregates_only=true --benchmark_format=json)
[[ -n "$FILTER" ]] && bench_args+=(--benchmark_filter="$FILTER")
run_measured cpp "$WORK/cpp.json" "$BENCH_BIN" "${bench_args[@]}" 2>"$WORK/cpp.stderr" \
  || { cat "$WORK/cpp.stderr" >&2; die "transform_benchmark failed"; }

# 3. Java: HAPI's jars as the FHIR validator resolves them; the harness compiled into the cache, keyed by
# its source and the classpath so an edit or a HAPI upgrade recompiles.
if [[ "$SKIP_JAVA" != 1 ]]; then
  hapi_cp="$("$VALIDATOR_SH" classpath)" || die "fhir-validate.sh classpath failed (try: $VALIDATOR_SH fetch)"
  classes="$CACHE_DIR/classes-$( (cat "$HAPI_SRC"; echo "$hapi_cp") | sha256sum | cut -c1-16)"
  if [[ ! -f "$classes/HapiBench.class" ]]; then
    log "compiling HapiBench.java into $classes"
    mkdir -p "$CACHE_DIR"
    tmp="$classes.tmp.$$"
    rm -rf "$tmp" && mkdir -p "$tmp"
    # -path off: a HAPI dependency's manifest names jars that are not there, which is harmless.
    javac -Xlint:all,-path -encoding UTF-8 -d "$tmp" -cp "$hapi_cp" "$HAPI_SRC" >&2 || die "javac failed"
    mv "$tmp" "$classes"
  fi
  total=$(python3 -c "print(round($JAVA_WARMUP + $(wc -l <"$WORK/inputs/index.txt") * 2 * ($JAVA_INPUT_WARMUP + $REPETITIONS * $JAVA_SECONDS)))")
  log "HapiBench: about $total s"
  # shellcheck disable=SC2206 # intentional word splitting of user options
  jvm_opts=($HAPI_JVM_OPTS)
  run_measured java "$WORK/hapi.tsv" java "${jvm_opts[@]}" -Djava.awt.headless=true -cp "$classes:$hapi_cp" \
    HapiBench --warmup-seconds "$JAVA_WARMUP" --input-warmup-seconds "$JAVA_INPUT_WARMUP" \
    --seconds "$JAVA_SECONDS" --repetitions "$REPETITIONS" "$WORK/inputs" 2>"$WORK/hapi.stderr" \
    || { cat "$WORK/hapi.stderr" >&2; die "HapiBench failed"; }
else
  : >"$WORK/hapi.tsv"
fi

# 4. Report.
python3 - "$WORK" >"$WORK/report.md" <<'PY'
import json, sys
from pathlib import Path

work = Path(sys.argv[1])
names, sizes = [], {}
for line in (work / "inputs.tsv").read_text().splitlines():
    name, size = line.split("\t")
    names.append(name)
    sizes[name] = int(size)

cpp = json.loads((work / "cpp.json").read_text())
med = {}
for b in cpp["benchmarks"]:
    if b.get("aggregate_name") == "median":
        med[b["run_name"]] = b

def rate(run):
    b = med.get(run)
    return b["items_per_second"] if b else None

hapi = {}
hapi_out = {}
for line in (work / "hapi.tsv").read_text().splitlines():
    f = line.split("\t")
    if f[0] == "MEDIAN":
        mode, name, size = f[1], f[2], int(f[3])
        if size != sizes.get(name):
            sys.exit(f"HapiBench read {size} bytes for {name}, transform_benchmark {sizes.get(name)}")
        hapi[(mode, name)] = (float(f[4]), float(f[5]))
    elif f[0] == "RESULT":
        hapi_out[(f[1], f[2])] = int(f[9])
for name in names:
    b = med.get(f"BM_DomParse/{name}")
    if b and int(b["bytes"]) != sizes[name]:
        sys.exit(f"transform_benchmark measured {b['bytes']} bytes for {name}, expected {sizes[name]}")

formats = ["ocean-fhir", "fhir-r4", "open-api", "hub-json"]

def fmt_rate(v):
    if v is None:
        return "–"
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"

def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    r = a / b
    return f"{r:.0f}×" if r >= 100 else (f"{r:.1f}×" if r >= 10 else f"{r:.2f}×")

def fmt_count(v):
    return f"{v:,.0f}"

def fmt_bytes(v):
    return f"{v / 1024:,.0f} KiB" if v < 10 * 1024 * 1024 else f"{v / 1048576:,.1f} MiB"

print("### Bundles per second per core (medians)\n")
print("C++: CPU-time medians of Google Benchmark repetitions, one thread. HAPI: medians of bundles per second "
      "of JVM process CPU (all threads: GC, JIT), one benchmark thread.\n")
print("| Input | Bytes | simdjson DOM | DOM with copy | `parse` | " +
      " | ".join(f"parse + {f}" for f in formats) + " | HAPI parse | HAPI parse + serialize |")
print("|---|--:|" + "--:|" * (5 + len(formats)))
for n in names:
    row = [n, f"{sizes[n]:,}", fmt_rate(rate(f"BM_DomParse/{n}")), fmt_rate(rate(f"BM_DomParseCopy/{n}")),
           fmt_rate(rate(f"BM_Parse/{n}"))]
    row += [fmt_rate(rate(f"BM_ParseRender/{f}/{n}")) for f in formats]
    row += [fmt_rate(hapi.get(("parse", n), (None,))[0]), fmt_rate(hapi.get(("parse-serialize", n), (None,))[0])]
    print("| " + " | ".join(row) + " |")

print("\n### Ratios\n")
print("\"DOM ÷ X\" = bare simdjson DOM bundles/s ÷ X bundles/s: what X costs in bare DOM parses of the "
      "same bytes (1× would mean everything beyond the DOM parse is free). \"X ÷ HAPI\" = X bundles/s ÷ "
      "HAPI parse + serialize bundles/s (above 1× = faster than HAPI; parse + fhir-r4 is the like-for-like "
      "one: FHIR in, FHIR out).\n")
print("| Input | " + " | ".join(f"DOM ÷ parse + {f}" for f in formats) + " | " +
      " | ".join(f"parse + {f} ÷ HAPI" for f in formats) + " | parse ÷ HAPI parse |")
print("|---|" + "--:|" * (2 * len(formats) + 1))
for n in names:
    dom = rate(f"BM_DomParse/{n}")
    hps = hapi.get(("parse-serialize", n), (None,))[0]
    hp = hapi.get(("parse", n), (None,))[0]
    row = [n]
    row += [fmt_ratio(dom, rate(f"BM_ParseRender/{f}/{n}")) for f in formats]
    row += [fmt_ratio(rate(f"BM_ParseRender/{f}/{n}"), hps) for f in formats]
    row += [fmt_ratio(rate(f"BM_Parse/{n}"), hp)]
    print("| " + " | ".join(row) + " |")

print("\n### Render alone, and allocations per bundle (operator new calls · bytes)\n")
print("| Input | render " + " | render ".join(formats[1:]) + " | `parse` allocs | " +
      " | ".join(f"parse + {f} allocs" for f in formats[1:]) + " |")
print("|---|" + "--:|" * (2 * len(formats) - 1))
for n in names:
    row = [n]
    for f in formats[1:]:
        b = med.get(f"BM_Render/{f}/{n}")
        row.append(f"{b['cpu_time'] / 1000:,.1f} µs → {fmt_bytes(b['out_bytes'])}" if b else "–")
    for run in [f"BM_Parse/{n}"] + [f"BM_ParseRender/{f}/{n}" for f in formats[1:]]:
        b = med.get(run)
        row.append(f"{fmt_count(b['allocs'])} · {fmt_bytes(b['alloc_bytes'])}" if b else "–")
    print("| " + " | ".join(row) + " |")

if hapi:
    print("\nHAPI wall-clock bundles/s (parse · parse + serialize), for comparison with the process-CPU figures: " +
          "; ".join(f"{n} {fmt_rate(hapi.get(('parse', n), (None, None))[1])} · "
                    f"{fmt_rate(hapi.get(('parse-serialize', n), (None, None))[1])}" for n in names) + ".")

print("\n### Phases\n")
rows = [l.split("\t") for l in (work / "phases.tsv").read_text().splitlines()]
print("| " + " | ".join(rows[0]) + " |")
print("|---|" + "--:|" * (len(rows[0]) - 1))
for r in rows[1:]:
    print("| " + " | ".join(r) + " |")
ctx = cpp.get("context", {})
print(f"\nGoogle Benchmark context: {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, "
      f"library build {ctx.get('library_build_type')}, "
      f"simdjson DOM kernel {ctx.get('dom_kernel (libsimdjson.so, run-time dispatch)', '?')}.")
PY
cat "$WORK/report.md"

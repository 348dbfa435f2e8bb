#!/usr/bin/env bash
# Validate FHIR R4 JSON files offline with HAPI FHIR's instance validator
# (base R4 definitions, no network).  See README.md next to this file.
#
#   fhir-validate.sh fetch                         resolve the jars + compile the validator
#   fhir-validate.sh validate [options] <file|dir>...   validate (fetches first if needed)
#       --ignore <messageId>   downgrade ERRORs with that message id to WARNING (repeatable)
#       --timings              per-file timings on stderr
#   fhir-validate.sh classpath                     print the java classpath
#
# Exit status of validate: 0 no ERROR/FATAL issue, 1 some file has one (or is
# unreadable), 2 usage error / setup failure.
#
# Environment:
#   RELAY_CACHE_DIR        cache root (default $HOME/.cache/ocean-relay)
#   RELAY_FHIR_JVM_OPTS    replaces the default JVM options
#   JAVA_HOME / JAVA / JAVAC   java and javac to use
#
# stdout carries only the validator's report; progress (first fetch only)
# and errors go to stderr.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly POM="$SCRIPT_DIR/pom.xml"
readonly SRC="$SCRIPT_DIR/src/Validate.java"
HAPI_VERSION="$(sed -n 's:.*<hapi.version>\(.*\)</hapi.version>.*:\1:p' "$POM")"
readonly HAPI_VERSION
readonly CACHE_DIR="${RELAY_CACHE_DIR:-$HOME/.cache/ocean-relay}/fhir-validator-hapi-$HAPI_VERSION"
readonly LIB_DIR="$CACHE_DIR/libs"
readonly MARKER="$CACHE_DIR/.fetched"

if [[ -n "${JAVA:-}" ]]; then
  :
elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA=java
fi
if [[ -n "${JAVAC:-}" ]]; then
  :
elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/javac" ]]; then
  JAVAC="$JAVA_HOME/bin/javac"
else
  JAVAC=javac
fi

log() { printf 'fhir-validate: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

usage() {
  sed -n '5,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------- fetch ----

# The jar marker holds the pom's checksum, so editing pom.xml triggers a
# re-fetch.  Compiled classes live in a directory named after the checksum of
# (source, pom): editing either triggers a re-compile, and a directory, once
# there (renamed into place after javac), never changes under a running
# validator.
pom_sum() { sha256sum "$POM" | cut -d' ' -f1; }
build_sum() { cat "$SRC" "$POM" | sha256sum | cut -c1-16; }
classes_dir() { echo "$CACHE_DIR/classes-$(build_sum)"; }

fetched() { [[ -f "$MARKER" && "$(cat "$MARKER")" == "$(pom_sum)" && -d "$LIB_DIR" ]]; }
compiled() { [[ -f "$(classes_dir)/Validate.class" ]]; }

cmd_fetch() {
  fetched && compiled && return 0
  mkdir -p "$CACHE_DIR"
  # Serialise concurrent fetches (e.g. parallel ctest tests).
  exec 9>"$CACHE_DIR/.lock"
  flock 9
  if ! fetched; then
    command -v mvn >/dev/null || die "mvn not found (needed once to fetch the HAPI FHIR jars)"
    log "fetching HAPI FHIR $HAPI_VERSION validator jars into $LIB_DIR (one-time) ..."
    local tmp="$CACHE_DIR/libs.tmp.$$" mvnlog="$CACHE_DIR/fetch.log"
    rm -rf "$tmp"
    if ! mvn -B -q -f "$POM" dependency:copy-dependencies \
        -DoutputDirectory="$tmp" -DincludeScope=runtime >"$mvnlog" 2>&1; then
      cat "$mvnlog" >&2
      rm -rf "$tmp"
      die "mvn dependency:copy-dependencies failed"
    fi
    rm -rf "$LIB_DIR"
    mv "$tmp" "$LIB_DIR"
    pom_sum >"$MARKER"
    log "fetched $(find "$LIB_DIR" -name '*.jar' | wc -l) jars ($(du -sh "$LIB_DIR" | cut -f1))"
  fi
  if ! compiled; then
    command -v "$JAVAC" >/dev/null || die "javac not found (JDK 17+ needed)"
    local dir tmp
    dir="$(classes_dir)"
    tmp="$dir.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    if ! "$JAVAC" -nowarn -encoding UTF-8 -d "$tmp" -cp "$LIB_DIR/*" "$SRC" >&2; then
      rm -rf "$tmp"
      die "javac $SRC failed"
    fi
    mv "$tmp" "$dir"
    # Other checkouts (worktrees) sharing this cache may use other versions
    # of the source at the same time: only prune builds older than a week.
    find "$CACHE_DIR" -mindepth 1 -maxdepth 1 -name 'classes-*' ! -path "$dir" \
      -mtime +7 -exec rm -rf {} + 2>/dev/null || true
  fi
  flock -u 9
  exec 9>&-
}

classpath() { echo "$(classes_dir):$LIB_DIR/*"; }

# ------------------------------------------------------------- validate ----

cmd_validate() {
  [[ $# -ge 1 ]] || usage
  cmd_fetch
  local jvm_opts
  # shellcheck disable=SC2206 # intentional word splitting of user options
  jvm_opts=(${RELAY_FHIR_JVM_OPTS:--Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1})
  exec "$JAVA" "${jvm_opts[@]}" -Djava.awt.headless=true -XX:+ExitOnOutOfMemoryError \
    -cp "$(classpath)" Validate "$@"
}

cmd_classpath() {
  cmd_fetch
  classpath
}

[[ $# -ge 1 ]] || usage
sub="$1"; shift
case "$sub" in
  fetch) cmd_fetch ;;
  validate) cmd_validate "$@" ;;
  classpath) cmd_classpath ;;
  -h | --help | help) usage ;;
  *) log "unknown subcommand: $sub"; usage ;;
esac

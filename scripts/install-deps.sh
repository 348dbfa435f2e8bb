#!/usr/bin/env bash
# Installs what ocean-relay needs from Debian bookworm's packages, only what is missing.
# Quiet and fast (one dpkg-query) when everything is present. Idempotent.
#   scripts/install-deps.sh           build + run dependencies
#   scripts/install-deps.sh --test    also what the test suite needs (Java for the real Kafka broker,
#                                     Maven to resolve its jars, kcat, clang and libFuzzer for the fuzz
#                                     targets, the Python validators; the OpenAPI
#                                     validator, not packaged by Debian, from PyPI into a venv under
#                                     ~/.cache/ocean-relay/pytools when python3 lacks it, and
#                                     the browser test's Chromium and playwright-core, from npm into
#                                     tests/browser/node_modules by its lock; node 20+ must be present)
set -euo pipefail

packages=(
  cmake ninja-build ccache g++ pkg-config git curl python3
  libboost1.81-dev libboost-system1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  librdkafka-dev libsimdjson-dev prometheus-cpp-dev libssl-dev
  libfmt-dev libyaml-cpp-dev libcli11-dev
  libgtest-dev libbenchmark-dev kcat
)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(wrk)
  # JSON Schema validation of the hub JSON samples (tests/tools/validate-json-schema.py).
  packages+=(python3-jsonschema)
  # An AES-GCM independent of the code under test, for the at-rest known-answer test.
  packages+=(python3-cryptography)
  # OpenAPI 3.1 validation of the hub API document (tests/unit/ingress/validate_hub_openapi.py): its
  # validator comes from PyPI (below), into a venv that sees Debian's jsonschema and PyYAML.
  packages+=(python3-venv python3-yaml)
  # The fuzz targets (tests/fuzz): clang 14 and its libFuzzer runtime.
  packages+=(clang libclang-rt-14-dev)
  # Java 17+ and Maven start the real Kafka broker; take Debian's only if none is on the PATH.
  command -v java >/dev/null 2>&1 || packages+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || packages+=(maven)
  # The browser test (tests/browser): Debian's Chromium, driven by playwright-core (below).
  packages+=(chromium)
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

missing=()
# dpkg-query exits non-zero when any package is not installed: that is the case this script is for.
installed=$({ dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${packages[@]}" 2>/dev/null || true; } |
  awk '$2 ~ /^ii/ {print $1}')
for p in "${packages[@]}"; do
  grep -qx "$p" <<<"$installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "${1:-}" == "--test" ]] && ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
  # The test build runs its Python validators with this venv's python3 when it exists (tests/CMakeLists.txt).
  pytools="${XDG_CACHE_HOME:-$HOME/.cache}/ocean-relay/pytools"
  if ! "$pytools/bin/python3" -c 'import openapi_spec_validator' 2>/dev/null; then
    echo "install-deps: installing openapi-spec-validator (PyPI) into $pytools" >&2
    python3 -m venv --system-site-packages "$pytools"
    "$pytools/bin/pip" install -q 'openapi-spec-validator==0.9.0'
  fi
fi

browser_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/browser"
if [[ "${1:-}" == "--test" ]] && [[ ! -d "$browser_dir/node_modules/playwright-core" ]]; then
  if command -v npm >/dev/null 2>&1; then
    echo "install-deps: installing playwright-core (npm, from the lock) into tests/browser" >&2
    (cd "$browser_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  else
    echo "install-deps: npm is missing: the browser test needs node 20+ and npm" >&2
  fi
fi

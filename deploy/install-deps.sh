#!/usr/bin/env bash
# Installs everything edgarpipe needs to build, test and benchmark, from Debian 12 packages only.
# Idempotent; safe to run again. Uses sudo when not run as root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  ccache                # the builds of deploy/test.sh reuse each other's objects
  clang-format          # the style check of deploy/test.sh
  clang-tidy            # the static checks of deploy/test.sh (.clang-tidy)
  libboost-dev          # Boost.Interprocess (header-only)
  libsimdjson-dev       # JSON parsing
  libfmt-dev
  libsqlite3-dev sqlite3
  libxxhash-dev         # content hashes of input files
  libpq-dev             # the PostgreSQL sink
  libzip-dev            # writing zip archives (edgarpipe-gen, tests), checking fetched ones
  libdeflate-dev        # inflating zip members whole
  zlib1g-dev            # inflating a zip member's first bytes only
  freetds-dev           # the SQL Server sink (FreeTDS db-lib bulk copy)
  libcurl4-openssl-dev  # edgarpipe fetch / sync
  nlohmann-json3-dev    # fetch's state file and summaries
  postgresql            # a throw-away server for the tests and benchmarks (deploy/pg-cluster.sh)
  catch2                # tests (Catch2 v2)
  libbenchmark-dev      # Google Benchmark
  clang libclang-rt-14-dev   # libFuzzer targets of the parsers (deploy/fuzz.sh)
  python3               # the benchmark harness and scripts
  python3-prometheus-client  # the tests parse --metrics-file with its parser
  prometheus            # promtool check metrics on --metrics-file (the server is not started)
  groff-base            # the tests render docs/edgarpipe.1 with warnings on
  python3-kubernetes    # the tests check deploy/kubernetes/ against the API's fields
  docker-compose        # the tests check deploy/compose.yaml (`docker-compose config`, no engine)
  podman runc mmdebstrap catatonit  # the tests build and run the container image and the Job's pods
  slurm-wlm munge       # the tests run deploy/slurm/ on a one-node Slurm of their own
  gnuplot-nox           # the benchmark harness's plots (benchmarks/pipeline/harness.py)
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi

#!/usr/bin/env bash
# The first README command: install, build, load the real SEC samples of tests/data into a
# SQLite file, print the run summary and one example query.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh -DEDGARPIPE_BUILD_TESTS=OFF -DEDGARPIPE_BUILD_BENCHMARKS=OFF

mkdir -p build/demo
rm -f build/demo/edgar.db build/demo/edgar.db-wal build/demo/edgar.db-shm
echo
echo "== edgarpipe run tests/data --sink sqlite:build/demo/edgar.db --readers 1 --parsers 2 --writers 1"
build/bin/edgarpipe run tests/data --sink sqlite:build/demo/edgar.db --readers 1 --parsers 2 --writers 1 \
  --summary-json build/demo/summary.json

echo
echo "== Apple's last five 10-K filings with the annual revenue reported in each (deploy/examples/apple-10k-revenue.sql)"
sqlite3 -header -column build/demo/edgar.db < deploy/examples/apple-10k-revenue.sql
echo
echo "The database is build/demo/edgar.db; the summary is build/demo/summary.json."

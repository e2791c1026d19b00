#!/usr/bin/env bash
# The main job: install what is needed, build, and run the quickstart
# program against a local file:// bucket (the reader's disk cache goes
# to BUCKET_DIR-cache).
#   scripts/quickstart.sh [BUCKET_DIR]      (default: /tmp/isle-quickstart)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build >/dev/null
bucket=${1:-/tmp/isle-quickstart}
bucket=$(realpath -m "$bucket")
exec build/bin/isle-quickstart "file://$bucket" "$bucket-cache"

#!/usr/bin/env bash
# A producer: sends COUNT events to writerd in atomic batches of BATCH
# through POST /v1/batch (NDJSON, one event per line) and prints the key of
# every event writerd acknowledged. writerd answers only once a batch is
# durable in the bucket, so a printed key is an event the hub must deliver.
#
#   produce.sh WRITERD_URL NAME COUNT [BATCH]
# Keys: events/NAME/000001, events/NAME/000002, ... Exit 1 on any refused
# batch (the events of earlier batches stay acknowledged).
set -euo pipefail
writer=$1 name=$2 count=$3 batch=${4:-25}

n=0
while ((n < count)); do
  body="" keys=""
  for ((i = 0; i < batch && n < count; i++)); do
    n=$((n + 1))
    key=$(printf 'events/%s/%06d' "$name" "$n")
    body+=$(printf '{"op":"put","key":"%s","value":"%s event %d at %s"}' \
      "$key" "$name" "$n" "$(date -u +%T.%N)")$'\n'
    keys+=$key$'\n'
  done
  # -f: any HTTP error (429 backpressure, 503 not_durable, ...) fails here.
  if ! answer=$(curl -fsS -X POST --data-binary "$body" "$writer/v1/batch"); then
    echo "produce.sh $name: batch ending at event $n was refused" >&2
    exit 1
  fi
  if [[ $(jq -r .count <<<"$answer") != "$i" ]]; then
    echo "produce.sh $name: unexpected answer: $answer" >&2
    exit 1
  fi
  printf '%s' "$keys"
done

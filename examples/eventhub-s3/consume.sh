#!/usr/bin/env bash
# A consumer that can stop and resume: reads up to LIMIT events from
# tailerd's change feed and appends each, as the NDJSON line tailerd sent,
# to OUT. Its position is the seq of the last line of OUT: it resumes after
# it. Because the event and the position are one line of one file, the
# position is stored exactly when the event is, so no event is handled
# twice or skipped across stops.
#
#   consume.sh TAILERD_URL OUT LIMIT [TIMEOUT_SECONDS]
# Exit 0 once LIMIT events arrived; 1 if fewer arrived within the timeout
# (default 30 s) or the feed reported an error.
set -uo pipefail
tailer=$1 out=$2 limit=$3 timeout=${4:-30}

touch "$out"
after_seq=0  # 0 = from the oldest event the hub keeps
if last=$(tail -n 1 "$out") && [[ -n $last ]]; then
  after_seq=$(jq -r .seq <<<"$last")
fi
echo "consumer: resuming after seq $after_seq, reading $limit events"

# The feed, one NDJSON line per event, read line by line; empty lines are
# heartbeats. Each event is appended to OUT before the next is read.
exec 3< <(curl -sS -N --max-time "$timeout" "$tailer/v1/tail?prefix=events/&after_seq=$after_seq")
feed=$!
n=0 rc=0
while ((n < limit)); do
  if ! IFS= read -r line <&3; then
    echo "consumer: only $n of $limit events arrived within $timeout s" >&2
    rc=1
    break
  fi
  [[ -z $line ]] && continue
  if [[ $line == '{"error"'* ]]; then
    echo "consumer: the feed ended with $line" >&2
    rc=1
    break
  fi
  printf '%s\n' "$line" >>"$out"
  n=$((n + 1))
done
exec 3<&-
kill "$feed" 2>/dev/null  # stop listening: the consumer is done for now
echo "consumer: now after seq $(tail -n 1 "$out" | jq -r .seq)"
exit "$rc"

#!/bin/bash
# Times n=200&diversity=1 recommendations and a 900 KB search query against `BIN demo` (docs/benchmarks.md, issue 12).
# usage: harden-measure.sh BINARY LABEL
BIN=$1; LABEL=$2
D=$(mktemp -d /tmp/harden-demo-XXXX)
LOG=$D/log
nice -n 10 $BIN demo --addr 127.0.0.1:0 --data $D/data --embedder none >$LOG 2>&1 &
PID=$!
URL=""
for i in $(seq 1 600); do
  URL=$(grep -o 'http://127.0.0.1:[0-9]*' $LOG | head -1)
  if [ -n "$URL" ] && curl -s -o /dev/null -w '%{http_code}' $URL/api/ready | grep -q 200; then break; fi
  sleep 1
done
echo "$LABEL ready after ${i}s at $URL"
U=$(curl -s "$URL/api/users?limit=1" | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)
for k in 1 2 3; do
  curl -s -o /dev/null -w "$LABEL cold-start recommend n=200 diversity=1: %{http_code} %{time_total}s\n" "$URL/api/recommend/nobody-new?n=200&diversity=1"
  curl -s -o /dev/null -w "$LABEL recommend n=200 diversity=1 user=$U: %{http_code} %{time_total}s\n" "$URL/api/recommend/$U?n=200&diversity=1"
done
curl -s -o /dev/null -w "$LABEL recommend n=200 diversity=0: %{http_code} %{time_total}s\n" "$URL/api/recommend/$U?n=200"
python3 -c "print('a'*900*1024)" > $D/q
curl -s -o $D/qout -w "$LABEL search 900KB one-word query: %{http_code} %{time_total}s\n" -G --data-urlencode "q@$D/q" "$URL/api/search"
head -c 200 $D/qout; echo
kill $PID; wait $PID 2>/dev/null
rm -rf $D

#!/bin/sh
# Measures forgetting, compaction, backup and restore on the demo shop
# (demo/data: 2,420 items, 4,905 users, 53,258 events) through a real
# server on 127.0.0.1. Usage: sh docs/scripts/privacy-measure.sh (from the
# repository root). Prints one line per figure.
set -eu
BIN=$(mktemp -d)/aisle
go build -o "$BIN" ./cmd/aisle
W=$(mktemp -d)
D=$W/data
cat > "$W/aisle.yaml" <<YAML
recommend:
  primary: ials
  retrain_after_events: 0
  retrain_every: 0s
privacy:
  compact_after: 1s
YAML
"$BIN" import --data "$D" --items demo/data/items.jsonl --users demo/data/users.jsonl --events demo/data/events.jsonl.gz >/dev/null 2>&1
"$BIN" serve --config "$W/aisle.yaml" --data "$D" --addr 127.0.0.1:0 --admin-key k >"$W/out" 2>"$W/err" &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$W"' EXIT
while ! grep -q listening "$W/out"; do sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$W/out" | head -1)
until curl -sf "$URL/api/ready" >/dev/null; do sleep 0.1; done
H="Authorization: Bearer k"
curl -sf -X POST -H "$H" "$URL/api/models/retrain" >/dev/null
until M=$(curl -sf -H "$H" "$URL/api/models") && echo "$M" | grep -q '"running":false' && echo "$M" | grep -q '"last_run"'; do sleep 0.5; done
U=u1
Q="qz7f3a9 secret lamp"
EVS=""
for i in 1 2 3 4 5 6 7 8 9 10; do EVS="$EVS{\"user_id\":\"$U\",\"type\":\"search\",\"query\":\"$Q\",\"value\":2},"; done
curl -sf -X POST -H "$H" -H 'Content-Type: application/json' -d "[${EVS%,}]" "$URL/api/events" >/dev/null
echo "file before: $(stat -c %s "$D/aisle.db") bytes; copies of the query: $(grep -a -o "$Q" "$D/aisle.db" | wc -l)"
echo "recommend $U before: $(curl -sf -H "$H" "$URL/api/recommend/$U?n=3" | grep -o '"reason":"[^"]*"' | head -1)"
T0=$(date +%s.%N)
curl -sf -X DELETE -H "$H" "$URL/api/users/$U" >/dev/null
T1=$(date +%s.%N)
echo "DELETE took $(echo "$T1 - $T0" | bc) s; right after it the data file holds $(grep -a -o "$Q" "$D/aisle.db" | wc -l) copies"
echo "recommend $U after: $(curl -sf -H "$H" "$URL/api/recommend/$U?n=3" | grep -o '"reason":"[^"]*"' | head -1)"
until ! curl -sf -H "$H" "$URL/api/users/$U/forgotten" | grep -q '"what":"compaction"'; do sleep 0.05; done
T2=$(date +%s.%N)
echo "compaction done $(echo "$T2 - $T1" | bc) s after the DELETE (compact_after 1s); file $(stat -c %s "$D/aisle.db") bytes; copies in the data dir: $(cat "$D"/* | grep -a -o "$Q" | wc -l)"
curl -sf -H "$H" "$URL/api/users/$U/forgotten"; echo
T3=$(date +%s.%N)
"$BIN" backup --url "$URL" --admin-key k --to "$W/b.db"
T4=$(date +%s.%N)
echo "online backup took $(echo "$T4 - $T3" | bc) s"
kill $PID; wait $PID 2>/dev/null || true
"$BIN" restore --from "$W/b.db" --data "$W/restored"
echo "restore refuses a data dir with data: $("$BIN" restore --from "$W/b.db" --data "$W/restored" 2>&1 | head -1)"

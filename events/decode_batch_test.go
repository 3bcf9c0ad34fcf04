package events

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
)

// decodeSeeds are bodies the fast reader takes and bodies it must hand to
// the standard decoder (escapes, nulls, repeated, unknown and differently
// cased fields, numbers of the wrong kind, malformed JSON, invalid UTF-8).
var decodeSeeds = []string{
	`{"user_id":"u","item_id":"i","type":"view"}`,
	`[{"user_id":"u","type":"search","query":"q","value":1.5,"timestamp":"2026-01-01T00:00:00Z"}]`,
	` [ {"user_id" : "u1", "item_id":"i1","type":"purchase","value":2,"session_id":"s","request_id":"0123456789abcdef01234567","position":3} ,
	  {"user_id":"ü-ß","item_id":"i2","type":"rating","value":-4.5e0,"timestamp":"2026-01-01T10:00:00.123456789+02:00"} ]` + "\n",
	`[{"user_id":"u","type":"view","item_id":"i","timestamp":"0001-01-01T00:00:00Z"}]`,
	`[{"user_id":"u","type":"view","item_id":"i","timestamp":"2026-13-01T00:00:00Z"}]`,
	`[{"user_id":"u\u00e9","type":"view","item_id":"i"}]`,
	`[{"user_id":"u","type":"view","item_id":null}]`,
	`[{"user_id":"u","type":"view","User_ID":"v"}]`,
	`[{"user_id":"u","user_id":"v","type":"view"}]`,
	`[{"user_id":"u","type":"view","seq":3}]`,
	`[{"user_id":"u","type":"view","colour":"red"}]`,
	`[{"user_id":"u","type":"view","value":"1"}]`,
	`[{"user_id":"u","type":"view","value":1e400}]`,
	`[{"user_id":"u","type":"view","value":1e-400}]`,
	`[{"user_id":"u","type":"view","value":01}]`,
	`[{"user_id":"u","type":"view","value":-0.0}]`,
	`[{"user_id":"u","type":"view","position":1.0}]`,
	`[{"user_id":"u","type":"view","position":-0}]`,
	`[{"user_id":"u","type":"view","position":99999999999999999999}]`,
	`[{"user_id":"u","type":"view"},]`,
	`[{"user_id":"u","type":"view"}] x`,
	`[{"user_id":"u","type":"view"}`,
	`[]`, `{}`, `[{}]`, ``, ` `, `null`, `[null]`, `[1]`, `"x"`,
	"[{\"user_id\":\"u\xff\",\"type\":\"view\"}]",
	"[{\"user_id\":\"u\x01\",\"type\":\"view\"}]",
	"\ufeff[{\"user_id\":\"u\",\"type\":\"view\"}]",
	`[{"user_id":"u","type":"view","timestamp":"2026-01-01T00:00:00Z" }]`,
	`[{"user_id":"u","type":"view","timestamp":1700000000}]`,
}

// checkSame fails t when DecodeBatch and the standard decoder answer data
// differently: other events, or another error.
func checkSame(t *testing.T, data []byte) {
	t.Helper()
	got, gerr := DecodeBatch(data)
	want, werr := catalog.DecodeBatch("events", data, Decode)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("%q: error %v, the standard decoder's %v", data, gerr, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", data, got, want)
	}
}

func TestDecodeBatchMatchesStandard(t *testing.T) {
	for _, s := range decodeSeeds {
		checkSame(t, []byte(s))
	}
}

// The fast reader does take the usual bodies (were it to give up on
// everything, the test above would still pass).
func TestDecodeBatchReadsTheUsualBodyItself(t *testing.T) {
	for _, s := range decodeSeeds[:3] {
		evs, ok := decodeFast([]byte(s))
		if !ok || len(evs) == 0 {
			t.Fatalf("%q: the fast reader gave up", s)
		}
	}
	evs, ok := decodeFast([]byte(decodeSeeds[2]))
	if !ok || len(evs) != 2 || evs[0].Position != 3 || *evs[1].Value != -4.5 || evs[1].UserID != "ü-ß" ||
		evs[1].Timestamp.Nanosecond() != 123456789 || evs[0].RequestID != "0123456789abcdef01234567" {
		t.Fatalf("%+v", evs)
	}
}

// FuzzDecodeBatchMatchesStandard: on any input, DecodeBatch answers what
// the standard decoder answers.
func FuzzDecodeBatchMatchesStandard(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkSame(t, data) })
}

// restBody is a batch of n events as the REST benchmarks send them.
func restBody(n int) []byte {
	var sb strings.Builder
	sb.WriteByte('[')
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"user_id":"u1-%d","item_id":"i%d","type":"view","session_id":"s%d","timestamp":"2026-12-07T10:00:00Z"}`, i%50, i%1000, i%50)
	}
	sb.WriteByte(']')
	return []byte(sb.String())
}

// BenchmarkDecodeBatch: a 1,000-event body through DecodeBatch and
// through the standard decoder alone.
func BenchmarkDecodeBatch(b *testing.B) {
	body := restBody(1000)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeBatch(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("standard", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := catalog.DecodeBatch("events", body, Decode); err != nil {
				b.Fatal(err)
			}
		}
	})
}

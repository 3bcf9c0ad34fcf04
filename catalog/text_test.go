package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Issue 12 item 9: invalid UTF-8 used to be silently replaced by U+FFFD
// (also in ids), and NUL or ESC were accepted in titles.
func TestDecodeRejectsInvalidText(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"raw invalid byte in id", "{\"id\":\"a\xffb\",\"title\":\"t\"}", "not valid UTF-8"},
		{"raw invalid byte in title", "{\"id\":\"a\",\"title\":\"t\xc3\"}", "not valid UTF-8"},
		{"lone high surrogate", `{"id":"a","title":"x\ud800y"}`, "lone UTF-16 surrogate"},
		{"lone low surrogate", `{"id":"a\udc00","title":"t"}`, "lone UTF-16 surrogate"},
		{"high then non-low", `{"id":"a","title":"\ud800\u0041"}`, "lone UTF-16 surrogate"},
		{"escaped replacement char in id", `{"id":"a\ufffd","title":"t"}`, "U+FFFD"},
		{"NUL in title", `{"id":"a","title":"t\u0000"}`, "control character U+0000"},
		{"ESC in title", `{"id":"a","title":"\u001b[31mred"}`, "control character U+001B"},
		{"C1 control in brand", `{"id":"a","title":"t","brand":"b\u0085"}`, "control character U+0085"},
		{"control in attribute key", `{"id":"a","title":"t","attributes":{"k\u0007":"v"}}`, "control character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items, err := DecodeBatch("items", []byte(c.body), DecodeItem)
			if err == nil {
				for i := range items {
					items[i].Validate(time.Now(), func(f, p string) {
						if err == nil {
							err = &BatchError{What: "items", Problems: []Problem{{Field: f, Problem: p}}}
						}
					})
				}
			}
			var be *BatchError
			if !errors.As(err, &be) {
				t.Fatalf("got %v (items %+v), want a batch error", err, items)
			}
			if !strings.Contains(be.Error(), c.want) {
				t.Fatalf("error %q does not say %q", be.Error(), c.want)
			}
		})
	}
}

func TestDecodeKeepsValidText(t *testing.T) {
	body := `{"id":"caf\u00e9-😀","title":"tab\there\nline \ud83d\ude00 \\ud800 \"q\" ☕","description":"\\u0000 is only text"}`
	items, err := DecodeBatch("items", []byte(body), DecodeItem)
	if err != nil {
		t.Fatal(err)
	}
	var probs []string
	items[0].Validate(time.Now(), func(f, p string) { probs = append(probs, f+": "+p) })
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if items[0].ID != "café-😀" || !strings.Contains(items[0].Title, "😀 \\ud800") {
		t.Fatalf("decoded %q %q", items[0].ID, items[0].Title)
	}
}

func TestMergePatchRejectsInvalidText(t *testing.T) {
	_, err := MergePatch(Item{ID: "a", Title: "t"}, []byte("{\"title\":\"x\xfe\"}"))
	if err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("got %v", err)
	}
}

// Text that passes the check decodes without the decoder inventing U+FFFD.
func FuzzCheckJSONText(f *testing.F) {
	for _, s := range []string{`{"id":"a\ud83d\ude00"}`, `{"id":"\ud800"}`, "{\"id\":\"\xff\"}", `{"id":"\\ud800"}`, `{"id":"\ufffd"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if checkJSONText(data) != nil {
			return
		}
		var v map[string]string
		if json.Unmarshal(data, &v) != nil {
			return
		}
		literal := bytes.Contains(data, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(data), []byte(`\ufffd`))
		for k, s := range v {
			if !literal && (strings.ContainsRune(s, utf8.RuneError) || strings.ContainsRune(k, utf8.RuneError)) {
				t.Fatalf("%q passed the check but decoded to %q", data, s)
			}
		}
	})
}

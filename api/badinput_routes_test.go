package api

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestBadInputOnEveryRoute sends the classes of bad input to every
// route the shop server registers (issue 12, Proof: "a table-driven
// bad-input suite over every route … asserting the status, the message
// and that nothing changed"): a control character in a query parameter,
// invalid UTF-8 in a path value, and for every route that reads a JSON
// body a malformed, a truncated, a wrongly typed and an invalid UTF-8
// body. Each must be a 4xx with an error message, and afterwards the
// shop's counts are what they were. Routes added later are covered
// without editing this test.
func TestBadInputOnEveryRoute(t *testing.T) {
	doc, _ := apiDoc(t)
	srv := shopServer(t)
	stats := func() map[string]any {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/api/stats", nil))
		var m map[string]any
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
			t.Fatalf("stats: %d %s", rec.Code, rec.Body)
		}
		for _, k := range []string{"uptime_s", "uptime_seconds", "started_at", "requests", "memory"} {
			delete(m, k) // what changes by itself
		}
		return m
	}
	before := stats()
	probes := map[string]bool{"/api/health": true, "/api/ready": true, "/metrics": true}
	type input struct{ class, path, body string }
	tried, withBody := 0, 0
	for _, rt := range srv.Routes() {
		if probes[rt.Pattern] {
			continue
		}
		good := pathParam.ReplaceAllLiteralString(rt.Pattern, "p01")
		inputs := []input{{"control character in a query parameter", good + "?n=3&x=%1B", ""}}
		if pathParam.MatchString(rt.Pattern) {
			inputs = append(inputs, input{"invalid UTF-8 in the path", pathParam.ReplaceAllLiteralString(rt.Pattern, "%FF%FE"), ""})
		}
		if op := doc.Paths.Find(rt.Pattern); op != nil {
			if o := op.GetOperation(rt.Method); o != nil && o.RequestBody != nil {
				withBody++
				for _, b := range [][2]string{{"malformed JSON", `{"x":}`}, {"truncated JSON", `[{"id":"p01"`},
					{"wrong type", `12345`}, {"invalid UTF-8 in a string", "{\"id\":\"\xff\xfe\"}"}} {
					inputs = append(inputs, input{b[0], good, b[1]})
				}
			}
		}
		for _, in := range inputs {
			tried++
			req := httptest.NewRequest(rt.Method, "http://aisle.test"+in.path, strings.NewReader(in.body))
			if in.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			name := rt.Method + " " + rt.Pattern + ": " + in.class
			if rec.Code < 400 || rec.Code >= 500 {
				t.Errorf("%s: %d %.200s, want a 4xx", name, rec.Code, rec.Body)
				continue
			}
			var e struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Errorf("%s: %d without an error message: %.200s", name, rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: Content-Type %q, nosniff %q", name, ct, rec.Header().Get("X-Content-Type-Options"))
			}
		}
	}
	t.Logf("%d bad inputs over %d routes (%d read a JSON body)", tried, len(srv.Routes()), withBody)
	if tried < 60 || withBody < 10 {
		t.Fatalf("only %d inputs over %d routes with a body: are the routes registered?", tried, withBody)
	}
	if after := stats(); !reflect.DeepEqual(before, after) {
		t.Fatalf("bad input changed the shop:\nbefore %v\nafter  %v", before, after)
	}
}

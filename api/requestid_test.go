package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// Every answer a shopper can click on names itself with a request_id that
// clicks send back (issue 15): an empty or missing one cannot be
// attributed. The trending answer once declared its own request_id beside
// the one merchandising fills in, which shadowed it: it always read "".
func TestAnswersCarryTheirRequestID(t *testing.T) {
	srv := shopServer(t)
	id := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, c := range []struct{ method, url, body string }{
		{"GET", "/api/recommend/u01?n=3", ""},
		{"GET", "/api/recommend/stranger?n=3", ""},
		{"POST", "/api/recommend/session", `{"items":["p01","p02"],"n":3}`},
		{"GET", "/api/items/p01/similar?n=3", ""},
		{"GET", "/api/items/p01/bought-together?n=3", ""},
		{"GET", "/api/popular?n=3", ""},
		{"GET", "/api/popular?n=3&window=30d", ""},
		{"GET", "/api/trending?n=3", ""},
		{"GET", "/api/search?q=pen&n=3", ""},
	} {
		t.Run(c.method+" "+c.url, func(t *testing.T) {
			req := httptest.NewRequest(c.method, "http://aisle.test"+c.url, strings.NewReader(c.body))
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			var ans struct {
				RequestID *string `json:"request_id"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
				t.Fatalf("%v: %s", err, rec.Body)
			}
			if ans.RequestID == nil || !id.MatchString(*ans.RequestID) {
				t.Errorf("request_id is not 32 lower-case hex characters: %s", rec.Body)
			}
		})
	}
}

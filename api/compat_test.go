package api

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// The old-style helpers answer as the wrapper would.
func TestCompatHelpers(t *testing.T) {
	rec := httptest.NewRecorder()
	if _, ok := IntParam(rec, httptest.NewRequest("GET", "/x?n=0", nil), "n", 10, 1, 200); ok || rec.Code != 400 {
		t.Errorf("IntParam n=0: ok=%v %d", ok, rec.Code)
	}
	rec = httptest.NewRecorder()
	if _, ok := parseRequest(rec, httptest.NewRequest("GET", "/x?min_price=NaN", nil)); ok || rec.Code != 400 {
		t.Errorf("parseRequest NaN: ok=%v %d", ok, rec.Code)
	}
	rec = httptest.NewRecorder()
	if req, ok := parseRequest(rec, httptest.NewRequest("GET", "/x?n=3", nil)); !ok || req.N != 3 {
		t.Errorf("parseRequest n=3: %+v %v", req, ok)
	}
	rec = httptest.NewRecorder()
	WriteEngineError(rec, errors.New("secret detail"))
	if rec.Code != 500 || rec.Body.String() == "" || strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("WriteEngineError: %d %s", rec.Code, rec.Body)
	}
}

package web

import (
	"net/http/httptest"
	"testing"
)

// The shop and the API read the two key headers the same way: a bearer
// token first, else X-API-Key, so one request is let in by both or by
// neither.
func TestKeysAsTheAPI(t *testing.T) {
	s := newShop(t, Options{AdminKey: testAdminKey, ReadKey: "reader"})
	for _, c := range []struct {
		name    string
		headers map[string]string
		allowed bool
	}{
		{"none", nil, false},
		{"bearer read", map[string]string{"Authorization": "Bearer reader"}, true},
		{"bearer admin", map[string]string{"Authorization": "bearer " + testAdminKey}, true},
		{"x-api-key", map[string]string{"X-API-Key": "reader"}, true},
		{"wrong bearer wins over a right x-api-key", map[string]string{"Authorization": "Bearer nope", "X-API-Key": "reader"}, false},
		{"right bearer wins over a wrong x-api-key", map[string]string{"Authorization": "Bearer reader", "X-API-Key": "nope"}, true},
		{"basic is not a key: x-api-key counts", map[string]string{"Authorization": "Basic cmVhZGVy", "X-API-Key": "reader"}, true},
		{"wrong", map[string]string{"X-API-Key": "nope"}, false},
	} {
		for _, path := range []string{"/api/stats", "/"} {
			req := httptest.NewRequest("GET", path, nil)
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			s.srv.ServeHTTP(rec, req)
			if got := rec.Code != 401; got != c.allowed {
				t.Errorf("%s: GET %s answered %d, want allowed=%v", c.name, path, rec.Code, c.allowed)
			}
		}
	}
}

package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// The privacy routes: admin only, unknown users answered 404 with what
// to do, an export and a backup streamed whole.
func TestPrivacyRoutes(t *testing.T) {
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, _ := engine.New(engine.Options{Store: st, AcceptUnknownItems: true})
	srv, err := New(Options{Engine: eng, AdminKey: "adm", ReadKey: "rd"})
	if err != nil {
		t.Fatal(err)
	}
	srv.AddPrivacyRoutes()
	srv.SetReady(true)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ctx := context.Background()
	if err := eng.AddEvents(ctx, []events.Event{
		{UserID: "ann", ItemID: "a", Type: events.View, Timestamp: time.Now()},
		{UserID: "ann", Type: events.Search, Query: "red pen", Timestamp: time.Now()},
		{UserID: "bob", ItemID: "a", Type: events.View, Timestamp: time.Now()},
	}); err != nil {
		t.Fatal(err)
	}
	if err := eng.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, key string
		code      int
		want      string
	}{
		{"/api/users/ann/export", "", 401, ""},
		{"/api/users/ann/export", "rd", 401, ""},
		{"/api/users/ann/export", "adm", 200, `{"kind":"search","record":{`},
		{"/api/users/nobody/export", "adm", 404, "nothing is stored about user"},
		{"/api/users/ann/forgotten", "adm", 404, "DELETE /api/users/{id} first"},
		{"/api/users/bob/forgotten", "adm", 200, `"what":"compaction"`},
		{"/api/users/bob/forgotten", "rd", 401, ""},
		{"/api/admin/privacy", "adm", 200, `"retention":{"enabled":false`},
		{"/api/admin/backup", "rd", 401, ""},
		{"/api/admin/backup", "adm", 200, ""},
		{"/metrics", "", 200, "aisle_retention_progress"},
	} {
		req, _ := http.NewRequest("GET", hs.URL+tc.path, nil)
		if tc.key != "" {
			req.Header.Set("Authorization", "Bearer "+tc.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s with key %q: %d %.300s; want %d with %q", tc.path, tc.key, resp.StatusCode, body, tc.code, tc.want)
		}
		if tc.path == "/api/users/ann/export" && tc.code == 200 {
			lines := strings.Split(strings.TrimSpace(string(body)), "\n")
			if len(lines) != 4 || !strings.HasPrefix(lines[0], `{"kind":"user"`) || lines[3] != `{"kind":"end","records":3}` {
				t.Errorf("export lines: %q", lines)
			}
		}
		if tc.path == "/api/admin/backup" && tc.code == 200 && resp.Trailer.Get("X-Aisle-Backup-Bytes") == "" {
			t.Errorf("backup without its byte count trailer (%d bytes)", len(body))
		}
	}
}

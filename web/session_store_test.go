package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// replicaOver serves a dashboard over st, as one replica of several that
// share a store would (no models: the dashboard's login is what is tested).
func replicaOver(t *testing.T, st store.Store, opts Options) *shop {
	t.Helper()
	eng, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Options{Engine: eng, AdminKey: opts.AdminKey, ReadKey: opts.ReadKey})
	if err != nil {
		t.Fatal(err)
	}
	svc := recommend.New(st, recommend.Config{}, nil)
	srv.AddRecommendRoutes(svc, nil)
	ui, err := Register(srv, svc, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.SetReady(true)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &shop{t: t, srv: srv, ui: ui, eng: eng, hs: hs}
}

// loginAt posts the key to s's login form and returns the response (body closed).
func loginAt(t *testing.T, s *shop, key string) *http.Response {
	t.Helper()
	resp, err := s.client().PostForm(s.hs.URL+"/login", url.Values{"key": {key}, "next": {"/admin"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// Issue 12, remaining goal 2: dashboard sessions live in the store, so a
// login on one replica is known to every replica sharing the store and
// survives a restart; a logout on any replica ends it everywhere; rotating
// a key voids the sessions it opened; the store keeps only the token's
// hash; a store that fails opens nothing.
func TestDashboardSessionsInTheStore(t *testing.T) {
	dir := t.TempDir()
	st, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{AdminKey: testAdminKey, ReadKey: "read-secret-key"}
	a, b := replicaOver(t, st, opts), replicaOver(t, st, opts)

	ck := cookieIn(loginAt(t, a, testAdminKey), cookieKey)
	if ck == nil {
		t.Fatal("login on replica A set no session cookie")
	}
	if code, _ := b.getWith("/admin", ck); code != 200 {
		t.Fatalf("A's session on replica B: %d, want 200", code)
	}
	// only the hash is stored: the token itself opens nothing if looked up as a hash
	var raw [32]byte
	copy(raw[:], ck.Value)
	if _, err := st.GetSession(context.Background(), raw); err == nil {
		t.Fatal("the store holds the token itself")
	}
	// logout on B ends it on A
	req, _ := http.NewRequest("POST", b.hs.URL+"/logout", nil)
	req.AddCookie(ck)
	req.Header.Set("Origin", b.hs.URL)
	resp, err := b.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout on B: %d", resp.StatusCode)
	}
	if code, _ := a.getWith("/admin", ck); code != 401 {
		t.Fatalf("A's session after logging out on B: %d, want 401", code)
	}

	// a restart keeps sessions
	admin := cookieIn(loginAt(t, a, testAdminKey), cookieKey)
	read := cookieIn(loginAt(t, a, "read-secret-key"), cookieKey)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// a failing store opens nothing: no session is read, no login stored
	if code, _ := a.getWith("/admin", admin); code != 401 {
		t.Fatalf("a session over a closed store: %d, want 401", code)
	}
	if r := loginAt(t, a, testAdminKey); r.StatusCode != http.StatusServiceUnavailable || cookieIn(r, cookieKey) != nil {
		t.Fatalf("login over a closed store: %d, want 503 and no cookie", r.StatusCode)
	}
	st2, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st2.Close() })
	c := replicaOver(t, st2, opts)
	if code, _ := c.getWith("/admin", admin); code != 200 {
		t.Fatalf("an admin session after a restart: %d, want 200", code)
	}
	if code, _ := c.getWith("/admin", read); code != 401 {
		t.Fatalf("a read session on the dashboard: %d, want 401", code)
	}
	if code, _ := c.getWith("/", read); code != 200 {
		t.Fatalf("a read session on the shop (read key set): %d, want 200", code)
	}

	// rotating the admin key voids the admin sessions, not the read ones
	rotated := replicaOver(t, st2, Options{AdminKey: "a-new-admin-key", ReadKey: "read-secret-key"})
	if code, _ := rotated.getWith("/admin", admin); code != 401 {
		t.Fatalf("a session of the old admin key after rotation: %d, want 401", code)
	}
	if code, _ := rotated.getWith("/admin", admin); code != 401 {
		t.Fatalf("a session of the old admin key, asked again: %d, want 401", code)
	}
	if code, _ := rotated.getWith("/", read); code != 200 {
		t.Fatalf("a read session after the admin key changed: %d, want 200", code)
	}
	if r := loginAt(t, rotated, testAdminKey); r.StatusCode != 401 {
		t.Fatalf("login with the old admin key: %d, want 401", r.StatusCode)
	}
	fresh := cookieIn(loginAt(t, rotated, "a-new-admin-key"), cookieKey)
	if fresh == nil {
		t.Fatal("login with the new admin key opened no session")
	}
	if code, _ := rotated.getWith("/admin", fresh); code != 200 {
		t.Fatalf("a session of the new admin key: %d, want 200", code)
	}
	// a replica still on the old key (mid-rotation) neither takes the new
	// key's session nor loses it for the others
	if code, _ := c.getWith("/admin", fresh); code != 401 {
		t.Fatalf("a new key's session on a replica with the old key: %d, want 401", code)
	}
	if code, _ := rotated.getWith("/admin", fresh); code != 200 {
		t.Fatalf("the new key's session after a replica on the old key saw it: %d, want 200", code)
	}
}

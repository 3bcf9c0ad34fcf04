package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// suggestRig is an API server over a bolt store in dir whose search index
// hears the engine's events, as in aisle serve.
type suggestRig struct {
	t      *testing.T
	srv    *Server
	eng    *engine.Engine
	ix     *search.Index
	secret []byte
	stop   func()
}

func newSuggestRig(t *testing.T, dir string, cfg search.Config, opts ...func(*Options)) *suggestRig {
	t.Helper()
	ctx := context.Background()
	st, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	items := []catalog.Item{{ID: "p1", Title: "blue gel pen", Available: true}, {ID: "p2", Title: "red gel pen", Available: true}}
	if err := eng.AddItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	ix, err := search.NewIndex(cfg, search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, items...); err != nil {
		t.Fatal(err)
	}
	// start-up: the suggestions are relearnt from the search log
	if err := st.ScanEvents(ctx, 0, func(e events.Event) error {
		ix.EventsAppended([]events.Event{e})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	eng.Subscribe(ix)
	r := &suggestRig{t: t, eng: eng, ix: ix, secret: []byte("0123456789abcdef0123456789abcdef")}
	o := Options{Engine: eng, AdminKey: "admin-k", ReadKey: "read-k", Secret: r.secret}
	for _, f := range opts {
		f(&o)
	}
	if r.srv, err = New(o); err != nil {
		t.Fatal(err)
	}
	flush := r.srv.AddSearchRoutes(ix, nil, nil, search.ModeKeyword)
	r.srv.SetReady(true)
	stopped := false
	r.stop = func() {
		if !stopped {
			stopped = true
			flush()
			ix.Close()
			st.Close()
		}
	}
	t.Cleanup(r.stop)
	return r
}

// do serves one request from addr (host:port) with key; an addr of the
// form "host:port>client" comes through a proxy that says it serves client
// (X-Forwarded-For).
func (r *suggestRig) do(method, path, key, addr string) (int, map[string]any) {
	r.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	addr, client, proxied := strings.Cut(addr, ">")
	if proxied {
		req.Header.Set("X-Forwarded-For", client)
	}
	req.RemoteAddr = addr
	req.Header.Set("X-API-Key", key)
	w := httptest.NewRecorder()
	r.srv.ServeHTTP(w, req)
	var body map[string]any
	json.Unmarshal(w.Body.Bytes(), &body)
	return w.Code, body
}

// search runs a first-page search of q that must find something.
func (r *suggestRig) search(q, params, key, addr string) {
	r.t.Helper()
	code, body := r.do("GET", "/api/search?q="+url.QueryEscape(q)+params, key, addr)
	if code != http.StatusOK || body["total"] == 0.0 {
		r.t.Fatalf("search %q%s: %d %v", q, params, code, body)
	}
}

// suggested lists the past queries /api/suggest offers for prefix.
func (r *suggestRig) suggested(prefix string) []string {
	r.t.Helper()
	code, body := r.do("GET", "/api/suggest?q="+url.QueryEscape(prefix), "read-k", "192.0.2.1:1")
	if code != http.StatusOK {
		r.t.Fatalf("suggest: %d %v", code, body)
	}
	var out []string
	list, _ := body["suggestions"].([]any)
	for _, x := range list {
		if m := x.(map[string]any); m["kind"] == "query" {
			out = append(out, m["text"].(string))
		}
	}
	return out
}

// logged waits until user has n events in the store (the search log and
// the listeners run in the background).
func (r *suggestRig) logged(user string, n int) {
	r.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if evs, err := r.eng.UserEvents(context.Background(), user, 100); err == nil && len(evs) >= n {
			time.Sleep(50 * time.Millisecond) // the listeners follow the store
			return
		}
	}
	r.t.Fatalf("%s never had %d events", user, n)
}

// Issue 12 item 4, the attack of the session-8 audit: five read-key
// searches with varying session ids, and four with none, all from one
// network, must not plant a suggestion for everyone (before decision 0061
// they did: each session vouched). Three networks do make one; the admin
// key's ids vouch alone; search.suggest_trust_client_ids makes the read
// key's ids vouch alone.
func TestSuggestOneNetworkCannotPlant(t *testing.T) {
	r := newSuggestRig(t, t.TempDir(), search.DefaultConfig())
	const planted = "gel pen visit fresh-cookie-scam example"
	for i := range 5 {
		r.search(planted, fmt.Sprintf("&session_id=tab-%d", i), "read-k", fmt.Sprintf("203.0.113.%d:4000", 10+i))
	}
	for i := range 4 {
		r.search(planted, "", "read-k", fmt.Sprintf("203.0.113.%d:4000", 50+i))
	}
	for i := range 5 {
		r.logged(ReadKeyPseudonym(r.secret, fmt.Sprintf("tab-%d", i)), 1)
	}
	if got := r.suggested("gel"); len(got) != 0 {
		t.Fatalf("one network planted a suggestion: %v", got)
	}
	r.search(planted, "&session_id=home", "read-k", "198.51.100.7:4000")
	if got := r.suggested("gel"); len(got) != 0 {
		t.Fatalf("two networks planted a suggestion: %v", got)
	}
	r.search(planted, "&session_id=work", "read-k", "[2001:db8:7::1]:4000")
	if got := r.suggested("gel"); !slices.Equal(got, []string{planted}) {
		t.Fatalf("three networks and sessions: %v", got)
	}

	// the admin key names its shoppers: three sessions from one address
	for i := range 3 {
		r.search("red gel pen", fmt.Sprintf("&session_id=a%d", i), "admin-k", "10.0.0.1:4000")
	}
	if got := r.suggested("red"); !slices.Equal(got, []string{"red gel pen"}) {
		t.Fatalf("three admin-key sessions: %v", got)
	}

	// a shop's backend searching for its shoppers from one address: with
	// server.trust_proxy it forwards their addresses, which count; without
	// it, X-Forwarded-For is anyone's to write and does not
	for _, trust := range []bool{false, true} {
		proxied := newSuggestRig(t, t.TempDir(), search.DefaultConfig(), func(o *Options) { o.TrustProxy = trust })
		for i, client := range []string{"203.0.113.9", "198.51.100.9", "2001:db8:9::9"} {
			proxied.search("blue gel pen", fmt.Sprintf("&session_id=p%d", i), "read-k", "10.0.0.1:4000>"+client)
		}
		if got := proxied.suggested("blue"); len(got) != map[bool]int{false: 0, true: 1}[trust] {
			t.Fatalf("three shoppers' addresses in X-Forwarded-For, trust_proxy %v: %v", trust, got)
		}
	}

	cfg := search.DefaultConfig()
	cfg.SuggestTrustClientIDs = true
	trusting := newSuggestRig(t, t.TempDir(), cfg)
	for i := range 3 {
		trusting.search("blue gel pen", fmt.Sprintf("&session_id=b%d", i), "read-k", "10.0.0.1:4000")
	}
	if got := trusting.suggested("blue"); !slices.Equal(got, []string{"blue gel pen"}) {
		t.Fatalf("three read-key sessions with suggest_trust_client_ids: %v", got)
	}
}

// DELETE /api/suggest/{query} blocks for good: the block is listed, kept
// across a restart that relearns the suggestions from the search log, and
// can be lifted. A query earned through several networks is suggested
// again after the restart, though the log cannot say it was earned.
func TestSuggestBlockSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	r := newSuggestRig(t, dir, search.DefaultConfig())
	const planted = "gel pen visit scam shop"
	for _, u := range []string{"u1", "u2", "u3"} {
		r.search(planted, "&user_id="+u, "admin-k", "10.0.0.1:4000")
		r.logged(u, 1)
	}
	for i, addr := range []string{"203.0.113.1:1", "198.51.100.1:1", "192.0.2.1:1"} {
		r.search("red gel pen", fmt.Sprintf("&session_id=s%d", i), "read-k", addr)
		r.logged(ReadKeyPseudonym(r.secret, fmt.Sprintf("s%d", i)), 1)
	}
	if got := r.suggested("gel"); !slices.Equal(got, []string{planted}) {
		t.Fatalf("before the block: %v", got)
	}
	if code, body := r.do("DELETE", "/api/suggest/"+url.PathEscape("Gel Pen visit scam shop"), "admin-k", "10.0.0.1:1"); code != http.StatusOK {
		t.Fatalf("DELETE: %d %v", code, body)
	}
	if code, _ := r.do("GET", "/api/suggest/blocked", "read-k", "10.0.0.1:1"); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Fatalf("the read key lists the block list: %d", code)
	}
	r.stop()

	r = newSuggestRig(t, dir, search.DefaultConfig())
	if got := r.suggested("gel"); len(got) != 0 {
		t.Fatalf("after a restart the blocked query is back: %v", got)
	}
	if got := r.suggested("red"); !slices.Equal(got, []string{"red gel pen"}) {
		t.Fatalf("after a restart the query three networks earned is not suggested: %v", got)
	}
	code, body := r.do("GET", "/api/suggest/blocked", "admin-k", "10.0.0.1:1")
	list, _ := body["blocked"].([]any)
	if code != http.StatusOK || len(list) != 1 || list[0].(map[string]any)["query"] != planted {
		t.Fatalf("GET /api/suggest/blocked: %d %v", code, body)
	}
	for _, u := range []string{"u4", "u5", "u6"} {
		r.search(planted, "&user_id="+u, "admin-k", "10.0.0.1:4000")
		r.logged(u, 1)
	}
	if got := r.suggested("gel"); len(got) != 0 {
		t.Fatalf("new searches bring a blocked query back: %v", got)
	}
	if code, body := r.do("DELETE", "/api/suggest/blocked/"+url.PathEscape(planted), "admin-k", "10.0.0.1:1"); code != http.StatusOK {
		t.Fatalf("unblock: %d %v", code, body)
	}
	if code, _ := r.do("DELETE", "/api/suggest/blocked/"+url.PathEscape(planted), "admin-k", "10.0.0.1:1"); code != http.StatusNotFound {
		t.Fatalf("unblocking twice: %d, want 404", code)
	}
	for _, u := range []string{"u7", "u8", "u9"} {
		r.search(planted, "&user_id="+u, "admin-k", "10.0.0.1:4000")
		r.logged(u, 1)
	}
	if got := r.suggested("gel"); !slices.Equal(got, []string{planted}) {
		t.Fatalf("after unblocking and three more shoppers: %v", got)
	}
}

// Two replicas on one store: a block made on one reaches the other when it
// next rereads the store (every 10 s while serving /api/suggest; here at
// once), and so does a query earned through networks on the other.
func TestSuggestBlockReachesOtherReplicas(t *testing.T) {
	ctx := context.Background()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	items := []catalog.Item{{ID: "p1", Title: "blue gel pen", Available: true}, {ID: "p2", Title: "red gel pen", Available: true}}
	replica := func() *suggestRig {
		eng, err := engine.New(engine.Options{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.AddItems(ctx, items); err != nil {
			t.Fatal(err)
		}
		ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ix.Close() })
		if err := ix.Upsert(ctx, items...); err != nil {
			t.Fatal(err)
		}
		r := &suggestRig{t: t, eng: eng, ix: ix, secret: []byte("0123456789abcdef0123456789abcdef")}
		if r.srv, err = New(Options{Engine: eng, AdminKey: "admin-k", ReadKey: "read-k", Secret: r.secret}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.srv.AddSearchRoutes(ix, nil, nil, search.ModeKeyword))
		r.srv.search.book.every = 0
		r.srv.SetReady(true)
		return r
	}
	a, b := replica(), replica()
	// both replicas hear every search event (as cluster followers do)
	for _, from := range []*suggestRig{a, b} {
		from.eng.Subscribe(a.ix)
		from.eng.Subscribe(b.ix)
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		a.search("blue gel pen", "&user_id="+u, "admin-k", "10.0.0.1:1")
		a.logged(u, 1)
	}
	for i, addr := range []string{"203.0.113.1:1", "198.51.100.1:1", "192.0.2.1:1"} {
		b.search("red gel pen", fmt.Sprintf("&session_id=s%d", i), "read-k", addr)
		b.logged(ReadKeyPseudonym(b.secret, fmt.Sprintf("s%d", i)), 1)
	}
	if got := b.suggested("blue"); len(got) != 1 {
		t.Fatalf("replica b before the block: %v", got)
	}
	if code, body := a.do("DELETE", "/api/suggest/blue%20gel%20pen", "admin-k", "10.0.0.1:1"); code != http.StatusOK {
		t.Fatalf("DELETE on replica a: %d %v", code, body)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	waitFor("the block on replica a never reached replica b", func() bool { return len(b.suggested("blue")) == 0 })
	waitFor("the query replica b earned never reached replica a", func() bool { return len(a.suggested("red")) == 1 })
}

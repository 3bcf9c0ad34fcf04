package web

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// clock is a settable time for sessions and throttles.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// cookieOf returns the named cookie the client holds for the shop.
func (s *shop) cookieOf(c *http.Client, name string) *http.Cookie {
	u, _ := url.Parse(s.hs.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// getWith sends GET path with the given cookies only (no jar).
func (s *shop) getWith(path string, cookies ...*http.Cookie) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.hs.URL+path, nil)
	for _, ck := range cookies {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// Issue 12 item 3: the storefront's shopper identity is a signed,
// server-issued session; an edited aisle_user (or aisle_sid) cookie is
// ignored, and the switcher exists only in demo mode.
func TestShopperIdentityCannotBeForged(t *testing.T) {
	demo := newShop(t, Options{AdminKey: testAdminKey, Demo: true})
	c := demo.client()
	demo.get(c, "/")
	sid := demo.cookieOf(c, cookieSession)
	if sid == nil || !strings.Contains(sid.Value, ".") {
		t.Fatalf("session cookie %+v is not signed", sid)
	}
	demo.postForm(c, "/ui/user", url.Values{"user": {"u021"}, "next": {"/"}})
	signed := demo.cookieOf(c, cookieUser)
	if _, body := demo.get(c, "/"); signed == nil || !strings.Contains(body, "You browse as u021") {
		t.Fatal("the demo switcher did not make the visitor u021")
	}
	other := demo.client()
	demo.get(other, "/")
	otherSid := demo.cookieOf(other, cookieSession)
	before := len(demo.userEvents("u021"))
	for _, tc := range []struct {
		name    string
		cookies []*http.Cookie
	}{
		{"plain user id", []*http.Cookie{otherSid, {Name: cookieUser, Value: "u021"}}},
		{"edited user, same signature", []*http.Cookie{sid, {Name: cookieUser, Value: strings.Replace(signed.Value, "u021", "u022", 1)}}},
		{"another session's user cookie", []*http.Cookie{otherSid, signed}},
		{"user cookie without its session", []*http.Cookie{signed}},
		{"forged session id", []*http.Cookie{{Name: cookieSession, Value: "0123456789abcdef01234567.00"}, signed}},
		{"unsigned session id", []*http.Cookie{{Name: cookieSession, Value: strings.SplitN(sid.Value, ".", 2)[0]}, signed}},
	} {
		code, body := demo.getWith("/items/P003", tc.cookies...)
		if code != 200 || strings.Contains(body, "You browse as u021") || !strings.Contains(body, "You browse anonymously") {
			t.Errorf("%s: %d, the visitor is not anonymous", tc.name, code)
		}
	}
	if after := len(demo.userEvents("u021")); after != before {
		t.Fatalf("forged cookies recorded %d views as u021", after-before)
	}
	// The real pair still works, and records as u021.
	if code, body := demo.getWith("/items/P003", sid, signed); code != 200 || !strings.Contains(body, "You browse as u021") {
		t.Fatalf("the issued cookies: %d", code)
	}
	if evs := demo.userEvents("u021"); len(evs) != before+1 || evs[0].Type != events.View {
		t.Fatalf("u021's view not recorded: %d events", len(evs))
	}

	// Not in demo mode: no switcher, and the same cookies are ignored.
	shop := newShop(t, Options{AdminKey: testAdminKey})
	c2 := shop.client()
	if _, body := shop.get(c2, "/"); strings.Contains(body, `action="/ui/user"`) {
		t.Error("the switcher shows outside demo mode")
	}
	if resp := shop.postForm(c2, "/ui/user", url.Values{"user": {"u021"}, "next": {"/"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("switching user outside demo mode: %d, want 403", resp.StatusCode)
	}
	if _, body := shop.get(c2, "/"); !strings.Contains(body, "You browse anonymously") {
		t.Error("outside demo mode the visitor is not anonymous")
	}
	before = len(shop.userEvents("u021"))
	shop.getWith("/items/P003", &http.Cookie{Name: cookieUser, Value: "u021"})
	if len(shop.userEvents("u021")) != before {
		t.Error("outside demo mode a user cookie recorded a view")
	}
}

func cookieIn(resp *http.Response, name string) *http.Cookie {
	for _, ck := range resp.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// Issue 12 item 8: dashboard logins are random server-side sessions with
// an expiry; logging out ends them on the server; cookies are Secure over
// TLS (or a trusted proxy's https); wrong keys are throttled per IP; the
// key is read from the form body only.
func TestDashboardSessions(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	s := newShop(t, Options{AdminKey: testAdminKey, Now: clk.now, SessionTTL: time.Hour})
	login := func(c *http.Client, key string, h ...string) *http.Response {
		req, _ := http.NewRequest("POST", s.hs.URL+"/login", strings.NewReader(url.Values{"key": {key}, "next": {"/admin"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	c := s.client()
	r1 := login(c, testAdminKey)
	ck1 := cookieIn(r1, cookieKey)
	if r1.StatusCode != http.StatusSeeOther || ck1 == nil || ck1.Secure || len(ck1.Value) != 64 || ck1.MaxAge != 3600 {
		t.Fatalf("login: %d %+v", r1.StatusCode, ck1)
	}
	r2 := login(s.client(), testAdminKey)
	ck2 := cookieIn(r2, cookieKey)
	if ck2 == nil || ck2.Value == ck1.Value {
		t.Fatal("two logins got the same token: sessions are not random")
	}
	if code, _ := s.getWith("/admin", ck1); code != 200 {
		t.Fatalf("dashboard with the session: %d", code)
	}
	// Logout ends the session on the server: a copy of the cookie fails.
	s.postForm(c, "/logout", nil)
	if code, _ := s.getWith("/admin", ck1); code != 401 {
		t.Fatalf("a copied cookie after logout: %d, want 401", code)
	}
	if code, _ := s.getWith("/admin", ck2); code != 200 {
		t.Fatalf("another session ended with the first: %d", code)
	}
	// Sessions expire.
	clk.add(61 * time.Minute)
	if code, _ := s.getWith("/admin", ck2); code != 401 {
		t.Fatalf("an expired session: %d, want 401", code)
	}
	// A forged token (the old fixed HMAC scheme's shape, or any) fails.
	if code, _ := s.getWith("/admin", &http.Cookie{Name: cookieKey, Value: strings.Repeat("ab", 32)}); code != 401 {
		t.Fatalf("a made-up token: %d", code)
	}

	// Secure: over TLS, or behind a trusted proxy that says https.
	if ck := cookieIn(login(s.client(), testAdminKey, "X-Forwarded-Proto", "https"), cookieKey); ck == nil || ck.Secure {
		t.Fatalf("an untrusted X-Forwarded-Proto made the cookie Secure: %+v", ck)
	}
	prox := newShop(t, Options{AdminKey: testAdminKey, TrustProxy: true})
	req, _ := http.NewRequest("POST", prox.hs.URL+"/login", strings.NewReader("key="+testAdminKey))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := prox.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ck := cookieIn(resp, cookieKey); ck == nil || !ck.Secure {
		t.Fatalf("behind a trusted https proxy the cookie is not Secure: %+v", ck)
	}
	tls := newShop(t, Options{AdminKey: testAdminKey})
	tls.hs.Close()
	tls.hs = httptestTLS(t, tls)
	tc := tls.hs.Client()
	tc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = tc.PostForm(tls.hs.URL+"/login", url.Values{"key": {testAdminKey}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ck := cookieIn(resp, cookieKey); ck == nil || !ck.Secure {
		t.Fatalf("over TLS the cookie is not Secure: %+v", ck)
	}

	// The key only in the form body.
	req, _ = http.NewRequest("POST", s.hs.URL+"/login?key="+testAdminKey, nil)
	resp, err = s.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || cookieIn(resp, cookieKey) != nil {
		t.Fatalf("a key in the query string: %d, want 400 and no session", resp.StatusCode)
	}

	// Throttling: 5 wrong keys, then 429 with Retry-After, even for the
	// right key; another IP (through the trusted proxy) is not affected.
	for i := range loginFailures {
		if r := login(s.client(), "wrong"); r.StatusCode != 401 {
			t.Fatalf("wrong key %d: %d", i+1, r.StatusCode)
		}
	}
	r := login(s.client(), testAdminKey)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || cookieIn(r, cookieKey) != nil {
		t.Fatalf("after %d wrong keys: %d, Retry-After %q", loginFailures, r.StatusCode, r.Header.Get("Retry-After"))
	}
	clk.add(loginWindow)
	if r := login(s.client(), testAdminKey); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the window: %d", r.StatusCode)
	}
}

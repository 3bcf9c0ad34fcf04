package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/internal/ratelimit"
	"github.com/aisle-dev/aisle/store"
)

// Dashboard sessions (issue 12 item 8). Logging in with a key opens a
// server-side session: the cookie holds only a random 256-bit token, the
// store keeps the token's hash with the access it grants, a check binding
// it to the key that opened it and its expiry (store.Sessions). So every
// replica sharing the store knows a login, a restart keeps it, logging
// out deletes it (a copied cookie stops working at once, everywhere) and
// rotating a key voids the sessions it opened. A store that keeps no
// sessions gets them in memory (one process; a restart ends them).

const (
	defaultSessionTTL = 12 * time.Hour
	maxLogins         = 10_000 // the oldest go first when full

	loginFailures = 5                // failed logins per client IP …
	loginWindow   = 15 * time.Minute // … within this window, then 429
	maxThrottled  = 10_000           // client IPs remembered
)

// sessions are the open dashboard sessions, kept in st by the SHA-256 of
// their token (a lookup never compares secrets).
type sessions struct {
	st  store.Sessions
	ttl time.Duration
	now func() time.Time
	// key returns the key that grants a level now ("" when none is set):
	// a session whose key check does not match it is void.
	key func(level) string
	log *slog.Logger
}

func newSessions(st store.Sessions, ttl time.Duration, now func() time.Time, key func(level) string, log *slog.Logger) *sessions {
	if ttl <= 0 {
		ttl = defaultSessionTTL
	}
	if st == nil {
		st = &memSessions{m: map[[32]byte]store.DashboardSession{}}
	}
	return &sessions{st: st, ttl: ttl, now: now, key: key, log: log}
}

func levelName(l level) string {
	switch l {
	case levelAdmin:
		return "admin"
	case levelRead:
		return "read"
	}
	return ""
}

func levelOf(name string) level {
	switch name {
	case "admin":
		return levelAdmin
	case "read":
		return levelRead
	}
	return levelNone
}

// open starts a session with access l and returns its token. Expired
// sessions are pruned first, and the oldest when maxLogins are open.
func (s *sessions) open(ctx context.Context, l level) (string, error) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	now := s.now()
	if _, err := s.st.PruneSessions(ctx, now, maxLogins-1); err != nil {
		return "", fmt.Errorf("prune dashboard sessions: %w", err)
	}
	h := sha256.Sum256([]byte(tok))
	ds := store.DashboardSession{TokenHash: h, Level: levelName(l), KeyCheck: store.SessionKeyCheck(h, s.key(l)), Expires: now.Add(s.ttl)}
	if err := s.st.PutSession(ctx, ds); err != nil {
		return "", fmt.Errorf("store the dashboard session: %w", err)
	}
	return tok, nil
}

// level is the access of the session with token tok (levelNone for an
// unknown, closed or expired one, and for one opened with a key that has
// changed since). A store that cannot be read opens nothing.
func (s *sessions) level(ctx context.Context, tok string) level {
	if len(tok) != 64 {
		return levelNone
	}
	h := sha256.Sum256([]byte(tok))
	ds, err := s.st.GetSession(ctx, h)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("reading a dashboard session failed: the request is treated as logged out", "err", err)
		}
		return levelNone
	}
	l := levelOf(ds.Level)
	key := s.key(l)
	check := store.SessionKeyCheck(h, key)
	if !s.now().Before(ds.Expires) {
		if err := s.st.DeleteSession(ctx, h); err != nil {
			s.log.Error("deleting an expired dashboard session failed", "err", err)
		}
		return levelNone
	}
	if l == levelNone || key == "" || subtle.ConstantTimeCompare(check[:], ds.KeyCheck[:]) != 1 {
		// opened with a key this server no longer has (rotated or
		// removed): void here. It is not deleted, so that during a
		// rolling rotation replicas still on the old key (which accept
		// that key itself) keep it until they move on or it expires.
		return levelNone
	}
	return l
}

// close ends the session with token tok.
func (s *sessions) close(ctx context.Context, tok string) error {
	return s.st.DeleteSession(ctx, sha256.Sum256([]byte(tok)))
}

// memSessions keeps sessions in this process, for stores that keep none.
type memSessions struct {
	mu sync.Mutex
	m  map[[32]byte]store.DashboardSession
}

func (m *memSessions) PutSession(_ context.Context, s store.DashboardSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[s.TokenHash] = s
	return nil
}

func (m *memSessions) GetSession(_ context.Context, h [32]byte) (store.DashboardSession, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[h]
	if !ok {
		return s, store.ErrNotFound
	}
	return s, nil
}

func (m *memSessions) DeleteSession(_ context.Context, h [32]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, h)
	return nil
}

func (m *memSessions) PruneSessions(_ context.Context, now time.Time, keep int) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, v := range m.m {
		if !now.Before(v.Expires) {
			delete(m.m, k)
			n++
		}
	}
	for keep >= 0 && len(m.m) > keep { // the one closest to expiry goes
		var oldest [32]byte
		var at time.Time
		for k, v := range m.m {
			if at.IsZero() || v.Expires.Before(at) {
				oldest, at = k, v.Expires
			}
		}
		delete(m.m, oldest)
		n++
	}
	return n, nil
}

// loginThrottle counts failed logins per client IP: after loginFailures
// within loginWindow, further attempts from that IP are refused (429 with
// Retry-After) until the window since the first failure has passed.
type loginThrottle struct {
	mu  sync.Mutex
	m   map[string]failures
	now func() time.Time
}

type failures struct {
	n     int
	first time.Time
}

func newLoginThrottle(now func() time.Time) *loginThrottle {
	return &loginThrottle{m: map[string]failures{}, now: now}
}

// wait is how long ip must wait before trying again (0: it may try now).
func (t *loginThrottle) wait(ip string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.m[ip]
	if !ok {
		return 0
	}
	left := f.first.Add(loginWindow).Sub(t.now())
	if left <= 0 {
		delete(t.m, ip)
		return 0
	}
	if f.n < loginFailures {
		return 0
	}
	return left
}

// failed counts a failed login from ip.
func (t *loginThrottle) failed(ip string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.m[ip]
	if !ok || !now.Before(f.first.Add(loginWindow)) {
		if len(t.m) >= maxThrottled {
			for k, v := range t.m { // drop the expired, then any
				if !now.Before(v.first.Add(loginWindow)) {
					delete(t.m, k)
				}
			}
			for k := range t.m {
				if len(t.m) < maxThrottled {
					break
				}
				delete(t.m, k)
			}
		}
		f = failures{first: now}
	}
	f.n++
	t.m[ip] = f
}

// succeeded forgets ip's failures.
func (t *loginThrottle) succeeded(ip string) {
	t.mu.Lock()
	delete(t.m, ip)
	t.mu.Unlock()
}

// overTLS reports whether the browser reached the server over TLS: the
// connection is TLS, or a trusted proxy says X-Forwarded-Proto: https.
// Cookies are then Secure.
func (u *UI) overTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return u.trustProxy && strings.EqualFold(strings.TrimSpace(lastField(r.Header.Get("X-Forwarded-Proto"))), "https")
}

func lastField(s string) string {
	if i := strings.LastIndexByte(s, ','); i >= 0 {
		return s[i+1:]
	}
	return s
}

// safeNext keeps redirects on this site: a path on this host (with an
// optional query), or "/". It refuses anything a browser could read as
// another host: a scheme or host, "//" or "/\" at the start, any
// backslash, white space or control character anywhere, also
// percent-encoded (browsers drop tabs and newlines, so "/\t/evil.example"
// would become "//evil.example"), and non-ASCII.
func safeNext(next string) string {
	if len(next) == 0 || len(next) > 2048 || next[0] != '/' {
		return "/"
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	// the path as the browser will see it once unescaped must not start
	// a network path either ("/%2F/evil.example", "/%5Cevil")
	p, err := url.PathUnescape(u.EscapedPath())
	if err != nil || strings.HasPrefix(p, "//") || strings.ContainsFunc(p, func(c rune) bool { return c < ' ' || c == 0x7f || c == '\\' }) {
		return "/"
	}
	return next
}

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w)
	u.render(w, r, http.StatusOK, "login.html", pageData{Title: "Log in", Body: loginData{Next: safeNext(r.URL.Query().Get("next")), Admin: true}})
}

// login checks the key (from the form body only) in constant time and
// opens a server-side session in an HttpOnly, SameSite=Strict cookie
// (Secure over TLS). Failed attempts are throttled per client IP. The key
// is never logged.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("key") {
		// URLs end up in logs, history and Referer headers
		http.Error(w, "send the key in the form body (POST /login with key=…), never in the URL", http.StatusBadRequest)
		return
	}
	ip := ratelimit.ClientIP(r, u.trustProxy)
	if wait := u.throttle.wait(ip); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		http.Error(w, fmt.Sprintf("too many wrong keys from this address: try again in %d seconds", secs), http.StatusTooManyRequests)
		return
	}
	key := []byte(r.PostFormValue("key"))
	next := safeNext(r.PostFormValue("next"))
	var l level
	switch {
	case len(u.admin) > 0 && subtle.ConstantTimeCompare(key, u.admin) == 1:
		l = levelAdmin
	case len(u.read) > 0 && subtle.ConstantTimeCompare(key, u.read) == 1:
		l = levelRead
	default:
		u.throttle.failed(ip)
		u.log.Info("web login refused", "remote", ip)
		u.render(w, r, http.StatusUnauthorized, "login.html", pageData{Title: "Log in", Body: loginData{Next: next, Admin: true, Wrong: true}})
		return
	}
	u.throttle.succeeded(ip)
	if c, err := r.Cookie(cookieKey); err == nil {
		if err := u.sessions.close(r.Context(), c.Value); err != nil { // a new login never keeps an old token
			u.log.Error("closing the previous dashboard session failed", "err", err)
		}
	}
	tok, err := u.sessions.open(r.Context(), l)
	if err != nil {
		u.log.Error("web login: the session could not be stored", "err", err)
		http.Error(w, "the login could not be stored (the data store failed): nothing was opened; try again", http.StatusServiceUnavailable)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieKey, Value: tok, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: u.overTLS(r), MaxAge: int(u.sessions.ttl.Seconds())})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session on the server (in the store, so on every
// replica) and clears the cookie. When the store cannot delete it the
// logout is refused rather than reported done.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieKey); err == nil {
		if err := u.sessions.close(r.Context(), c.Value); err != nil {
			u.log.Error("web logout: the session could not be deleted", "err", err)
			http.Error(w, "the session could not be ended (the data store failed): try again", http.StatusServiceUnavailable)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: cookieKey, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: u.overTLS(r)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

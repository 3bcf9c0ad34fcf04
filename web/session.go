package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/internal/ratelimit"
)

// Dashboard sessions (issue 12 item 8). Logging in with a key opens a
// server-side session: the cookie holds only a random 256-bit token, the
// server keeps the token's hash with the access it grants and its expiry.
// Logging out deletes the session, so a copied cookie stops working at
// once; a restart ends every session (they are held in memory).

const (
	defaultSessionTTL = 12 * time.Hour
	maxLogins         = 10_000 // the oldest go first when full

	loginFailures = 5                // failed logins per client IP …
	loginWindow   = 15 * time.Minute // … within this window, then 429
	maxThrottled  = 10_000           // client IPs remembered
)

type session struct {
	level   level
	expires time.Time
}

// sessions are the open dashboard sessions, by the SHA-256 of their
// token (a lookup never compares secrets).
type sessions struct {
	mu  sync.Mutex
	m   map[[32]byte]session
	ttl time.Duration
	now func() time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	if ttl <= 0 {
		ttl = defaultSessionTTL
	}
	return &sessions{m: map[[32]byte]session{}, ttl: ttl, now: now}
}

// open starts a session with access l and returns its token.
func (s *sessions) open(l level) string {
	b := make([]byte, 32)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxLogins {
		s.prune(now)
	}
	s.m[sha256.Sum256([]byte(tok))] = session{level: l, expires: now.Add(s.ttl)}
	return tok
}

// prune drops expired sessions and, if still full, the one closest to
// expiry (the oldest). Caller holds mu.
func (s *sessions) prune(now time.Time) {
	var oldest [32]byte
	var at time.Time
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
			continue
		}
		if at.IsZero() || v.expires.Before(at) {
			oldest, at = k, v.expires
		}
	}
	if len(s.m) >= maxLogins {
		delete(s.m, oldest)
	}
}

// level is the access of the session with token tok (levelNone for an
// unknown, closed or expired one).
func (s *sessions) level(tok string) level {
	if len(tok) != 64 {
		return levelNone
	}
	k := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if !ok {
		return levelNone
	}
	if !s.now().Before(v.expires) {
		delete(s.m, k)
		return levelNone
	}
	return v.level
}

// close ends the session with token tok.
func (s *sessions) close(tok string) {
	k := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
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
		u.sessions.close(c.Value) // a new login never keeps an old token
	}
	http.SetCookie(w, &http.Cookie{Name: cookieKey, Value: u.sessions.open(l), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: u.overTLS(r), MaxAge: int(u.sessions.ttl.Seconds())})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session on the server and clears the cookie.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieKey); err == nil {
		u.sessions.close(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieKey, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: u.overTLS(r)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

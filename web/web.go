// Package web is Aisle's storefront and admin dashboard: server-rendered
// HTML pages (Go html/template) with a little vanilla JavaScript and one CSS
// file, all embedded in the binary, registered on an api.Server. The
// storefront shows recommendations and posts every view, click, add-to-cart
// and purchase back as an event, so a visitor watches the rows change; the
// dashboard (behind the admin key) shows the data, the models and live
// request metrics, with plots drawn server-side as SVG.
package web

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/internal/secret"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the web UI.
type Options struct {
	// AdminKey protects /admin when set (the same key as the API's).
	AdminKey string
	// ReadKey, when set, is needed (or the admin key) to browse the shop.
	ReadKey string
	// Searcher answers the search page; nil shows that search is not
	// available on this server.
	Searcher Searcher
	// DemoUsers are offered in the user switcher; empty picks the users
	// with the most events.
	DemoUsers []string
	// Demo turns the user switcher on: a visitor may then browse as any
	// existing user (the demo's shoppers). Off, as on a real shop, every
	// visitor is an anonymous session and the switcher is refused.
	Demo bool
	// Secret signs the shopper's session and user cookies, so that an
	// edited or forged cookie is ignored; keep it across restarts
	// (internal/secret). Empty: a random one for this process.
	Secret []byte
	// TrustProxy believes X-Forwarded-Proto (cookies are Secure when it
	// says https) and X-Forwarded-For (failed logins are counted per client
	// IP): set it only behind a proxy that sets them (server.trust_proxy).
	TrustProxy bool
	// SessionTTL is how long a dashboard login lasts (default 12h).
	SessionTTL time.Duration
	Logger     *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Experiments, when set, feeds /admin/experiments.
	Experiments *experiment.Manager
	// Shop is the shop this UI serves when the deployment has several
	// ("" for the default one); the header names it and links to /shops.
	Shop string
}

// UI serves the storefront and the dashboard.
type UI struct {
	exp    *experiment.Manager // nil: no experiments page
	srv    *api.Server
	eng    *engine.Engine
	svc    *recommend.Service
	rt     *recommend.Retrainer
	search Searcher
	log    *slog.Logger
	now    func() time.Time
	shop   string
	admin  []byte
	read   []byte
	pages  map[string]*template.Template
	stats  *logStats
	live   *liveMetrics
	ctr    *ctrTracker

	usersMu   sync.Mutex
	demoUsers []string
	demo      bool
	secret    []byte

	sessions   *sessions      // dashboard logins
	throttle   *loginThrottle // failed logins per client IP
	trustProxy bool           // X-Forwarded-Proto and -For come from a trusted proxy

	assistant bool // the chat panel is on (AddAssistant)
}

// Register adds the storefront and dashboard routes to srv. svc serves the
// rows; rt (may be nil) runs retraining from the dashboard.
func Register(srv *api.Server, svc *recommend.Service, rt *recommend.Retrainer, opts Options) (*UI, error) {
	if srv == nil || svc == nil {
		return nil, errors.New("web: need an api.Server and a recommend.Service")
	}
	u := &UI{
		srv: srv, eng: srv.Engine(), svc: svc, rt: rt, search: opts.Searcher,
		log: opts.Logger, now: opts.Now, exp: opts.Experiments, shop: opts.Shop,
		admin: []byte(opts.AdminKey), read: []byte(opts.ReadKey),
		demoUsers: append([]string(nil), opts.DemoUsers...),
		demo:      opts.Demo, secret: opts.Secret,
		trustProxy: opts.TrustProxy,
		stats:      newLogStats(),
		ctr:        newCTRTracker(),
	}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if u.now == nil {
		u.now = time.Now
	}
	if len(u.secret) == 0 {
		u.secret = secret.New()
	}
	st, _ := u.eng.Store().(store.Sessions) // nil: sessions in memory
	u.sessions = newSessions(st, opts.SessionTTL, u.now, u.keyOf, u.log)
	u.throttle = newLoginThrottle(u.now)
	u.live = newLiveMetrics(srv.Registry(), u.now)
	u.eng.Subscribe(statsForgetter{u.stats}) // forgotten users leave the dashboard's counts
	var err error
	if u.pages, err = parsePages(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static assets: %w", err)
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	// Every route is Public for the api.Server (a browser cannot send an
	// Authorization header); the UI checks readiness and keys itself, with
	// a cookie set by the login form.
	for _, r := range []api.Route{
		{Method: "GET", Pattern: "/{$}", Handler: u.page(levelRead, u.home)},
		{Method: "GET", Pattern: "/items/{id}", Handler: u.page(levelRead, u.item)},
		{Method: "GET", Pattern: "/search", Handler: u.page(levelRead, u.searchPage)},
		{Method: "GET", Pattern: "/cart", Handler: u.page(levelRead, u.cart)},
		{Method: "GET", Pattern: "/admin", Handler: u.page(levelAdmin, u.dashboard)},
		{Method: "GET", Pattern: "/admin/live", Handler: u.page(levelAdmin, u.liveFragment)},
		{Method: "GET", Pattern: "/admin/experiments", Handler: u.page(levelAdmin, u.experimentsPage)},
		{Method: "POST", Pattern: "/admin/retrain", Handler: u.post(levelAdmin, u.retrain)},
		{Method: "POST", Pattern: "/admin/models/{name}/rollback", Handler: u.post(levelAdmin, u.rollback)},
		{Method: "GET", Pattern: "/login", Handler: u.loginForm},
		{Method: "POST", Pattern: "/login", Handler: u.post(levelNone, u.login)},
		{Method: "POST", Pattern: "/logout", Handler: u.post(levelNone, u.logout)},
		{Method: "POST", Pattern: "/ui/user", Handler: u.post(levelRead, u.switchUser)},
		{Method: "POST", Pattern: "/ui/events", Handler: u.post(levelRead, u.postEvent)},
		{Method: "GET", Pattern: "/ui/suggest", Handler: u.page(levelRead, u.suggest)},
		{Method: "GET", Pattern: "/static/{file...}", Handler: func(w http.ResponseWriter, r *http.Request) {
			// files only: a directory would be listed (issue 12 item 9)
			if f := r.PathValue("file"); f == "" || strings.HasSuffix(f, "/") || strings.HasSuffix(r.URL.Path, "/") {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Cache-Control", "public, max-age=3600")
			files.ServeHTTP(w, r)
		}},
	} {
		r.Access = api.Public
		srv.Handle(r)
	}
	return u, nil
}

// Paths lists the UI's route patterns, for documentation and tests.
func Paths() []string {
	return []string{"/{$}", "/items/{id}", "/search", "/admin", "/admin/live", "/admin/experiments", "/admin/retrain",
		"/admin/models/{name}/rollback", "/login", "/logout", "/ui/user", "/ui/events", "/ui/suggest", "/static/{file...}"}
}

type level int

const (
	levelNone level = iota
	levelRead
	levelAdmin
)

const (
	cookieSession = "aisle_sid"
	cookieUser    = "aisle_user"
	cookieKey     = "aisle_key"
)

// keyOf is the key that grants l now.
func (u *UI) keyOf(l level) string {
	switch l {
	case levelAdmin:
		return string(u.admin)
	case levelRead:
		return string(u.read)
	}
	return ""
}

// allowed checks the keys as the API does (api.Keys), also accepting a
// dashboard session (the login cookie) opened with a key.
func (u *UI) allowed(r *http.Request, l level) bool {
	a := api.Public
	switch l {
	case levelAdmin:
		a = api.Admin
	case levelRead:
		a = api.Read
	}
	sent := api.RequestKey(r)
	opened := levelNone
	if c, err := r.Cookie(cookieKey); err == nil {
		opened = u.sessions.level(r.Context(), c.Value)
	}
	keys := api.Keys{Admin: string(u.admin), Read: string(u.read)}
	return keys.AllowsMatch(a, func(want string) bool {
		switch {
		case opened == levelAdmin && want == string(u.admin),
			opened == levelRead && want == string(u.read):
			return true
		}
		return api.KeyMatches(sent, want)
	})
}

// visitor is who is browsing: a chosen demo user or an anonymous session.
type visitor struct {
	User      string
	Session   string
	Anonymous bool
	New       bool // the session was started by this request (no valid cookie came)
}

func newSessionID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func validID(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// visitorOf reads the visitor from the cookies, starting a session when
// there is none. Both cookies are signed by the server (see sessionCookie
// and userCookie): a forged or edited one is ignored, so a visitor cannot
// act as another session or user. The user cookie counts only in demo
// mode, and only with the session it was issued to.
func (u *UI) visitorOf(w http.ResponseWriter, r *http.Request) visitor {
	var v visitor
	if c, err := r.Cookie(cookieSession); err == nil {
		v.Session = u.verifySession(c.Value)
	}
	if v.Session == "" {
		v.Session, v.New = newSessionID(), true
		http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: u.signSession(v.Session), Path: "/", HttpOnly: true,
			SameSite: http.SameSiteLaxMode, Secure: u.overTLS(r), MaxAge: 30 * 24 * 3600})
		// a user cookie of another session is void with a new session
	} else if c, err := r.Cookie(cookieUser); err == nil && u.demo {
		v.User = u.verifyUser(c.Value, v.Session)
	}
	if v.User == "" {
		v.User, v.Anonymous = "anon-"+v.Session, true
	}
	return v
}

// signSession is the session cookie's value: the random id and an HMAC of
// it under the server secret.
func (u *UI) signSession(sid string) string {
	return sid + "." + secret.MAC(u.secret, "aisle storefront session", sid)
}

// verifySession returns the session id of a signed cookie value, or ""
// for a forged, edited or malformed one.
func (u *UI) verifySession(val string) string {
	sid, mac, ok := strings.Cut(val, ".")
	if !ok || len(sid) != 24 || !isHex(sid) || !secret.Verify(u.secret, mac, "aisle storefront session", sid) {
		return ""
	}
	return sid
}

// signUser is the user cookie's value for user in session sid: the id
// (query-escaped) and an HMAC binding it to the session.
func (u *UI) signUser(user, sid string) string {
	return url.QueryEscape(user) + "." + secret.MAC(u.secret, "aisle storefront user", sid, user)
}

// verifyUser returns the user of a signed user cookie issued to session
// sid, or "".
func (u *UI) verifyUser(val, sid string) string {
	i := strings.LastIndexByte(val, '.')
	if i < 0 {
		return ""
	}
	id, err := url.QueryUnescape(val[:i])
	if err != nil || !validID(id) || !secret.Verify(u.secret, val[i+1:], "aisle storefront user", sid, id) {
		return ""
	}
	return id
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// page wraps a GET handler: readiness, keys, security headers.
func (u *UI) page(l level, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w)
		if !u.srv.Ready() {
			w.Header().Set("Retry-After", "2")
			u.render(w, r, http.StatusServiceUnavailable, "message.html", pageData{Title: "Starting", Body: message{
				Heading: "Aisle is starting", Text: "It is loading the data and the models. This page reloads when it is ready.", Reload: true}})
			return
		}
		if !u.allowed(r, l) {
			if strings.HasPrefix(r.URL.Path, "/ui/") || r.URL.Path == "/admin/live" {
				http.Error(w, "log in first", http.StatusUnauthorized)
				return
			}
			u.render(w, r, http.StatusUnauthorized, "login.html", pageData{Title: "Log in", Body: loginData{Next: r.URL.RequestURI(), Admin: l == levelAdmin}})
			return
		}
		h(w, r)
	}
}

// post wraps a state-changing handler: same-origin check (the cookies are
// SameSite too), readiness, keys.
func (u *UI) post(l level, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w)
		if o := r.Header.Get("Origin"); o != "" {
			ou, err := url.Parse(o)
			// the scheme too: ftp://same-host is another origin
			if err != nil || ou.Host != r.Host || (ou.Scheme != "http" && ou.Scheme != "https") {
				http.Error(w, "cross-origin request refused", http.StatusForbidden)
				return
			}
		}
		if l != levelNone && !u.srv.Ready() {
			w.Header().Set("Retry-After", "2")
			http.Error(w, "starting: retry in a moment", http.StatusServiceUnavailable)
			return
		}
		if !u.allowed(r, l) {
			http.Error(w, "log in first: "+loginHint(l), http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

func loginHint(l level) string {
	if l == levelAdmin {
		return "this needs the admin key"
	}
	return "this needs the read key"
}

func setSecurityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: https: http:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// switchUser sets (or clears, for anonymous browsing) the user cookie,
// signed for the visitor's session. Only in demo mode: on a real shop a
// visitor is who their session is.
func (u *UI) switchUser(w http.ResponseWriter, r *http.Request) {
	if !u.demo {
		http.Error(w, "the user switcher is only available in demo mode (aisle demo)", http.StatusForbidden)
		return
	}
	id := strings.TrimSpace(r.PostFormValue("user"))
	next := safeNext(r.PostFormValue("next"))
	if id == "" {
		http.SetCookie(w, &http.Cookie{Name: cookieUser, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if !validID(id) {
		http.Error(w, "bad user id", http.StatusBadRequest)
		return
	}
	if _, err := u.eng.GetUser(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			http.Error(w, fmt.Sprintf("no user %q", id), http.StatusBadRequest)
			return
		}
		u.fail(w, r, err)
		return
	}
	v := u.visitorOf(w, r) // the session the user cookie is bound to
	http.SetCookie(w, &http.Cookie{Name: cookieUser, Value: u.signUser(id, v.Session), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: u.overTLS(r), MaxAge: 30 * 24 * 3600})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// uiEvent is what the page's JavaScript posts for a click, an add-to-cart
// or a purchase. The user and session come from the cookies.
type uiEvent struct {
	Type   string `json:"type"`
	ItemID string `json:"item_id"`
	List   string `json:"list,omitempty"` // the row a click came from
	// RequestID and Position: the row (and place in it) the item was
	// shown in, for attribution (issue 15)
	RequestID string `json:"request_id,omitempty"`
	Position  int    `json:"position,omitempty"`
}

var uiEventTypes = map[string]events.Type{"click": events.Click, "add_to_cart": events.AddToCart, "purchase": events.Purchase}

func (u *UI) postEvent(w http.ResponseWriter, r *http.Request) {
	// A JSON content type cannot be sent cross-site without a CORS
	// preflight, which this server never grants.
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		api.WriteError(w, http.StatusUnsupportedMediaType, "send the event as application/json", nil)
		return
	}
	body, ok := api.ReadBody(w, r)
	if !ok {
		return
	}
	var ev uiEvent
	if err := catalog.StrictDecode(body, &ev); err != nil {
		api.WriteError(w, http.StatusBadRequest, `the body must be {"type":"click|add_to_cart|purchase","item_id":"…","list":"…","request_id":"…","position":1}`, nil)
		return
	}
	t, ok := uiEventTypes[ev.Type]
	if !ok {
		api.WriteError(w, http.StatusBadRequest, fmt.Sprintf("type %q: the UI posts click, add_to_cart or purchase", ev.Type), nil)
		return
	}
	v := u.visitorOf(w, r)
	e := events.Event{UserID: v.User, ItemID: ev.ItemID, Type: t, SessionID: v.Session, Timestamp: u.now().UTC(),
		RequestID: ev.RequestID, Position: ev.Position}
	if err := u.eng.AddEvents(r.Context(), []events.Event{e}); err != nil {
		u.srv.Error(w, r, err)
		return
	}
	counted := false
	if t == events.Click {
		counted = u.ctr.click(v.Session, ev.List, ev.ItemID, u.now())
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"recorded": ev.Type, "user_id": v.User, "counted_click": counted})
}

// recordView posts the server-side view event of a product page.
func (u *UI) recordView(ctx context.Context, v visitor, itemID string) {
	e := events.Event{UserID: v.User, ItemID: itemID, Type: events.View, SessionID: v.Session, Timestamp: u.now().UTC()}
	if err := u.eng.AddEvents(ctx, []events.Event{e}); err != nil {
		u.log.Warn("cannot record a page view", "item", itemID, "error", err)
	}
}

func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	u.log.Error("web page failed", "path", r.URL.Path, "error", err)
	u.render(w, r, http.StatusInternalServerError, "message.html", pageData{Title: "Error", Body: message{
		Heading: "Something went wrong", Text: err.Error()}})
}

func (u *UI) notFound(w http.ResponseWriter, r *http.Request, what string) {
	u.render(w, r, http.StatusNotFound, "message.html", pageData{Title: "Not found", Body: message{
		Heading: "Not found", Text: what}})
}

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
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
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
	Logger    *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Shop is the shop this UI serves when the deployment has several
	// ("" for the default one); the header names it and links to /shops.
	Shop string
}

// UI serves the storefront and the dashboard.
type UI struct {
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
}

// Register adds the storefront and dashboard routes to srv. svc serves the
// rows; rt (may be nil) runs retraining from the dashboard.
func Register(srv *api.Server, svc *recommend.Service, rt *recommend.Retrainer, opts Options) (*UI, error) {
	if srv == nil || svc == nil {
		return nil, errors.New("web: need an api.Server and a recommend.Service")
	}
	u := &UI{
		srv: srv, eng: srv.Engine(), svc: svc, rt: rt, search: opts.Searcher,
		log: opts.Logger, now: opts.Now, shop: opts.Shop,
		admin: []byte(opts.AdminKey), read: []byte(opts.ReadKey),
		demoUsers: append([]string(nil), opts.DemoUsers...),
		stats:     newLogStats(),
		ctr:       newCTRTracker(),
	}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if u.now == nil {
		u.now = time.Now
	}
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
		{Method: "POST", Pattern: "/admin/retrain", Handler: u.post(levelAdmin, u.retrain)},
		{Method: "POST", Pattern: "/admin/models/{name}/rollback", Handler: u.post(levelAdmin, u.rollback)},
		{Method: "GET", Pattern: "/login", Handler: u.loginForm},
		{Method: "POST", Pattern: "/login", Handler: u.post(levelNone, u.login)},
		{Method: "POST", Pattern: "/logout", Handler: u.post(levelNone, u.logout)},
		{Method: "POST", Pattern: "/ui/user", Handler: u.post(levelRead, u.switchUser)},
		{Method: "POST", Pattern: "/ui/events", Handler: u.post(levelRead, u.postEvent)},
		{Method: "GET", Pattern: "/ui/suggest", Handler: u.page(levelRead, u.suggest)},
		{Method: "GET", Pattern: "/static/{file...}", Handler: func(w http.ResponseWriter, r *http.Request) {
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
	return []string{"/{$}", "/items/{id}", "/search", "/admin", "/admin/live", "/admin/retrain",
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

// token is what the key cookie holds: an HMAC of the key, so the key itself
// never sits in the browser.
func token(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("aisle web session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// allowed checks the keys as the API does (api.Keys), also accepting the
// login cookie's token of a key.
func (u *UI) allowed(r *http.Request, l level) bool {
	a := api.Public
	switch l {
	case levelAdmin:
		a = api.Admin
	case levelRead:
		a = api.Read
	}
	sent := api.RequestKey(r)
	cookie := ""
	if c, err := r.Cookie(cookieKey); err == nil {
		cookie = c.Value
	}
	keys := api.Keys{Admin: string(u.admin), Read: string(u.read)}
	return keys.AllowsMatch(a, func(want string) bool {
		if cookie != "" && subtle.ConstantTimeCompare([]byte(cookie), []byte(token([]byte(want)))) == 1 {
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
// there is none.
func (u *UI) visitorOf(w http.ResponseWriter, r *http.Request) visitor {
	var v visitor
	if c, err := r.Cookie(cookieSession); err == nil && len(c.Value) == 24 && isHex(c.Value) {
		v.Session = c.Value
	} else {
		v.Session = newSessionID()
		http.SetCookie(w, &http.Cookie{Name: cookieSession, Value: v.Session, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil, MaxAge: 30 * 24 * 3600})
	}
	if c, err := r.Cookie(cookieUser); err == nil {
		if id, err := url.QueryUnescape(c.Value); err == nil && validID(id) {
			v.User = id
		}
	}
	if v.User == "" {
		v.User, v.Anonymous = "anon-"+v.Session, true
	}
	return v
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
			if err != nil || ou.Host != r.Host {
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

// safeNext keeps redirects on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

// switchUser sets (or clears, for anonymous browsing) the user cookie.
func (u *UI) switchUser(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.FormValue("user"))
	next := safeNext(r.FormValue("next"))
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
	http.SetCookie(w, &http.Cookie{Name: cookieUser, Value: url.QueryEscape(id), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil, MaxAge: 30 * 24 * 3600})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// uiEvent is what the page's JavaScript posts for a click, an add-to-cart
// or a purchase. The user and session come from the cookies.
type uiEvent struct {
	Type   string `json:"type"`
	ItemID string `json:"item_id"`
	List   string `json:"list,omitempty"` // the row a click came from
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
		api.WriteError(w, http.StatusBadRequest, `the body must be {"type":"click|add_to_cart|purchase","item_id":"…","list":"…"}`, nil)
		return
	}
	t, ok := uiEventTypes[ev.Type]
	if !ok {
		api.WriteError(w, http.StatusBadRequest, fmt.Sprintf("type %q: the UI posts click, add_to_cart or purchase", ev.Type), nil)
		return
	}
	v := u.visitorOf(w, r)
	e := events.Event{UserID: v.User, ItemID: ev.ItemID, Type: t, SessionID: v.Session, Timestamp: u.now().UTC()}
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

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w)
	u.render(w, r, http.StatusOK, "login.html", pageData{Title: "Log in", Body: loginData{Next: safeNext(r.URL.Query().Get("next")), Admin: true}})
}

// login checks the key in constant time and stores an HMAC token of it in
// an HttpOnly, SameSite=Strict cookie. The key is never logged.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	key := []byte(r.FormValue("key"))
	next := safeNext(r.FormValue("next"))
	var tok string
	switch {
	case len(u.admin) > 0 && subtle.ConstantTimeCompare(key, u.admin) == 1:
		tok = token(u.admin)
	case len(u.read) > 0 && subtle.ConstantTimeCompare(key, u.read) == 1:
		tok = token(u.read)
	default:
		u.log.Info("web login refused", "remote", r.RemoteAddr)
		u.render(w, r, http.StatusUnauthorized, "login.html", pageData{Title: "Log in", Body: loginData{Next: next, Admin: true, Wrong: true}})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieKey, Value: tok, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 12 * 3600})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieKey, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
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

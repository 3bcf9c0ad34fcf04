package shops

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/internal/ratelimit"
)

// The dashboard's shop pages: /shops lists the shops, /shops/{shop}/keys
// lists a shop's keys and creates, rotates and revokes them. A browser
// logs in to them at POST /shops with the operator admin key (every shop)
// or a shop key with the admin scope (that shop only); the login is a
// server-side session in an HttpOnly, SameSite=Strict cookie, and a shop
// key's session ends when the key is revoked or rotated. A deployment
// without an admin key is open to operators, as its API is.

const (
	shopsSessionCookie = "aisle_shops_session"
	shopsSessionTTL    = 12 * time.Hour
	maxShopsSessions   = 10_000
	shopsLoginFailures = 5 // wrong keys per client IP within the window, then 429
	shopsLoginWindow   = 15 * time.Minute
)

// webSession is who a dashboard login proved to be.
type webSession struct {
	operator bool
	shop     string // a shop admin key's shop
	keyID    string
	expires  time.Time
}

// webSessions holds the dashboard logins of the shop pages, by the
// SHA-256 of their token, and the failed logins per client IP.
type webSessions struct {
	mu     sync.Mutex
	m      map[[32]byte]webSession
	failed map[string][]time.Time
}

func (s *webSessions) open(ws webSession) string {
	b := make([]byte, 32)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[[32]byte]webSession{}
	}
	if len(s.m) >= maxShopsSessions {
		now := time.Now()
		for k, v := range s.m {
			if now.After(v.expires) || len(s.m) >= maxShopsSessions {
				delete(s.m, k)
			}
		}
	}
	s.m[sha256.Sum256([]byte(tok))] = ws
	return tok
}

func (s *webSessions) get(tok string) (webSession, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sha256.Sum256([]byte(tok))
	ws, ok := s.m[k]
	if ok && time.Now().After(ws.expires) {
		delete(s.m, k)
		return webSession{}, false
	}
	return ws, ok
}

func (s *webSessions) close(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(tok)))
}

// throttled reports how long ip must wait after too many wrong keys.
func (s *webSessions) throttled(ip string, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var recent []time.Time
	for _, t := range s.failed[ip] {
		if now.Sub(t) < shopsLoginWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) == 0 {
		delete(s.failed, ip)
		return 0
	}
	s.failed[ip] = recent
	if len(recent) < shopsLoginFailures {
		return 0
	}
	return shopsLoginWindow - now.Sub(recent[0])
}

func (s *webSessions) fail(ip string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil {
		s.failed = map[string][]time.Time{}
	}
	if len(s.failed) >= maxShopsSessions {
		clear(s.failed)
	}
	s.failed[ip] = append(s.failed[ip], now)
}

// viewer is who is looking at a shop page: an operator, a shop's admin,
// or nobody proven.
type viewer struct {
	operator bool
	shop     string
}

// viewerOf reads the dashboard login of r; a shop key's session counts
// only while the key exists with the admin scope.
func (h *Host) viewerOf(r *http.Request) viewer {
	if h.cfg.Server.AdminKey == "" || api.KeyMatches(api.RequestKey(r), h.cfg.Server.AdminKey) {
		return viewer{operator: true}
	}
	c, err := r.Cookie(shopsSessionCookie)
	if err != nil {
		return viewer{}
	}
	ws, ok := h.web.get(c.Value)
	if !ok {
		return viewer{}
	}
	if ws.operator {
		return viewer{operator: true}
	}
	if k, ok := h.reg.Key(ws.shop, ws.keyID); ok && k.Allows(ScopeAdmin) {
		return viewer{shop: ws.shop}
	}
	h.web.close(c.Value) // revoked or rotated: the session ends with it
	return viewer{}
}

func (v viewer) sees(shop string) bool { return v.operator || (v.shop != "" && v.shop == shop) }

var shopPagesTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Aisle</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main id="main">
{{if eq .Page "login"}}<h1>Log in to the shops</h1>
<p>The operator admin key opens every shop; a shop key with the admin scope opens its own shop's keys.</p>
{{if .Wrong}}<p class="error" role="alert">That key does not open this page.</p>{{end}}
<form method="post" action="/shops"><input type="hidden" name="action" value="login"><input type="hidden" name="next" value="{{.Next}}">
<label>Key <input type="password" name="key" autocomplete="current-password" required autofocus></label> <button type="submit">Log in</button></form>
{{else if eq .Page "list"}}<h1>Shops</h1>
<p>Choose the shop the storefront and the dashboard show. Each shop has its own catalogue, shoppers, models and search.</p>
<ul class="shops">{{range .Shops}}<li><a href="/shops/{{.ID}}"{{if eq .ID $.Current}} aria-current="true" class="on"{{end}}>{{if .Settings.Name}}{{.Settings.Name}} ({{.ID}}){{else}}{{.ID}}{{end}}</a>{{if eq .ID $.Current}} · shown now{{end}}{{if not .Loaded}} · not loaded (loads on its first page){{end}} · <a href="/shops/{{.ID}}/keys">keys ({{.Keys}})</a></li>{{end}}</ul>
{{else if eq .Page "keys"}}<h1>Keys of shop {{.Shop}}</h1>
{{with .New}}<section class="new-key" aria-live="polite"><h2>{{if $.Rotated}}Key {{$.Rotated}} rotated: its new secret{{else}}New key{{end}}</h2>
<p>Copy it now: it is shown this once, only its hash is kept.</p>
<p><code class="secret">{{.Key}}</code></p><p>Scopes: {{range $i, $s := .Scopes}}{{if $i}}, {{end}}{{$s}}{{end}}. Send it as <code>Authorization: Bearer KEY</code> to <code>/api/shops/{{$.Shop}}/…</code>.</p></section>{{end}}
{{if .Keys}}<table class="keys"><thead><tr><th>id</th><th>scopes</th><th>created</th><th></th></tr></thead><tbody>
{{range .Keys}}<tr><td><code>{{.ID}}</code></td><td>{{range $i, $s := .Scopes}}{{if $i}}, {{end}}{{$s}}{{end}}</td><td>{{.Created.Format "2006-01-02 15:04 UTC"}}</td>
<td><form method="post" action="/shops/{{$.Shop}}/keys/{{.ID}}/rotate"><button type="submit">Rotate</button></form>
<form method="post" action="/shops/{{$.Shop}}/keys/{{.ID}}/revoke"><button type="submit">Revoke</button></form></td></tr>{{end}}
</tbody></table>{{else}}<p>This shop has no keys yet.</p>{{end}}
<h2>Create a key</h2>
<form method="post" action="/shops/{{.Shop}}/keys"><fieldset><legend>Scopes</legend>
<label><input type="checkbox" name="scope" value="public"> public: recommendations, search, suggestions, item reads (safe in a web page)</label><br>
<label><input type="checkbox" name="scope" value="read"> read: also users, their events, models, stats</label><br>
<label><input type="checkbox" name="scope" value="write"> write: ingest items, users, events</label><br>
<label><input type="checkbox" name="scope" value="admin"> admin: everything of this shop, its keys included</label></fieldset>
<button type="submit">Create</button></form>
{{else}}<h1>{{.Title}}</h1><p role="alert">{{.Message}}</p>{{end}}
<p>{{if .Operator}}<a href="/shops">Shops</a> · {{end}}<a href="/">Storefront</a> · <a href="/admin">Dashboard</a>{{if .LoggedIn}}
<form class="inline" method="post" action="/shops"><input type="hidden" name="action" value="logout"><button type="submit">Log out</button></form>{{end}}</p>
</main></body></html>`))

type shopPage struct {
	Page, Title, Message string
	Operator, LoggedIn   bool
	// login
	Next  string
	Wrong bool
	// list
	Shops   []Info
	Current string
	// keys
	Shop    string
	Keys    []Key
	New     *NewKeyAnswer
	Rotated string
}

func (h *Host) renderShopPage(w http.ResponseWriter, r *http.Request, code int, d shopPage) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store") // a new key's secret must not stay in a cache
	hd.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	_, err := r.Cookie(shopsSessionCookie)
	d.LoggedIn = err == nil && h.cfg.Server.AdminKey != ""
	w.WriteHeader(code)
	if err := shopPagesTmpl.Execute(w, d); err != nil {
		h.log.Error("shop page", "page", d.Page, "error", err)
	}
}

func (h *Host) loginPage(w http.ResponseWriter, r *http.Request, next string, wrong bool) {
	h.renderShopPage(w, r, http.StatusUnauthorized, shopPage{Page: "login", Title: "Log in", Next: next, Wrong: wrong})
}

// shopsPage lists the shops to switch between: every shop for operators,
// their own for a shop's admin.
func (h *Host) shopsPage(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		h.shopsLogin(w, r)
		return
	}
	v := h.viewerOf(r)
	if !v.operator && v.shop == "" {
		h.loginPage(w, r, "/shops", false)
		return
	}
	d := shopPage{Page: "list", Title: "Shops", Operator: v.operator, Current: chosenShop(r)}
	for _, sh := range h.reg.List() {
		if v.sees(sh.ID) {
			d.Shops = append(d.Shops, h.info(sh))
		}
	}
	h.renderShopPage(w, r, http.StatusOK, d)
}

// sameOrigin refuses a state-changing request from another site (the
// cookie is SameSite=Strict too).
func sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		if ou, err := url.Parse(o); err != nil || ou.Host != r.Host {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return false
		}
	}
	return true
}

// shopsLogin answers POST /shops: action=login with a key (form body
// only), or action=logout.
func (h *Host) shopsLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(w, r) {
		return
	}
	if r.URL.Query().Has("key") {
		http.Error(w, "send the key in the form body, never in the URL", http.StatusBadRequest)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<14)
	secure := r.TLS != nil || (h.cfg.Server.TrustProxy && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
	if r.PostFormValue("action") == "logout" {
		if c, err := r.Cookie(shopsSessionCookie); err == nil {
			h.web.close(c.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: shopsSessionCookie, Value: "", Path: "/shops", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure})
		http.Redirect(w, r, "/shops", http.StatusSeeOther)
		return
	}
	next := r.PostFormValue("next")
	if !strings.HasPrefix(next, "/shops") || strings.ContainsAny(next, "\\\r\n\t") || strings.HasPrefix(next, "//") {
		next = "/shops"
	}
	ip := ratelimit.ClientIP(r, h.cfg.Server.TrustProxy)
	now := time.Now()
	if wait := h.web.throttled(ip, now); wait > 0 {
		secs := int(wait.Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		http.Error(w, fmt.Sprintf("too many wrong keys from this address: try again in %d seconds", secs), http.StatusTooManyRequests)
		return
	}
	sent := r.PostFormValue("key")
	var ws webSession
	switch {
	case h.cfg.Server.AdminKey != "" && api.KeyMatches(sent, h.cfg.Server.AdminKey):
		ws.operator = true
	case IsShopKey(sent):
		k, ok := h.reg.Verify(sent)
		if !ok || !k.Allows(ScopeAdmin) {
			h.web.fail(ip, now)
			h.loginPage(w, r, next, true)
			return
		}
		ws.shop, ws.keyID = k.Shop, k.ID
	default:
		h.web.fail(ip, now)
		h.log.Info("shops login refused", "remote", ip)
		h.loginPage(w, r, next, true)
		return
	}
	ws.expires = now.Add(shopsSessionTTL)
	if c, err := r.Cookie(shopsSessionCookie); err == nil {
		h.web.close(c.Value) // a new login never keeps an old token
	}
	http.SetCookie(w, &http.Cookie{Name: shopsSessionCookie, Value: h.web.open(ws), Path: "/shops", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure, MaxAge: int(shopsSessionTTL.Seconds())})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// keysPage answers /shops/{shop}/keys… (rest is what follows "keys").
func (h *Host) keysPage(w http.ResponseWriter, r *http.Request, id, rest string) {
	v := h.viewerOf(r)
	if !v.operator && v.shop == "" {
		if r.Method == http.MethodPost {
			http.Error(w, "log in first: POST /shops with the operator admin key or this shop's admin key", http.StatusUnauthorized)
			return
		}
		h.loginPage(w, r, "/shops/"+id+"/keys", false)
		return
	}
	page := shopPage{Page: "keys", Title: "Keys of " + id, Operator: v.operator, Shop: id}
	fail := func(code int, msg string) {
		page.Page, page.Message = "message", msg
		h.renderShopPage(w, r, code, page)
	}
	if !v.sees(id) {
		fail(http.StatusForbidden, fmt.Sprintf("You are logged in with a key of shop %q: it opens only that shop's keys.", v.shop))
		return
	}
	if _, ok := h.reg.Get(id); !ok {
		fail(http.StatusNotFound, fmt.Sprintf("There is no shop %q.", id))
		return
	}
	if r.Method == http.MethodPost && !sameOrigin(w, r) {
		return
	}
	kid, action, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case rest == "" && r.Method == http.MethodGet:
	case rest == "" && r.Method == http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 1<<14)
		if err := r.ParseForm(); err != nil {
			fail(http.StatusBadRequest, "The form could not be read: "+err.Error())
			return
		}
		var scopes []Scope
		for _, s := range r.PostForm["scope"] {
			scopes = append(scopes, Scope(s))
		}
		k, secret, err := h.reg.NewKey(id, scopes, h.now())
		if err != nil {
			fail(http.StatusBadRequest, "No key was created: "+err.Error())
			return
		}
		h.log.Info("shop key created on the dashboard", "shop", id, "key", k.ID, "scopes", k.Scopes)
		page.New = &NewKeyAnswer{ID: k.ID, Key: secret, Shop: id, Scopes: k.Scopes}
	case r.Method == http.MethodPost && action == "rotate":
		k, secret, err := h.reg.Rotate(id, kid, h.now())
		if errors.Is(err, ErrNotFound) {
			fail(http.StatusNotFound, fmt.Sprintf("Shop %q has no key %q (revoked or rotated already?).", id, kid))
			return
		} else if err != nil {
			fail(http.StatusInternalServerError, err.Error())
			return
		}
		h.log.Info("shop key rotated on the dashboard", "shop", id, "old", kid, "new", k.ID)
		page.New, page.Rotated = &NewKeyAnswer{ID: k.ID, Key: secret, Shop: id, Scopes: k.Scopes}, kid
	case r.Method == http.MethodPost && action == "revoke":
		if err := h.reg.Revoke(id, kid); errors.Is(err, ErrNotFound) {
			fail(http.StatusNotFound, fmt.Sprintf("Shop %q has no key %q (revoked already?).", id, kid))
			return
		} else if err != nil {
			fail(http.StatusInternalServerError, err.Error())
			return
		}
		h.log.Info("shop key revoked on the dashboard", "shop", id, "key", kid)
		http.Redirect(w, r, "/shops/"+id+"/keys", http.StatusSeeOther)
		return
	default:
		fail(http.StatusNotFound, "No such page.")
		return
	}
	page.Keys = h.reg.Keys(id)
	h.renderShopPage(w, r, http.StatusOK, page)
}

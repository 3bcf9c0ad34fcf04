package shops

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/aisle-dev/aisle/api"
)

// The storefront and dashboard pages (everything outside /api, /metrics
// and /static) serve the shop a browser chose at /shops/{shop}: a cookie
// remembers it, so every link of the pages works unchanged. /shops lists
// the shops to switch between.

const shopCookie = "aisle_shop"

// Load loads a shop now (the demo loads its second shop at start, so that
// its import and training do not wait for a first request).
func (h *Host) Load(ctx context.Context, id string) error {
	_, _, release, err := h.acquire(ctx, id)
	if err != nil {
		return err
	}
	release()
	return nil
}

// serveWeb routes a page request to the chosen shop's web UI.
func (h *Host) serveWeb(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/shops" || path == "/shops/":
		h.shopsPage(w, r)
		return
	case strings.HasPrefix(path, "/shops/"):
		h.switchShop(w, r, strings.Trim(strings.TrimPrefix(path, "/shops/"), "/"))
		return
	case path == "/metrics" && r.Method == http.MethodGet:
		h.serveMetrics(w, r)
		return
	case path == "/metrics" || strings.HasPrefix(path, "/static/") || strings.HasPrefix(path, "/debug/"):
		h.def.Handler().ServeHTTP(w, r)
		return
	}
	id := chosenShop(r)
	if id == DefaultID {
		h.def.Handler().ServeHTTP(w, r)
		return
	}
	a, _, release, err := h.acquire(r.Context(), id)
	if errors.Is(err, errNoShop) {
		// the chosen shop was deleted: back to the default one
		http.SetCookie(w, &http.Cookie{Name: shopCookie, Value: "", Path: "/", MaxAge: -1})
		h.def.Handler().ServeHTTP(w, r)
		return
	} else if err != nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, fmt.Sprintf("shop %q cannot be loaded now; retry in a moment", id), http.StatusServiceUnavailable)
		return
	}
	defer release()
	a.Handler().ServeHTTP(w, r)
}

// chosenShop is the shop the request's cookie names (the default one when
// none or an invalid one).
func chosenShop(r *http.Request) string {
	c, err := r.Cookie(shopCookie)
	if err != nil || ValidID(c.Value) != nil {
		return DefaultID
	}
	return c.Value
}

// switchShop remembers the shop for this browser and shows its home page.
func (h *Host) switchShop(w http.ResponseWriter, r *http.Request, id string) {
	if _, ok := h.reg.Get(id); !ok || ValidID(id) != nil {
		http.Error(w, fmt.Sprintf("no shop %q: see /shops", id), http.StatusNotFound)
		return
	}
	c := &http.Cookie{Name: shopCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if id == DefaultID {
		c.MaxAge, c.Value = -1, ""
	}
	http.SetCookie(w, c)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

var shopsTmpl = template.Must(template.New("shops").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shops · Aisle</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main id="main"><h1>Shops</h1>
<p>Choose the shop the storefront and the dashboard show. Each shop has its own catalogue, shoppers, models and search.</p>
<ul class="shops">{{range .Shops}}<li><a href="/shops/{{.ID}}"{{if eq .ID $.Current}} aria-current="true" class="on"{{end}}>{{if .Settings.Name}}{{.Settings.Name}} ({{.ID}}){{else}}{{.ID}}{{end}}</a>{{if eq .ID $.Current}} · shown now{{end}}{{if not .Loaded}} · not loaded (loads on its first page){{end}}</li>{{end}}</ul>
<p><a href="/">Back to the storefront</a> · <a href="/admin">Dashboard</a></p></main></body></html>`))

// shopsPage lists the shops to switch between: for operators (the admin
// key, or a deployment without one).
func (h *Host) shopsPage(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Server.AdminKey != "" && !api.KeyMatches(api.RequestKey(r), h.cfg.Server.AdminKey) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, "The list of shops is for operators: GET /api/shops with the admin key. Open a shop you know at /shops/{shop}.")
		return
	}
	var d struct {
		Shops   []Info
		Current string
	}
	for _, sh := range h.reg.List() {
		d.Shops = append(d.Shops, h.info(sh))
	}
	d.Current = chosenShop(r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := shopsTmpl.Execute(w, d); err != nil {
		h.log.Error("shops page", "error", err)
	}
}

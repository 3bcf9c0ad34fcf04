package shops

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
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
		id, rest, _ := strings.Cut(strings.TrimPrefix(path, "/shops/"), "/")
		if rest == "keys" || strings.HasPrefix(rest, "keys/") {
			h.keysPage(w, r, id, strings.TrimPrefix(rest, "keys"))
			return
		}
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

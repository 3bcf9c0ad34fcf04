package shops

import (
	"net/http"
	"strings"
)

// Need is what a route asks of the key a request sends.
type Need string

// Needs beyond the key scopes.
const (
	// NeedNone: no key at all (health, readiness, the API description).
	NeedNone Need = "none"
	// NeedOperator: only an operator key (--admin-key), never a shop key
	// (creating, changing and deleting shops).
	NeedOperator Need = "operator"
)

// routeNeeds is the scope every API route needs, by its method and
// pattern as in api/openapi.json (a shop's routes under
// /api/shops/{shop}/… need the same as the route without the prefix). A
// route missing here needs admin, and the key-scope test fails until it
// is listed.
var routeNeeds = map[string]Need{
	"GET /api/health":       NeedNone,
	"GET /api/ready":        NeedNone,
	"GET /api/openapi.json": NeedNone,
	"GET /metrics":          NeedNone,

	// public: what a storefront shows any visitor
	"GET /api/items":                                  Need(ScopePublic),
	"GET /api/items/{id}":                             Need(ScopePublic),
	"GET /api/items/{id}/similar":                     Need(ScopePublic),
	"GET /api/items/{id}/bought-together":             Need(ScopePublic),
	"GET /api/recommend/{user_id}":                    Need(ScopePublic),
	"POST /api/recommend/session":                     Need(ScopePublic),
	"POST /api/recommend/basket":                      Need(ScopePublic),
	"GET /api/recommend/{user_id}/buy-again":          Need(ScopePublic),
	"GET /api/recommend/{user_id}/recently-viewed":    Need(ScopePublic),
	"GET /api/recommend/{user_id}/new-arrivals":       Need(ScopePublic),
	"GET /api/recommend/{user_id}/because-you-viewed": Need(ScopePublic),
	"GET /api/popular":                                Need(ScopePublic),
	"GET /api/trending":                               Need(ScopePublic),
	"GET /api/search":                                 Need(ScopePublic),
	"GET /api/suggest":                                Need(ScopePublic),
	"POST /api/assistant":                             Need(ScopePublic),

	// read: the shop's users and its own figures
	"GET /api/stats":             Need(ScopeRead),
	"GET /api/users":             Need(ScopeRead),
	"GET /api/users/{id}":        Need(ScopeRead),
	"GET /api/users/{id}/events": Need(ScopeRead),
	"GET /api/models":            Need(ScopeRead),

	// write: ingestion
	"POST /api/items":       Need(ScopeWrite),
	"PATCH /api/items/{id}": Need(ScopeWrite),
	"POST /api/users":       Need(ScopeWrite),
	"POST /api/events":      Need(ScopeWrite),

	// admin: models, deletions, privacy, keys
	"DELETE /api/items/{id}":                  Need(ScopeAdmin),
	"DELETE /api/users/{id}":                  Need(ScopeAdmin),
	"POST /api/models/{name}/rollback":        Need(ScopeAdmin),
	"POST /api/models/retrain":                Need(ScopeAdmin),
	"DELETE /api/suggest/{query}":             Need(ScopeAdmin),
	"GET /api/suggest/blocked":                Need(ScopeAdmin),
	"DELETE /api/suggest/blocked/{query}":     Need(ScopeAdmin),
	"GET /api/users/{id}/forgotten":           Need(ScopeAdmin),
	"GET /api/users/{id}/export":              Need(ScopeAdmin),
	"GET /api/admin/privacy":                  Need(ScopeAdmin),
	"GET /api/admin/backup":                   Need(ScopeAdmin),
	"GET /api/shops/{shop}":                   Need(ScopeAdmin),
	"GET /api/shops/{shop}/keys":              Need(ScopeAdmin),
	"POST /api/shops/{shop}/keys":             Need(ScopeAdmin),
	"DELETE /api/shops/{shop}/keys/{id}":      Need(ScopeAdmin),
	"POST /api/shops/{shop}/keys/{id}/rotate": Need(ScopeAdmin),
	"GET /api/experiments":                    Need(ScopeAdmin),
	"POST /api/experiments":                   Need(ScopeAdmin),
	"GET /api/experiments/{id}":               Need(ScopeAdmin),
	"GET /api/experiments/{id}/results":       Need(ScopeAdmin),
	"POST /api/experiments/{id}/stop":         Need(ScopeAdmin),
	"POST /api/experiments/{id}/ship":         Need(ScopeAdmin),

	// routes of issues 15–17 (rules, ads, experiments, assistant), in
	// their branches' openapi.json
	"POST /api/search/image":               Need(ScopePublic),
	"GET /api/items/{id}/visually-similar": Need(ScopePublic),
	"GET /api/rules":                       Need(ScopeAdmin),
	"POST /api/rules":                      Need(ScopeAdmin),
	"POST /api/rules/preview":              Need(ScopeAdmin),
	"GET /api/rules/{id}":                  Need(ScopeAdmin),
	"PUT /api/rules/{id}":                  Need(ScopeAdmin),
	"DELETE /api/rules/{id}":               Need(ScopeAdmin),
	"GET /api/rules/{id}/versions":         Need(ScopeAdmin),
	"GET /api/campaigns":                   Need(ScopeAdmin),
	"POST /api/campaigns":                  Need(ScopeAdmin),
	"GET /api/campaigns/model":             Need(ScopeAdmin),
	"GET /api/campaigns/slots":             Need(ScopeAdmin),
	"GET /api/campaigns/{id}":              Need(ScopeAdmin),
	"PUT /api/campaigns/{id}":              Need(ScopeAdmin),
	"DELETE /api/campaigns/{id}":           Need(ScopeAdmin),
	"GET /api/campaigns/{id}/report":       Need(ScopeAdmin),

	// operator only
	"GET /api/shops":           NeedOperator,
	"POST /api/shops":          NeedOperator,
	"PATCH /api/shops/{shop}":  NeedOperator,
	"DELETE /api/shops/{shop}": NeedOperator,
}

// needs finds the route of shop-relative requests (paths without the
// /api/shops/{shop} prefix) by the same rules as net/http.
type needs struct{ mux *http.ServeMux }

func newNeeds() needs {
	m := http.NewServeMux()
	for route := range routeNeeds {
		m.HandleFunc(route, func(http.ResponseWriter, *http.Request) {})
	}
	return needs{m}
}

// of returns what the request (its path relative to its shop) needs, and
// the pattern that matched ("" for none: admin then).
func (n needs) of(r *http.Request) (Need, string) {
	_, pattern := n.mux.Handler(r)
	if need, ok := routeNeeds[pattern]; ok {
		return need, pattern
	}
	if m, path, ok := strings.Cut(pattern, " "); ok && m == "GET" && r.Method == http.MethodHead {
		return routeNeeds["GET "+path], pattern
	}
	return Need(ScopeAdmin), ""
}

// RouteNeed is what a route (method and pattern as in openapi.json)
// needs; false when it is not listed (it then needs admin).
func RouteNeed(method, pattern string) (Need, bool) {
	n, ok := routeNeeds[method+" "+pattern]
	return n, ok
}

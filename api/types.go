package api

import (
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store"
)

// The answers of the API's routes, one named type per shape; openapi.json
// describes each as a schema of the same name, and a test validates real
// answers against it. Other answers are types of the engine (catalog.Item,
// catalog.User, engine.Counts, search.Result).

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error   string            `json:"error"`
	Details []catalog.Problem `json:"details,omitempty"`
}

// Status answers GET /api/health and GET /api/ready.
type Status struct {
	Status string `json:"status"` // ok, ready or starting
}

// Accepted answers the ingestion routes: how many records were stored.
type Accepted struct {
	Accepted int `json:"accepted"`
}

// Deleted answers DELETE of an item, a user or a suggestion: what was
// deleted (the id, or the query).
type Deleted struct {
	Deleted string `json:"deleted"`
}

// BlockedQueries is the answer of GET /api/suggest/blocked.
type BlockedQueries struct {
	Blocked []BlockedQuery `json:"blocked"`
}

// ItemPage is one page of GET /api/items.
type ItemPage struct {
	Items      []catalog.Item `json:"items"`
	NextCursor string         `json:"next_cursor"` // empty on the last page
}

// UserPage is one page of GET /api/users.
type UserPage struct {
	Users      []catalog.User `json:"users"`
	NextCursor string         `json:"next_cursor"` // empty on the last page
}

// UserEvents answers GET /api/users/{id}/events, newest first.
type UserEvents struct {
	UserID string         `json:"user_id"`
	Events []events.Event `json:"events"`
}

// UserRecs answers GET /api/recommend/{user_id}.
type UserRecs struct {
	UserID string           `json:"user_id"`
	Items  []recommend.Item `json:"items"`
	Model  string           `json:"model"` // NAME@VERSION of the ranking model, "" when none ranked
	Merch
	// Variant is the experiment variant that served the answer (absent
	// outside experiments).
	Variant string `json:"variant,omitempty"`
}

// SessionRecs answers POST /api/recommend/session.
type SessionRecs struct {
	Items []recommend.Item `json:"items"`
	Model string           `json:"model"`
	Merch
	// Variant is the experiment variant that served the answer (absent
	// outside experiments).
	Variant string `json:"variant,omitempty"`
}

// ItemRecs answers GET /api/items/{id}/similar and /bought-together.
type ItemRecs struct {
	ItemID string           `json:"item_id"`
	Items  []recommend.Item `json:"items"`
	Model  string           `json:"model"`
	Merch
	// Variant is the experiment variant that served the answer (absent
	// outside experiments).
	Variant string `json:"variant,omitempty"`
}

// PopularRecs answers GET /api/popular.
type PopularRecs struct {
	Items  []recommend.Item `json:"items"`
	Window string           `json:"window"` // as asked; "" is all time
	Merch
	// Variant is the experiment variant that served the answer (absent
	// outside experiments).
	Variant string `json:"variant,omitempty"`
}

// TrendingRecs answers GET /api/trending.
type TrendingRecs struct {
	Items []recommend.Item `json:"items"`
	// Variant is the experiment variant that served the answer (absent
	// outside experiments).
	Variant string `json:"variant,omitempty"`
	Merch
}

// Merch is what merchandising adds to an answer: the answer's request id
// (sent back on clicks: ad billing and attribution) and the ids of the
// merchandising rules applied to it.
type Merch struct {
	RequestID string   `json:"request_id,omitempty"`
	Rules     []string `json:"rules,omitempty"`
}

// SearchAnswer answers GET /api/search: the search result (search.Result)
// after merchandising rules and ads.
type SearchAnswer struct {
	Items  []search.Hit   `json:"items"`
	Total  int            `json:"total"`
	Facets *search.Facets `json:"facets,omitempty"`
	TookMS float64        `json:"took_ms"`
	Mode   search.Mode    `json:"mode"`
	Merch
	// Redirect, set by a rule, is where the shopper should go instead
	// (the answer then has no items).
	Redirect string `json:"redirect,omitempty"`
	// Query is the query run instead of the shopper's (a rule replaced it).
	Query string `json:"query,omitempty"`
	// Variant is the experiment variant that served the answer (absent
	// outside experiments).
	Variant string `json:"variant,omitempty"`
}

// Models answers GET /api/models.
type Models struct {
	Models []recommend.ModelInfo `json:"models"`
	// Training is the retrainer's state (absent when the server has none).
	Training *Training `json:"training,omitempty"`
}

// Training is the state of background retraining.
type Training struct {
	Running bool `json:"running"`
	// LastRun, LastResults and LastError describe the last completed run
	// (absent before the first).
	LastRun     *time.Time        `json:"last_run,omitempty"`
	LastResults []pipeline.Result `json:"last_results,omitempty"`
	LastError   string            `json:"last_error,omitempty"`
}

// Rollback answers POST /api/models/{name}/rollback: the version now serving.
type Rollback struct {
	Serving store.ModelMeta `json:"serving"`
}

// RetrainStarted answers POST /api/models/retrain.
type RetrainStarted struct {
	Status string `json:"status"` // started
	See    string `json:"see"`    // where to follow the run
	// Replica is, in a cluster, the replica that runs the training (the
	// holder of the training lease) when it is not the one asked.
	Replica string `json:"replica,omitempty"`
}

// Suggestions answers GET /api/suggest.
type Suggestions struct {
	Suggestions []search.Suggestion `json:"suggestions"`
}

// UserRow answers the per-user rows GET /api/recommend/{user_id}/buy-again,
// /recently-viewed and /new-arrivals.
type UserRow struct {
	UserID string           `json:"user_id"`
	Items  []recommend.Item `json:"items"`
	Merch
}

// AnchoredRows answers GET /api/recommend/{user_id}/because-you-viewed:
// one row per recently viewed anchor, newest first, and Items, the rows
// interleaved (n at most).
type AnchoredRows struct {
	UserID string                     `json:"user_id"`
	Items  []recommend.Item           `json:"items"`
	Rows   []recommend.AnchoredAnswer `json:"rows"`
	Merch
}

// BasketRecs answers POST /api/recommend/basket.
type BasketRecs struct {
	Items []recommend.Item `json:"items"`
	Merch
}

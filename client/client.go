// Package client calls a running Aisle server over its REST API, with the
// same request and answer types the server uses (package api, catalog,
// events, search), so a Go program gets typed answers and typed errors.
//
//	c, err := client.New("http://127.0.0.1:8080", client.WithKey(key))
//	recs, err := c.Recommend(ctx, "u21", client.Query{N: 5})
//	for _, it := range recs.Items { fmt.Println(it.ID, it.Score) }
//
// Every method takes a context, sends one request and returns an *Error
// for an error answer of the server (with its status, message, details
// and Retry-After).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/search"
)

// Client calls one Aisle server. It is safe for concurrent use.
type Client struct {
	base *url.URL
	key  string
	hc   *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithKey sends key as "Authorization: Bearer KEY" (the read key for
// reads, the admin key for writes).
func WithKey(key string) Option { return func(c *Client) { c.key = key } }

// WithHTTPClient uses hc (default: a client with a 30 s timeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// New returns a client of the server at baseURL ("http://127.0.0.1:8080").
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host[:port]", baseURL)
	}
	c := &Client{base: u, hc: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Error is an error answer of the server.
type Error struct {
	Status     int               // HTTP status
	Message    string            // what was wrong, as the server says it
	Details    []catalog.Problem // for rejected batches: which record, which field
	RetryAfter time.Duration     // with 503 and 429: when to try again
}

func (e *Error) Error() string {
	return fmt.Sprintf("aisle: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// do sends one request; body, when not nil, is sent as JSON; the answer
// is decoded into out when it is not nil.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("client: encode the request to %s: %w", path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("client: read the answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		e := &Error{Status: resp.StatusCode}
		var eb api.ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			e.Message, e.Details = eb.Error, eb.Details
		} else {
			e.Message = strings.TrimSpace(string(data))
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("client: decode the answer of %s %s: %w", method, path, err)
	}
	return nil
}

// Get sends GET pathAndQuery ("/api/popular?n=5") and decodes the JSON
// answer into out when out is not nil: for routes without a typed method,
// and for load generators that request a route template.
func (c *Client) Get(ctx context.Context, pathAndQuery string, out any) error {
	path, rawQuery, _ := strings.Cut(pathAndQuery, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return fmt.Errorf("client: query of %s: %w", pathAndQuery, err)
	}
	return c.do(ctx, "GET", path, q, nil, out)
}

// Ready reports whether the server has loaded its data and answers.
func (c *Client) Ready(ctx context.Context) (bool, error) {
	err := c.do(ctx, "GET", "/api/ready", nil, nil, nil)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusServiceUnavailable {
		return false, nil
	}
	return err == nil, err
}

// Stats counts the items, users and events.
func (c *Client) Stats(ctx context.Context) (engine.Counts, error) {
	var out engine.Counts
	return out, c.do(ctx, "GET", "/api/stats", nil, nil, &out)
}

// AddItems stores items (all or none; Go callers set Available). It
// returns how many were stored.
func (c *Client) AddItems(ctx context.Context, items ...catalog.Item) (int, error) {
	var out api.Accepted
	return out.Accepted, c.do(ctx, "POST", "/api/items", nil, items, &out)
}

// AddUsers stores users (all or none).
func (c *Client) AddUsers(ctx context.Context, users ...catalog.User) (int, error) {
	var out api.Accepted
	return out.Accepted, c.do(ctx, "POST", "/api/users", nil, users, &out)
}

// AddEvents stores events (all or none); a zero Timestamp is now.
func (c *Client) AddEvents(ctx context.Context, evs ...events.Event) (int, error) {
	var out api.Accepted
	return out.Accepted, c.do(ctx, "POST", "/api/events", nil, evs, &out)
}

// Item returns one item (IsNotFound(err) when there is none).
func (c *Client) Item(ctx context.Context, id string) (catalog.Item, error) {
	var out catalog.Item
	return out, c.do(ctx, "GET", "/api/items/"+url.PathEscape(id), nil, nil, &out)
}

// PatchItem applies a JSON merge patch (e.g. map[string]any{"price": 6.9})
// and returns the item as stored.
func (c *Client) PatchItem(ctx context.Context, id string, patch any) (catalog.Item, error) {
	var out catalog.Item
	return out, c.do(ctx, "PATCH", "/api/items/"+url.PathEscape(id), nil, patch, &out)
}

// DeleteItem removes an item from every answer.
func (c *Client) DeleteItem(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/api/items/"+url.PathEscape(id), nil, nil, nil)
}

// Items returns a page of items in id order; pass the page's NextCursor
// for the next one ("" when it was the last).
func (c *Client) Items(ctx context.Context, cursor string, limit int) (api.ItemPage, error) {
	var out api.ItemPage
	return out, c.do(ctx, "GET", "/api/items", page(cursor, limit), nil, &out)
}

// User returns one user.
func (c *Client) User(ctx context.Context, id string) (catalog.User, error) {
	var out catalog.User
	return out, c.do(ctx, "GET", "/api/users/"+url.PathEscape(id), nil, nil, &out)
}

// DeleteUser forgets a user and all their events.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/api/users/"+url.PathEscape(id), nil, nil, nil)
}

// Users returns a page of users in id order.
func (c *Client) Users(ctx context.Context, cursor string, limit int) (api.UserPage, error) {
	var out api.UserPage
	return out, c.do(ctx, "GET", "/api/users", page(cursor, limit), nil, &out)
}

// UserEvents returns a user's newest events (limit 0: the server's default).
func (c *Client) UserEvents(ctx context.Context, id string, limit int) (api.UserEvents, error) {
	var out api.UserEvents
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return out, c.do(ctx, "GET", "/api/users/"+url.PathEscape(id)+"/events", q, nil, &out)
}

func page(cursor string, limit int) url.Values {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

// Query holds the options every recommendation route takes; zero values
// are left to the server's defaults.
type Query struct {
	N             int      // how many items (server default 10, at most 200)
	Categories    []string // category path prefixes
	Brands        []string
	MinPrice      *float64
	MaxPrice      *float64
	Exclude       []string // item ids never to answer
	AvailableOnly *bool    // default true
	Diversity     float64  // 0..1
}

func (q Query) values() url.Values {
	v := url.Values{}
	if q.N > 0 {
		v.Set("n", strconv.Itoa(q.N))
	}
	for _, c := range q.Categories {
		v.Add("category", c)
	}
	for _, b := range q.Brands {
		v.Add("brand", b)
	}
	for _, e := range q.Exclude {
		v.Add("exclude", e)
	}
	if q.MinPrice != nil {
		v.Set("min_price", strconv.FormatFloat(*q.MinPrice, 'g', -1, 64))
	}
	if q.MaxPrice != nil {
		v.Set("max_price", strconv.FormatFloat(*q.MaxPrice, 'g', -1, 64))
	}
	if q.AvailableOnly != nil {
		v.Set("available_only", strconv.FormatBool(*q.AvailableOnly))
	}
	if q.Diversity > 0 {
		v.Set("diversity", strconv.FormatFloat(q.Diversity, 'g', -1, 64))
	}
	return v
}

// Recommend returns what user should see next.
func (c *Client) Recommend(ctx context.Context, user string, q Query) (api.UserRecs, error) {
	var out api.UserRecs
	return out, c.do(ctx, "GET", "/api/recommend/"+url.PathEscape(user), q.values(), nil, &out)
}

// Session recommends for an anonymous list of items (a basket, a visit).
func (c *Client) Session(ctx context.Context, items []string, q Query) (api.SessionRecs, error) {
	var out api.SessionRecs
	body := struct {
		Items []string `json:"items"`
	}{append([]string{}, items...)}
	return out, c.do(ctx, "POST", "/api/recommend/session", q.values(), body, &out)
}

// Similar returns items similar to item id.
func (c *Client) Similar(ctx context.Context, id string, q Query) (api.ItemRecs, error) {
	var out api.ItemRecs
	return out, c.do(ctx, "GET", "/api/items/"+url.PathEscape(id)+"/similar", q.values(), nil, &out)
}

// BoughtTogether returns items bought in the same basket as item id.
func (c *Client) BoughtTogether(ctx context.Context, id string, q Query) (api.ItemRecs, error) {
	var out api.ItemRecs
	return out, c.do(ctx, "GET", "/api/items/"+url.PathEscape(id)+"/bought-together", q.values(), nil, &out)
}

// Popular returns the most popular items over window ("7d", "24h"; ""
// is all time).
func (c *Client) Popular(ctx context.Context, window string, q Query) (api.PopularRecs, error) {
	var out api.PopularRecs
	v := q.values()
	if window != "" {
		v.Set("window", window)
	}
	return out, c.do(ctx, "GET", "/api/popular", v, nil, &out)
}

// Trending returns the items growing fastest.
func (c *Client) Trending(ctx context.Context, q Query) (api.TrendingRecs, error) {
	var out api.TrendingRecs
	return out, c.do(ctx, "GET", "/api/trending", q.values(), nil, &out)
}

// Models lists the model versions and the state of retraining.
func (c *Client) Models(ctx context.Context) (api.Models, error) {
	var out api.Models
	return out, c.do(ctx, "GET", "/api/models", nil, nil, &out)
}

// Rollback serves the previous version of model name.
func (c *Client) Rollback(ctx context.Context, name string) (api.Rollback, error) {
	var out api.Rollback
	return out, c.do(ctx, "POST", "/api/models/"+url.PathEscape(name)+"/rollback", nil, nil, &out)
}

// Retrain starts a retraining run in the background (see Models).
func (c *Client) Retrain(ctx context.Context) error {
	return c.do(ctx, "POST", "/api/models/retrain", nil, nil, nil)
}

// SearchQuery is a product search; zero values are the server's defaults.
type SearchQuery struct {
	Q         string
	UserID    string // personalises ranking and logs the search
	SessionID string // ties later clicks to this search
	N, Offset int
	Categories,
	Brands []string
	MinPrice, MaxPrice *float64
	Sort               string   // relevance, price_asc, price_desc, newest
	Facets             []string // category, brand, price
	Mode               string   // keyword, semantic, hybrid, ltr
}

// Search runs a product search.
func (c *Client) Search(ctx context.Context, s SearchQuery) (*search.Result, error) {
	v := Query{N: s.N, Categories: s.Categories, Brands: s.Brands, MinPrice: s.MinPrice, MaxPrice: s.MaxPrice}.values()
	v.Set("q", s.Q)
	for k, x := range map[string]string{"user_id": s.UserID, "session_id": s.SessionID, "sort": s.Sort, "mode": s.Mode, "facets": strings.Join(s.Facets, ",")} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if s.Offset > 0 {
		v.Set("offset", strconv.Itoa(s.Offset))
	}
	var out search.Result
	return &out, c.do(ctx, "GET", "/api/search", v, nil, &out)
}

// Suggest completes a search being typed.
func (c *Client) Suggest(ctx context.Context, prefix string, n int) (api.Suggestions, error) {
	v := url.Values{"q": {prefix}}
	if n > 0 {
		v.Set("n", strconv.Itoa(n))
	}
	var out api.Suggestions
	return out, c.do(ctx, "GET", "/api/suggest", v, nil, &out)
}

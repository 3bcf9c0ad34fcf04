// Package catalog holds the shop's products and users: their types, the rules
// that make one valid, and the decoders that read them from outside input
// (JSON, JSON Lines and CSV).
package catalog

import (
	"time"
)

// Item is one product in the shop's catalogue.
type Item struct {
	ID          string         `json:"id"`
	Title       string         `json:"title,omitempty"`
	Description string         `json:"description,omitempty"`
	Brand       string         `json:"brand,omitempty"`
	Categories  []string       `json:"categories,omitempty"` // hierarchical paths such as "Office/Paper/Notebooks"
	Price       *float64       `json:"price,omitempty"`
	Attributes  map[string]any `json:"attributes,omitempty"` // values are strings or float64
	ImageURL    string         `json:"image_url,omitempty"`
	Available   bool           `json:"available"` // JSON input defaults to true; Go callers set it
	CreatedAt   time.Time      `json:"created_at"`
}

// User is one shopper. Users are also created implicitly by their first event.
type User struct {
	ID         string         `json:"id"`
	Attributes map[string]any `json:"attributes,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
}

// HasCategoryPrefix reports whether one of the item's category paths starts
// with prefix at a path boundary ("Office/Paper" matches "Office/Paper/Notebooks"
// but not "Office/Papers").
func (it *Item) HasCategoryPrefix(prefix string) bool {
	for _, c := range it.Categories {
		if c == prefix || (len(c) > len(prefix) && c[:len(prefix)] == prefix && c[len(prefix)] == '/') {
			return true
		}
	}
	return false
}

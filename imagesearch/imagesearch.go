// Package imagesearch finds products by how they look: every item with an
// image_url gets an image vector from an image embedder (any
// OpenAI-compatible embeddings endpoint serving a CLIP-style model, which
// takes image URLs or data: URIs as its input strings, through
// embed/openai with the same batching, retries and caching as text), and
// a query image (a URL, or uploaded bytes sent as a data: URI) is matched
// against them by cosine similarity, exactly (a scan: fine to ~200k
// items). It also gives the visually similar items of an item.
package imagesearch

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/events"
)

// ItemLister pages through the catalogue (engine.Engine.ListItems).
type ItemLister func(ctx context.Context, cursor string, limit int) ([]catalog.Item, string, error)

// Hit is one item found by image.
type Hit struct {
	ID       string  `json:"id"`
	Title    string  `json:"title"`
	ImageURL string  `json:"image_url"`
	Score    float64 `json:"score"` // cosine similarity
}

type entry struct {
	title, url string
	vec        []float32
}

// Index holds the image vectors of the catalogue's items. It follows the
// catalogue as an engine listener once built. Safe for concurrent use.
type Index struct {
	emb embed.Embedder
	log *slog.Logger

	mu      sync.RWMutex
	items   map[string]*entry
	pending map[string]catalog.Item // changed before or while building
	// sum is the sum of the item vectors of length len(sum) (the first
	// vector's), kept so that an item's mean cosine to all the others is
	// one dot product (Closeness); summed counts them
	sum    []float64
	summed int
	built  bool
	failed int
}

// New returns an empty index over an image embedder.
func New(emb embed.Embedder, log *slog.Logger) *Index {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Index{emb: emb, log: log, items: map[string]*entry{}, pending: map[string]catalog.Item{}}
}

// batch is how many images one Build step embeds.
const batch = 64

// Build embeds the images of every item (list pages the catalogue), then
// the items changed meanwhile. Items whose image the embedder refuses are
// logged, counted and skipped.
func (ix *Index) Build(ctx context.Context, list ItemLister) error {
	cursor := ""
	for {
		page, next, err := list(ctx, cursor, 1000)
		if err != nil {
			return fmt.Errorf("imagesearch: read the catalogue: %w", err)
		}
		if err := ix.add(ctx, page); err != nil {
			return err
		}
		if next == "" || len(page) == 0 {
			break
		}
		cursor = next
	}
	for {
		ix.mu.Lock()
		var todo []catalog.Item
		for _, it := range ix.pending {
			todo = append(todo, it)
		}
		clear(ix.pending)
		if len(todo) == 0 {
			ix.built = true
			ix.mu.Unlock()
			ix.log.Info("image index built", "items", ix.Len(), "refused", ix.failed)
			return nil
		}
		ix.mu.Unlock()
		if err := ix.add(ctx, todo); err != nil {
			return err
		}
	}
}

// add embeds the images of items (those without one are dropped).
func (ix *Index) add(ctx context.Context, items []catalog.Item) error {
	var its []catalog.Item
	for _, it := range items {
		if it.ImageURL != "" {
			its = append(its, it)
		} else {
			ix.mu.Lock()
			ix.remove(it.ID)
			ix.mu.Unlock()
		}
	}
	for start := 0; start < len(its); start += batch {
		part := its[start:min(start+batch, len(its))]
		urls := make([]string, len(part))
		for i, it := range part {
			urls[i] = it.ImageURL
		}
		vecs, err := ix.emb.Embed(ctx, urls)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			ix.log.Warn("the image embedder refused a batch; those items have no image vector", "items", len(part), "error", err)
			ix.mu.Lock()
			ix.failed += len(part)
			ix.mu.Unlock()
			continue
		}
		ix.mu.Lock()
		for i, it := range part {
			if i < len(vecs) && len(vecs[i]) > 0 {
				v := append([]float32(nil), vecs[i]...)
				embed.Normalize(v)
				ix.remove(it.ID)
				ix.items[it.ID] = &entry{title: it.Title, url: it.ImageURL, vec: v}
				ix.addSum(v, 1)
			}
		}
		ix.mu.Unlock()
	}
	return nil
}

// remove drops id's vector. Caller holds the write lock.
func (ix *Index) remove(id string) {
	if e, ok := ix.items[id]; ok {
		ix.addSum(e.vec, -1)
		delete(ix.items, id)
	}
}

// addSum adds sign·v to the sum of vectors. Caller holds the write lock.
func (ix *Index) addSum(v []float32, sign int) {
	if ix.sum == nil && sign > 0 {
		ix.sum = make([]float64, len(v))
	}
	if len(v) != len(ix.sum) {
		return // another model's vector: not comparable, left out
	}
	for k, x := range v {
		ix.sum[k] += float64(sign) * float64(x)
	}
	ix.summed += sign
	if ix.summed == 0 {
		ix.sum = nil // start afresh (and drop rounding residue)
	}
}

// Len is the number of items with an image vector.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.items)
}

// Built reports whether the first build finished.
func (ix *Index) Built() bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.built
}

// ItemsUpserted implements engine.Listener: changed items are embedded
// (in the caller's goroutine after the build: the engine's listeners run
// after a write, so an upsert waits for the embedder; before the build
// they wait for it).
func (ix *Index) ItemsUpserted(items []catalog.Item) {
	ix.mu.Lock()
	if !ix.built {
		for _, it := range items {
			ix.pending[it.ID] = it
		}
		ix.mu.Unlock()
		return
	}
	ix.mu.Unlock()
	go func() {
		if err := ix.add(context.Background(), items); err != nil {
			ix.log.Warn("embedding changed item images failed", "error", err)
		}
	}()
}

// ItemsDeleted implements engine.Listener.
func (ix *Index) ItemsDeleted(ids []string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, id := range ids {
		ix.remove(id)
		delete(ix.pending, id)
	}
}

// EventsAppended implements engine.Listener.
func (ix *Index) EventsAppended([]events.Event) {}

// UserDeleted implements engine.Listener.
func (ix *Index) UserDeleted(string) {}

// ErrNotBuilt is returned while the first build runs.
var ErrNotBuilt = errors.New("the image index is still being built")

// ErrNoImage is returned for an item without an image vector.
var ErrNoImage = errors.New("the item has no image vector")

// MaxImageBytes is the largest uploaded image accepted.
const MaxImageBytes = 8 << 20

// DataURI encodes uploaded image bytes as the embedder's input string.
func DataURI(contentType string, b []byte) string {
	if contentType == "" || !strings.HasPrefix(contentType, "image/") {
		contentType = "image/jpeg"
	}
	return "data:" + contentType + ";base64," + base64.StdEncoding.EncodeToString(b)
}

// Search returns the n items whose images are closest to the query image
// (a URL or a data: URI).
func (ix *Index) Search(ctx context.Context, image string, n int) ([]Hit, error) {
	if !ix.Built() {
		return nil, ErrNotBuilt
	}
	vecs, err := ix.emb.Embed(ctx, []string{image})
	if err != nil {
		return nil, fmt.Errorf("imagesearch: embed the query image: %w", err)
	}
	if len(vecs) != 1 {
		return nil, fmt.Errorf("imagesearch: the embedder returned %d vectors for one image", len(vecs))
	}
	q := append([]float32(nil), vecs[0]...)
	embed.Normalize(q)
	return ix.nearest(q, n, ""), nil
}

// Similar returns the n items whose images are closest to item id's.
func (ix *Index) Similar(id string, n int) ([]Hit, error) {
	if !ix.Built() {
		return nil, ErrNotBuilt
	}
	ix.mu.RLock()
	e, ok := ix.items[id]
	ix.mu.RUnlock()
	if !ok {
		return nil, ErrNoImage
	}
	return ix.nearest(e.vec, n, id), nil
}

func (ix *Index) nearest(q []float32, n int, skip string) []Hit {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	hits := make([]Hit, 0, len(ix.items))
	for id, e := range ix.items {
		if id == skip || len(e.vec) != len(q) {
			continue
		}
		hits = append(hits, Hit{ID: id, Title: e.title, ImageURL: e.url, Score: float64(embed.Dot(q, e.vec))})
	}
	sort.Slice(hits, func(i, j int) bool {
		return hits[i].Score > hits[j].Score || (hits[i].Score == hits[j].Score && hits[i].ID < hits[j].ID)
	})
	return hits[:min(n, len(hits))]
}

// VisualNeighbours returns up to n items whose images are closest to item
// id's, scored in [0, 1] by how much closer than usual they are:
// (cos − m) / (1 − m), where m is the mean cosine of id's image to every
// other image (a CLIP-style model puts unrelated product photos at a
// cosine well above 0, so the raw cosine would call everything similar).
// An identical image scores 1; one no closer than the average, 0 (left
// out). Nil when id has no image vector or the index is not built: it is
// recommend.ImageNeighbours, the image signal of similar items.
func (ix *Index) VisualNeighbours(id string, n int) map[string]float64 {
	if !ix.Built() || n <= 0 {
		return nil
	}
	ix.mu.RLock()
	e, ok := ix.items[id]
	ix.mu.RUnlock()
	if !ok {
		return nil
	}
	hits := ix.nearest(e.vec, math.MaxInt, id)
	if len(hits) == 0 {
		return nil
	}
	var sum float64
	for _, h := range hits {
		sum += h.Score
	}
	m := sum / float64(len(hits))
	if m >= 1 {
		return nil // every image is the same: no signal
	}
	out := make(map[string]float64, min(n, len(hits)))
	for _, h := range hits[:min(n, len(hits))] {
		if v := (h.Score - m) / (1 - m); v > 0 {
			out[h.ID] = min(v, 1)
		}
	}
	return out
}

// ImageCloseness returns, for each of ids, how much closer than usual its
// image is to the closest of the anchors' images: the largest, over the
// anchors other than itself, of (cos − m) / (1 − m), m the anchor's mean
// cosine to every other image (as VisualNeighbours), clamped to [0, 1].
// ok[i] is false when ids[i] has no image vector or no other anchor has
// one (closeness 0); both are nil when no anchor has an image vector or
// the first build has not finished. It
// is search.ImageCloseness, the image feature of the learned search
// ranker; it costs one dot product per anchor and candidate (the mean
// cosine comes from the kept sum of all vectors, not a scan).
func (ix *Index) ImageCloseness(anchors, ids []string) (closeness []float32, ok []bool) {
	if len(anchors) == 0 || len(ids) == 0 {
		return nil, nil
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.built {
		return nil, nil // the mean cosines of a partial index would drift
	}
	type anchor struct {
		id  string
		vec []float32
		m   float64
	}
	var as []anchor
	for _, id := range anchors {
		e, found := ix.items[id]
		if !found || len(e.vec) != len(ix.sum) || ix.summed < 2 || slices.ContainsFunc(as, func(a anchor) bool { return a.id == id }) {
			continue
		}
		var s float64
		for k, x := range e.vec {
			s += float64(x) * ix.sum[k]
		}
		m := (s - float64(embed.Dot(e.vec, e.vec))) / float64(ix.summed-1)
		if m >= 1 {
			continue // every image is the same: no signal
		}
		as = append(as, anchor{id, e.vec, m})
	}
	if len(as) == 0 {
		return nil, nil
	}
	closeness, ok = make([]float32, len(ids)), make([]bool, len(ids))
	for i, id := range ids {
		e, found := ix.items[id]
		if !found || len(e.vec) != len(ix.sum) {
			continue
		}
		best := 0.0
		for _, a := range as {
			if a.id == id {
				continue
			}
			ok[i] = true
			best = max(best, (float64(embed.Dot(a.vec, e.vec))-a.m)/(1-a.m))
		}
		closeness[i] = float32(min(best, 1))
	}
	return closeness, ok
}

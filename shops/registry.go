package shops

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultID is the id of the default shop: the data directory itself,
// served by the routes without a /api/shops/{shop} prefix.
const DefaultID = "default"

// idPattern is the alphabet of shop ids: lower-case ASCII letters, digits
// and hyphens, starting with a letter or digit, at most 32 characters.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// ValidID reports whether id may name a shop (see idPattern); the error
// says what is allowed.
func ValidID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("shop id %q: use 1 to 32 lower-case letters, digits and hyphens, starting with a letter or digit", id)
	}
	return nil
}

// Settings are a shop's own limits and browser origins; zero values mean
// "no limit" (or none allowed, for origins).
type Settings struct {
	// Name is a display name for the dashboard.
	Name string `json:"name,omitempty"`
	// RateLimit is the requests per second the whole shop may receive
	// (0: unlimited); RateBurst how many may come at once (0: RateLimit
	// rounded up). Over it the answer is 429 with Retry-After.
	RateLimit float64 `json:"rate_limit,omitempty"`
	RateBurst int     `json:"rate_burst,omitempty"`
	// MaxEvents bounds the events the shop may store (0: unlimited);
	// ingesting beyond it is answered 507.
	MaxEvents int64 `json:"max_events,omitempty"`
	// AllowedOrigins are the browser origins (scheme://host[:port]) that
	// may call the shop's public routes across origins (CORS).
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// Config holds the shop's own values of configuration keys, by their
	// dotted names ("events.weights", "training.models",
	// "search.synonyms"): they replace the deployment's for this shop only
	// (keys of the events, training, recommend and search sections; see
	// ConfigKeys and ApplyConfig). A change reloads the shop.
	Config map[string]any `json:"config,omitempty"`
}

// clone copies the settings' slices and maps, so that decoding a change
// into the copy leaves the original as it was.
func (s Settings) clone() Settings {
	s.AllowedOrigins = slices.Clone(s.AllowedOrigins)
	s.Config = maps.Clone(s.Config)
	return s
}

// Validate checks the settings' ranges.
func (s Settings) Validate() error {
	if s.RateLimit < 0 || s.RateBurst < 0 || s.MaxEvents < 0 {
		return errors.New("rate_limit, rate_burst and max_events must be ≥ 0 (0: unlimited)")
	}
	for _, o := range s.AllowedOrigins {
		if o != "*" && !(strings.HasPrefix(o, "http://") || strings.HasPrefix(o, "https://")) || strings.HasSuffix(o, "/") {
			return fmt.Errorf("allowed origin %q: give scheme://host[:port] without a path, e.g. https://shop.example", o)
		}
	}
	for k, v := range s.Config {
		// the values are checked against the deployment's configuration
		// by the Host (ApplyConfig); here only what any deployment refuses
		if err := checkKey(k); err != nil {
			return err
		}
		if _, err := configText(v); err != nil {
			return fmt.Errorf("config %s: %w", k, err)
		}
	}
	return nil
}

// Shop is a registered shop.
type Shop struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	Settings Settings  `json:"settings"`
}

// Scope is what a key may do.
type Scope string

// The scopes of keys, from least to most.
const (
	// ScopePublic: recommendations, search, suggestions and item reads;
	// safe to embed in a web page.
	ScopePublic Scope = "public"
	// ScopeRead: also users, their events, models and statistics.
	ScopeRead Scope = "read"
	// ScopeWrite: ingest items, users and events.
	ScopeWrite Scope = "write"
	// ScopeAdmin: everything of the shop (models, deletions, keys).
	ScopeAdmin Scope = "admin"
)

var allScopes = []Scope{ScopePublic, ScopeRead, ScopeWrite, ScopeAdmin}

// Key is a stored API key: its secret is not stored, only its SHA-256.
type Key struct {
	ID      string    `json:"id"`
	Shop    string    `json:"shop"`
	Scopes  []Scope   `json:"scopes"`
	Created time.Time `json:"created"`
	Hash    string    `json:"hash,omitempty"` // hex SHA-256 of the secret
}

// Allows reports whether the key's scopes open a route that needs need.
// admin opens everything; read also opens public routes; write opens
// only ingestion.
func (k *Key) Allows(need Scope) bool {
	for _, s := range k.Scopes {
		if s == need || s == ScopeAdmin || (s == ScopeRead && need == ScopePublic) {
			return true
		}
	}
	return false
}

// keyPrefix starts every shop key, so the router tells them from the
// operator keys (--admin-key, --read-key) without a lookup.
const keyPrefix = "aisle_sk_"

var (
	bucketShops = []byte("shops")
	bucketKeys  = []byte("keys")
	// bucketDeleting holds the ids of deleted shops whose data is not yet
	// all removed (files, rows of a shared store): a crash in between
	// leaves the mark, and the next start finishes the removal.
	bucketDeleting = []byte("deleting")
)

// ErrNotFound is returned for a shop or key that does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned when creating a shop whose id is taken.
var ErrExists = errors.New("already exists")

// Registry is the durable list of shops and their keys: in one bbolt
// file (OpenRegistry, the embedded mode) or in PostgreSQL tables shared by
// every replica of a cluster (OpenPostgresRegistry). Reads are served from
// memory; every change is written through before it is visible, so a
// revoked key is refused at once. On PostgreSQL the other replicas learn
// of a change from the change feed (Follow).
type Registry struct {
	be backend

	mu    sync.RWMutex
	shops map[string]Shop
	keys  map[string]Key

	feed feedState // PostgreSQL only: following the change feed
}

// backend is where a Registry keeps its shops and keys. Each method is one
// durable change (or read); the Registry serialises the changes.
type backend interface {
	load(ctx context.Context) ([]Shop, []Key, error)
	// create stores a new shop: ErrExists when the id is taken, an error
	// naming the pending removal when the id is marked deleting
	create(sh Shop) error
	// put stores a shop's new settings (ErrNotFound unless it exists,
	// except for the default shop, which is always there)
	put(sh Shop) error
	// remove deletes a shop and its keys (those known in memory are
	// given) and marks it deleting; it returns how many keys went
	remove(id string, keys []string) (int, error)
	deleting() ([]string, error)
	removed(id string) error
	putKey(k Key) error
	revoke(shop, id string) error
	rotate(shop, old string, k Key) error
	close() error
}

// OpenRegistry opens (creating if needed) the registry file at path.
func OpenRegistry(path string) (*Registry, error) {
	be, err := openBoltBackend(path)
	if err != nil {
		return nil, err
	}
	r, err := newRegistry(context.Background(), be)
	if err != nil {
		be.close()
		return nil, fmt.Errorf("read shop registry %s: %w", path, err)
	}
	return r, nil
}

func newRegistry(ctx context.Context, be backend) (*Registry, error) {
	r := &Registry{be: be, shops: map[string]Shop{}, keys: map[string]Key{}}
	shops, keys, err := be.load(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range shops {
		r.shops[s.ID] = s
	}
	for _, k := range keys {
		r.keys[k.ID] = k
	}
	return r, nil
}

// Close stops following the feed and closes the file (a PostgreSQL
// registry leaves its pool to its owner).
func (r *Registry) Close() error {
	r.stopFollowing()
	return r.be.close()
}

// Create registers a new shop.
func (r *Registry) Create(id string, s Settings, now time.Time) (Shop, error) {
	if err := ValidID(id); err != nil {
		return Shop{}, err
	}
	if err := s.Validate(); err != nil {
		return Shop{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.shops[id]; ok || id == DefaultID {
		return Shop{}, fmt.Errorf("shop %q %w", id, ErrExists)
	}
	sh := Shop{ID: id, Created: now.UTC(), Settings: s}
	if err := r.be.create(sh); err != nil {
		return Shop{}, err
	}
	r.shops[id] = sh
	return sh, nil
}

// errDeletingID is Create's error for an id whose deletion is not finished.
func errDeletingID(id string) error {
	return fmt.Errorf("shop %q was deleted and its data is not all removed yet (the server removes it when it starts, or when the id is created through POST /api/shops)", id)
}

// SetDefault stores the default shop's settings (it is always there).
func (r *Registry) SetDefault(s Settings) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sh, ok := r.shops[DefaultID]
	if !ok {
		sh = Shop{ID: DefaultID, Created: time.Now().UTC()}
	}
	sh.Settings = s
	if err := r.be.put(sh); err != nil {
		return err
	}
	r.shops[DefaultID] = sh
	return nil
}

// Get returns a shop (the default shop is always there).
func (r *Registry) Get(id string) (Shop, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	sh, ok := r.shops[id]
	if !ok && id == DefaultID {
		return Shop{ID: DefaultID}, true
	}
	return sh, ok
}

// List returns the shops by id, the default shop first.
func (r *Registry) List() []Shop {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := []Shop{}
	if _, ok := r.shops[DefaultID]; !ok {
		out = append(out, Shop{ID: DefaultID})
	}
	for _, s := range r.shops {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].ID == DefaultID) != (out[j].ID == DefaultID) {
			return out[i].ID == DefaultID
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Update replaces a shop's settings.
func (r *Registry) Update(id string, s Settings) (Shop, error) {
	if err := s.Validate(); err != nil {
		return Shop{}, err
	}
	if id == DefaultID {
		if err := r.SetDefault(s); err != nil {
			return Shop{}, err
		}
		sh, _ := r.Get(id)
		return sh, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sh, ok := r.shops[id]
	if !ok {
		return Shop{}, fmt.Errorf("shop %q %w", id, ErrNotFound)
	}
	sh.Settings = s
	if err := r.be.put(sh); err != nil {
		return Shop{}, err
	}
	r.shops[id] = sh
	return sh, nil
}

// Delete removes a shop and all its keys in one transaction; it reports
// how many keys went.
func (r *Registry) Delete(id string) (keys int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.shops[id]; !ok {
		return 0, fmt.Errorf("shop %q %w", id, ErrNotFound)
	}
	var gone []string
	for kid, k := range r.keys {
		if k.Shop == id {
			gone = append(gone, kid)
		}
	}
	n, err := r.be.remove(id, gone)
	if err != nil {
		return 0, fmt.Errorf("delete shop %q from the registry: %w", id, err)
	}
	delete(r.shops, id)
	for _, kid := range gone {
		delete(r.keys, kid)
	}
	return n, nil
}

// Deleting lists the shops deleted from the registry whose data may not
// all be removed yet (see Removed).
func (r *Registry) Deleting() ([]string, error) { return r.be.deleting() }

// Removed records that all the data of a deleted shop is gone.
func (r *Registry) Removed(id string) error { return r.be.removed(id) }

// NewKey creates a key of shop with scopes and returns it with its
// secret, which is not stored and cannot be shown again.
func (r *Registry) NewKey(shop string, scopes []Scope, now time.Time) (Key, string, error) {
	if len(scopes) == 0 {
		return Key{}, "", errors.New(`give the key's scopes, e.g. {"scopes":["read","write"]} (public, read, write, admin)`)
	}
	var clean []Scope
	for _, s := range scopes {
		if !slices.Contains(allScopes, s) {
			return Key{}, "", fmt.Errorf("unknown scope %q: use public, read, write or admin", s)
		}
		if !slices.Contains(clean, s) {
			clean = append(clean, s)
		}
	}
	k, secret := newKey(shop, clean, now)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.shops[shop]; !ok && shop != DefaultID {
		return Key{}, "", fmt.Errorf("shop %q %w", shop, ErrNotFound)
	}
	if err := r.be.putKey(k); err != nil {
		return Key{}, "", err
	}
	r.keys[k.ID] = k
	return k, secret, nil
}

// Keys lists a shop's keys (without hashes), oldest first.
func (r *Registry) Keys(shop string) []Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := []Key{}
	for _, k := range r.keys {
		if k.Shop == shop {
			k.Hash = ""
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Rotate replaces a key of shop by a new one with the same scopes, in one
// write: the old secret stops working at once, the new one (returned, not
// stored) works from then on.
func (r *Registry) Rotate(shop, id string, now time.Time) (Key, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.keys[id]
	if !ok || old.Shop != shop {
		return Key{}, "", fmt.Errorf("key %q of shop %q %w", id, shop, ErrNotFound)
	}
	k, secret := newKey(shop, old.Scopes, now)
	if err := r.be.rotate(shop, id, k); err != nil {
		return Key{}, "", fmt.Errorf("rotate key %q: %w", id, err)
	}
	delete(r.keys, id)
	r.keys[k.ID] = k
	k.Hash = ""
	return k, secret, nil
}

// newKey makes a key of shop with a random id and secret.
func newKey(shop string, scopes []Scope, now time.Time) (Key, string) {
	var idb [6]byte
	var sec [24]byte
	rand.Read(idb[:])
	rand.Read(sec[:])
	id := hex.EncodeToString(idb[:])
	secret := base64.RawURLEncoding.EncodeToString(sec[:])
	sum := sha256.Sum256([]byte(secret))
	k := Key{ID: id, Shop: shop, Scopes: slices.Clone(scopes), Created: now.UTC(), Hash: hex.EncodeToString(sum[:])}
	return k, keyPrefix + id + "_" + secret
}

// Key returns a key of shop (without its hash).
func (r *Registry) Key(shop, id string) (Key, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.keys[id]
	if !ok || k.Shop != shop {
		return Key{}, false
	}
	k.Hash = ""
	return k, true
}

// Revoke deletes a key of shop; it stops working at once.
func (r *Registry) Revoke(shop, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.keys[id]
	if !ok || k.Shop != shop {
		return fmt.Errorf("key %q of shop %q %w", id, shop, ErrNotFound)
	}
	if err := r.be.revoke(shop, id); err != nil {
		return fmt.Errorf("revoke key %q: %w", id, err)
	}
	delete(r.keys, id)
	return nil
}

// IsShopKey reports whether a sent key has the form of a shop key (as
// opposed to an operator key).
func IsShopKey(sent string) bool { return strings.HasPrefix(sent, keyPrefix) }

// Verify returns the key a sent shop key proves, comparing the secret's
// hash in constant time; false for an unknown, revoked or wrong key.
func (r *Registry) Verify(sent string) (Key, bool) {
	rest, ok := strings.CutPrefix(sent, keyPrefix)
	if !ok {
		return Key{}, false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok {
		return Key{}, false
	}
	r.mu.RLock()
	k, found := r.keys[id]
	r.mu.RUnlock()
	sum := sha256.Sum256([]byte(secret))
	want := make([]byte, sha256.Size)
	if found {
		if b, err := hex.DecodeString(k.Hash); err == nil && len(b) == sha256.Size {
			want = b
		}
	}
	if subtle.ConstantTimeCompare(sum[:], want) != 1 || !found {
		return Key{}, false
	}
	k.Hash = ""
	return k, true
}

// RegistryFile is the registry's file in the data directory (beside the
// default shop's store).
const RegistryFile = "shops.db"

// WriteSnapshot writes a consistent copy of the registry file to w (one
// read transaction: changes go on meanwhile and are not in it), for
// backups. A registry in PostgreSQL writes a registry file of the same
// form with what this replica holds, so that a backup restores into an
// embedded deployment too.
func (r *Registry) WriteSnapshot(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	var err error
	if b, ok := r.be.(*boltBackend); ok {
		n, err = b.snapshot(ctx, w)
	} else {
		n, err = r.writeFileCopy(ctx, w)
	}
	if err != nil {
		return n, fmt.Errorf("write a copy of the shop registry: %w", err)
	}
	return n, nil
}

// ctxWriter stops a long copy when its context ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// CheckRegistryFile checks a copy of a registry file (a backup): it is a
// consistent bbolt file with the registry's buckets, and every shop and
// key in it reads. It returns the ids of its shops (the default shop's
// settings are one of them when set) and the number of keys.
func CheckRegistryFile(path string) (shops []string, keys int, err error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			if errs = append(errs, err); len(errs) == 10 {
				break
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		bs, bk := tx.Bucket(bucketShops), tx.Bucket(bucketKeys)
		if bs == nil || bk == nil {
			return errors.New("not a shop registry (no shops and keys)")
		}
		if err := bs.ForEach(func(k, v []byte) error {
			var s Shop
			if err := json.Unmarshal(v, &s); err != nil || ValidID(s.ID) != nil || s.ID != string(k) {
				return fmt.Errorf("shop %q does not read: %v", k, err)
			}
			shops = append(shops, s.ID)
			return nil
		}); err != nil {
			return err
		}
		return bk.ForEach(func(k, v []byte) error {
			var key Key
			keys++
			if err := json.Unmarshal(v, &key); err != nil || key.Hash == "" {
				return fmt.Errorf("key %q does not read: %v", k, err)
			}
			return nil
		})
	})
	if err != nil {
		return nil, 0, fmt.Errorf("check %s: %w", path, err)
	}
	return shops, keys, nil
}

// Package shops serves many shops from one Aisle process. A shop is one
// complete aisle.Aisle over its own data directory (<data>/shops/<id>/):
// its own store file, search index, models, click model and suggestions,
// so nothing of one shop can reach another's answers. The default shop is
// the data directory itself and keeps every route without a prefix; every
// API route of a shop is also served under /api/shops/{shop}/….
//
// A Host routes requests to shops, checks shop keys (scoped, hashed, kept
// in a Registry) before it delegates, applies per-shop request-rate and
// stored-event limits, loads shops on their first request and unloads
// them when idle. See docs/shops.md.
package shops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aisle-dev/aisle"
	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/ratelimit"
)

// Options configure a Host.
type Options struct {
	// Config is the deployment's configuration: every shop uses it, with
	// its own data directory under Config.Data/shops/<id>.
	Config config.Config
	// Default is the default shop (Config.Data itself), opened by the
	// caller, who also starts and closes it.
	Default *aisle.Aisle
	// Registry holds the shops and their keys; the Host does not close it.
	Registry *Registry
	Logger   *slog.Logger
	// IdleAfter unloads a shop that has had no request for this long (0:
	// shops stay loaded); its next request loads it again.
	IdleAfter time.Duration
	// ShopOptions, when set, adds options to the opening of a shop (the
	// demo's import hook).
	ShopOptions func(id string) []aisle.Option
	// Queue, when set, makes the shops train one at a time, in turn (give
	// the default shop aisle.WithTrainingTurn(Queue.Turn(DefaultID))).
	Queue *TrainingQueue
	// Pool, when set, is the PostgreSQL pool every shop's store opens on
	// (pgstore.OpenPool; give the default shop aisle.WithPostgresPool(Pool)
	// too): one pool per process, not one per shop. The caller closes it
	// after the Host.
	Pool *pgxpool.Pool
	// Feed, when set, is the change feed a registry in PostgreSQL follows
	// (the default shop's, Aisle.Feed): shops created, changed or deleted
	// and keys revoked on another replica apply here within the feed's
	// delay.
	Feed bus.Bus
}

// Host serves the default shop and the registered shops.
type Host struct {
	cfg   config.Config
	def   *aisle.Aisle
	reg   *Registry
	log   *slog.Logger
	idle  time.Duration
	extra func(string) []aisle.Option
	queue *TrainingQueue
	pool  *pgxpool.Pool
	needs needs
	now   func() time.Time

	bg     context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	gone     *sync.Cond // signalled when a shop's in-flight requests drop
	live     map[string]*shop
	closing  map[string]chan struct{} // shops being closed: a reload waits
	limiters map[string]*shopLimiter
	defEv    *eventCount
	closed   bool
	loadMu   sync.Mutex // one load at a time, so the heap delta is the shop's

	loads, unloads atomic.Int64
	web            webSessions // logins of the dashboard's shop pages
}

// shop is a loaded (or loading) shop.
type shop struct {
	id       string
	a        *aisle.Aisle
	ready    chan struct{} // closed when loading ended (a or err set)
	err      error
	inflight int
	lastUsed time.Time
	memory   int64 // heap bytes the load added
	events   *eventCount
}

type shopLimiter struct {
	rate  float64
	burst int
	l     *ratelimit.Limiter
}

// New returns a Host. It removes the data of shops deleted from the
// registry whose directories are still there (a crash during a delete).
func New(opts Options) (*Host, error) {
	if opts.Default == nil || opts.Registry == nil {
		return nil, errors.New("shops: a default shop and a registry are required")
	}
	h := &Host{
		cfg: opts.Config, def: opts.Default, reg: opts.Registry, log: opts.Logger,
		idle: opts.IdleAfter, extra: opts.ShopOptions, queue: opts.Queue, pool: opts.Pool, needs: newNeeds(), now: time.Now,
		live: map[string]*shop{}, closing: map[string]chan struct{}{}, limiters: map[string]*shopLimiter{},
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.gone = sync.NewCond(&h.mu)
	h.bg, h.cancel = context.WithCancel(context.Background())
	if err := h.sweep(); err != nil {
		return nil, err
	}
	h.defEv = newEventCount(h.def)
	if err := h.def.Registry().Register(collector{h}); err != nil {
		return nil, fmt.Errorf("shops: register metrics: %w", err)
	}
	h.reg.OnChange(h.changed)
	fctx, fcancel := context.WithTimeout(context.Background(), time.Minute)
	defer fcancel()
	if err := h.reg.Follow(fctx, opts.Feed, h.log); err != nil {
		h.reg.OnChange(nil)
		return nil, fmt.Errorf("shops: %w", err)
	}
	if h.idle > 0 {
		h.wg.Add(1)
		go h.unloadIdle()
	}
	return h, nil
}

// changed applies a change of the registry made on another replica: a
// shop deleted there is closed here and its directory (this replica's
// index and caches) removed; a shop whose configuration changed is
// reloaded on its next request. Keys need nothing: they are checked
// against the registry on every request.
func (h *Host) changed(c Change) {
	var work func()
	switch {
	case c.Before != nil && c.After == nil:
		work = func() { h.deletedElsewhere(c.ID) }
	case c.Before != nil && c.After != nil && !reflect.DeepEqual(c.Before.Settings.Config, c.After.Settings.Config):
		work = func() {
			h.restart(c.ID)
			h.log.Info("shop configuration changed on another replica: reloading", "shop", c.ID)
		}
	default:
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	// not on the feed's goroutine: closing waits for running requests
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		work()
	}()
}

// deletedElsewhere closes a shop another replica deleted, removes this
// replica's directory of it, and then its rows in a shared store again
// (the other replica removed them, but this one may have written some
// before it closed the shop).
func (h *Host) deletedElsewhere(id string) {
	h.mu.Lock()
	finish := h.shutLocked(id, "closing a shop deleted on another replica failed")
	defer finish()
	if _, ok := h.reg.Get(id); !ok { // not created again meanwhile
		if err := os.RemoveAll(Dir(h.cfg.Data, id)); err != nil {
			h.log.Error("removing the directory of a shop deleted on another replica failed", "shop", id, "error", err)
		}
		// rows this replica wrote between the delete and the close: the
		// replica that took the DELETE removed the rest already
		if h.cfg.Store != "" {
			// not cancelled when the host closes meanwhile: the host
			// waits for it, and a delete cut short leaves rows that no
			// replica would remove (the deleting replica's mark is gone)
			ctx, cancel := context.WithTimeout(context.WithoutCancel(h.bg), time.Minute)
			if err := dropStoredShop(ctx, h.cfg.Store, h.pool, id); err != nil {
				h.log.Error("removing the rows of a shop deleted on another replica failed", "shop", id, "error", err)
			}
			cancel()
		}
	}
	h.log.Info("shop deleted on another replica: closed here", "shop", id)
}

// shutLocked takes a shop out of service for good; h.mu must be held,
// and is released on return. The shop leaves the live shops and is marked
// closing (a request for it meanwhile waits, then finds it gone), its
// running requests end, an idle unload under way ends, and it is closed
// (failure is logged as msg). finish clears the mark and the shop's rate
// limiter.
func (h *Host) shutLocked(id, msg string) (finish func()) {
	s := h.live[id]
	delete(h.live, id)
	done := make(chan struct{})
	prev := h.closing[id] // an idle unload under way
	h.closing[id] = done
	for s != nil && s.inflight > 0 {
		h.gone.Wait()
	}
	h.mu.Unlock()
	if prev != nil {
		<-prev
	}
	if s != nil {
		<-s.ready
		if s.a != nil {
			if err := s.a.Close(); err != nil {
				h.log.Error(msg, "shop", id, "error", err)
			}
		}
	}
	return func() {
		h.mu.Lock()
		close(done)
		if h.closing[id] == done {
			delete(h.closing, id)
		}
		delete(h.limiters, id)
		h.mu.Unlock()
	}
}

// sweep finishes the deletions a crash interrupted and reports shop
// directories that the registry does not list.
func (h *Host) sweep() error {
	pending, err := h.reg.Deleting()
	if err != nil {
		return err
	}
	for _, id := range pending {
		h.log.Warn("finishing the deletion of a shop", "shop", id)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		err := h.removeData(ctx, id)
		cancel()
		if err != nil { // tried again at the next start, or on creating the id again
			h.log.Error("the deletion of a shop could not be finished", "shop", id, "error", err)
		}
	}
	// a directory the registry does not list is not a deleted shop's (those
	// are marked): a registry restored from an older backup, say. It is
	// kept, not served, and named in the log.
	dir := filepath.Join(h.cfg.Data, "shops")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("shops: read %s: %w", dir, err)
	}
	for _, e := range ents {
		if _, ok := h.reg.Get(e.Name()); !ok || e.Name() == DefaultID {
			h.log.Warn("a shop directory that the registry does not list is not served (create the shop with POST /api/shops to serve its data, or remove the directory)",
				"dir", filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

// Dir is the data directory of a shop.
func Dir(data, id string) string {
	if id == DefaultID {
		return data
	}
	return filepath.Join(data, "shops", id)
}

// Close unloads every shop (not the default one, whose owner closes it)
// and stops the idle unloader.
func (h *Host) Close() error {
	h.mu.Lock()
	h.closed = true
	var all []*shop
	for id, s := range h.live {
		all = append(all, s)
		delete(h.live, id)
	}
	h.mu.Unlock()
	h.reg.OnChange(nil)
	h.cancel()
	h.wg.Wait()
	var errs []error
	for _, s := range all {
		<-s.ready
		if s.a != nil {
			errs = append(errs, s.a.Close())
		}
	}
	return errors.Join(errs...)
}

var (
	errNoShop = errors.New("no such shop")
	errClosed = errors.New("the server is shutting down")
)

// acquire returns a loaded shop, loading it first when needed; release
// must be called when the request is done. The default shop is never
// unloaded.
func (h *Host) acquire(ctx context.Context, id string) (*aisle.Aisle, *eventCount, func(), error) {
	if id == DefaultID {
		return h.def, h.defEv, func() {}, nil
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, nil, nil, errClosed
	}
	if _, ok := h.reg.Get(id); !ok {
		h.mu.Unlock()
		return nil, nil, nil, errNoShop
	}
	s, ok := h.live[id]
	load := !ok
	if load {
		s = &shop{id: id, ready: make(chan struct{})}
		h.live[id] = s
	}
	s.inflight++
	wait := h.closing[id]
	h.mu.Unlock()
	release := func() {
		h.mu.Lock()
		s.inflight--
		s.lastUsed = h.now()
		h.gone.Broadcast()
		h.mu.Unlock()
	}
	if load {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			if wait != nil {
				<-wait
			}
			h.load(s)
		}()
	}
	select {
	case <-s.ready:
	case <-ctx.Done():
		release()
		return nil, nil, nil, ctx.Err()
	}
	if s.err != nil {
		release()
		h.mu.Lock()
		if h.live[id] == s {
			delete(h.live, id) // the next request tries again
		}
		h.mu.Unlock()
		return nil, nil, nil, s.err
	}
	return s.a, s.events, release, nil
}

// load opens and starts a shop, measuring the heap it adds.
func (h *Host) load(s *shop) {
	defer close(s.ready)
	h.loadMu.Lock()
	defer h.loadMu.Unlock()
	// the live heap before the load. The last collection's figure can be
	// stale (a shop closed since, its heap not yet collected: the new
	// shop's own heap then read as 0), so a small heap is collected first;
	// a large one is not (a full collection per load over the heap of
	// many loaded shops made loading 100 shops take minutes), and there a
	// shop's heap is the larger part of the error. Start ends with a
	// collection, so the second reading is current.
	before := liveHeap()
	if before < freshHeapBelow {
		runtime.GC()
		before = liveHeap()
	}
	start := time.Now()
	sh, ok := h.reg.Get(s.id)
	if !ok {
		s.err = errNoShop
		return
	}
	cfg, err := ApplyConfig(h.cfg, sh.Settings.Config)
	if err != nil {
		s.err = fmt.Errorf("the configuration of shop %q: %w", s.id, err)
		return
	}
	cfg.Data, cfg.Shop = Dir(h.cfg.Data, s.id), s.id
	if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		s.err = fmt.Errorf("create the data directory of shop %q: %w", s.id, err)
		return
	}
	opts := []aisle.Option{aisle.WithLogger(h.log.With("shop", s.id))}
	if h.queue != nil {
		opts = append(opts, aisle.WithTrainingTurn(h.queue.Turn(s.id)))
	}
	if h.pool != nil {
		opts = append(opts, aisle.WithPostgresPool(h.pool))
	}
	if h.extra != nil {
		opts = append(opts, h.extra(s.id)...)
	}
	a, err := aisle.Open(h.bg, cfg, opts...)
	if err != nil {
		s.err = fmt.Errorf("open shop %q: %w", s.id, err)
		return
	}
	if err := a.Start(h.bg); err != nil {
		a.Close()
		s.err = fmt.Errorf("load shop %q: %w", s.id, err)
		return
	}
	s.a = a
	s.memory = max(0, liveHeap()-before)
	s.events = newEventCount(a)
	h.loads.Add(1)
	h.log.Info("shop loaded", "shop", s.id, "took", time.Since(start).Round(time.Millisecond), "heap_bytes", s.memory)
}

// freshHeapBelow is the live heap under which a load collects first for
// an exact starting figure (a collection of it takes milliseconds).
const freshHeapBelow = 256 << 20

// liveHeap is the heap the last garbage collection found live.
func liveHeap() int64 {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(sample[0].Value.Uint64())
}

// unloadIdle closes shops without requests for h.idle.
func (h *Host) unloadIdle() {
	defer h.wg.Done()
	every := min(max(h.idle/4, 50*time.Millisecond), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.bg.Done():
			return
		case <-t.C:
		}
		h.UnloadIdle(h.idle)
	}
}

// UnloadIdle closes the loaded shops that have had no request for at
// least idle, and reports how many it closed. Their next request loads
// them again.
func (h *Host) UnloadIdle(idle time.Duration) int {
	now := h.now()
	type closing struct {
		s    *shop
		done chan struct{}
	}
	var out []closing
	h.mu.Lock()
	for id, s := range h.live {
		select {
		case <-s.ready:
		default:
			continue // loading
		}
		if s.inflight == 0 && s.a != nil && now.Sub(s.lastUsed) >= idle && h.closing[id] == nil {
			delete(h.live, id)
			c := closing{s, make(chan struct{})}
			h.closing[id] = c.done // a reload waits for the close
			out = append(out, c)
		}
	}
	h.mu.Unlock()
	for _, c := range out {
		if err := c.s.a.Close(); err != nil {
			h.log.Error("unloading an idle shop failed", "shop", c.s.id, "error", err)
		}
		h.mu.Lock()
		close(c.done)
		if h.closing[c.s.id] == c.done {
			delete(h.closing, c.s.id)
		}
		h.mu.Unlock()
		h.unloads.Add(1)
		h.log.Info("idle shop unloaded", "shop", c.s.id)
	}
	return len(out)
}

// restart closes a loaded shop once its running requests are done, so
// that its next request loads it again with its current settings.
// Requests that arrive meanwhile wait for the close, then load it.
func (h *Host) restart(id string) {
	h.mu.Lock()
	s := h.live[id]
	if s == nil {
		h.mu.Unlock()
		return
	}
	delete(h.live, id)
	done := make(chan struct{})
	prev := h.closing[id] // an idle unload under way
	h.closing[id] = done
	for s.inflight > 0 {
		h.gone.Wait()
	}
	h.mu.Unlock()
	if prev != nil {
		<-prev
	}
	<-s.ready
	if s.a != nil {
		if err := s.a.Close(); err != nil {
			h.log.Error("closing a shop to apply its new configuration failed", "shop", id, "error", err)
		}
	}
	h.mu.Lock()
	close(done)
	if h.closing[id] == done {
		delete(h.closing, id)
	}
	h.mu.Unlock()
}

// Deleted reports what deleting a shop removed.
type Deleted struct {
	Shop   string `json:"shop"`
	Items  int    `json:"items"`
	Users  int    `json:"users"`
	Events int    `json:"events"`
	Keys   int    `json:"keys"`
}

// Delete removes a shop: from the registry with its keys first (from
// then on its routes answer 404), then, once its running requests are
// done, its data directory. A crash in between leaves a directory that
// the next start removes.
func (h *Host) Delete(ctx context.Context, id string) (Deleted, error) {
	if id == DefaultID {
		return Deleted{}, api.Conflict("the default shop cannot be deleted: it is the data directory itself")
	}
	d := Deleted{Shop: id}
	a, _, release, err := h.acquire(ctx, id)
	switch {
	case errors.Is(err, errNoShop) || errors.Is(err, errClosed) || ctx.Err() != nil:
		return d, err
	case err != nil:
		// a shop that cannot load (a damaged file) can still be deleted,
		// without counts
		h.log.Warn("deleting a shop that cannot be loaded: its counts are not reported", "shop", id, "error", err)
	default:
		c, err := a.Engine().Counts(ctx)
		release()
		if err != nil {
			return d, fmt.Errorf("count the data of shop %q: %w", id, err)
		}
		d.Items, d.Users, d.Events = c.Items, c.Users, c.Events
	}
	h.mu.Lock()
	d.Keys, err = h.reg.Delete(id)
	if err != nil {
		h.mu.Unlock()
		return d, err
	}
	defer h.shutLocked(id, "closing a deleted shop failed")()
	// the removal goes on if the client leaves: the shop is gone already
	if err := h.removeData(context.WithoutCancel(ctx), id); err != nil {
		return d, fmt.Errorf("%w (it is removed at the next start)", err)
	}
	h.log.Info("shop deleted", "shop", id, "items", d.Items, "users", d.Users, "events", d.Events, "keys", d.Keys)
	return d, nil
}

// ServeHTTP routes a request: the shop management routes, a shop's API
// under /api/shops/{shop}/…, everything else to the default shop.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if path == "/api/shops" || path == "/api/shops/" {
		h.serveShops(w, r)
		return
	}
	rest, ok := strings.CutPrefix(path, "/api/shops/")
	if !ok {
		if path == "/api/admin/backup" && r.URL.Query().Get("file") == RegistryFile {
			h.serveRegistryBackup(w, r)
			return
		}
		if strings.HasPrefix(path, "/api/") {
			h.serveShop(w, r, DefaultID, path)
			return
		}
		h.serveWeb(w, r) // the storefront and dashboard of the chosen shop, /metrics
		return
	}
	id, sub, _ := strings.Cut(rest, "/")
	if ValidID(id) != nil {
		api.WriteError(w, http.StatusNotFound, fmt.Sprintf("no shop %q: shop ids are 1 to 32 lower-case letters, digits and hyphens", id), nil)
		return
	}
	switch {
	case sub == "":
		h.serveOneShop(w, r, id)
	case sub == "keys" || strings.HasPrefix(sub, "keys/"):
		h.serveKeys(w, r, id, strings.TrimPrefix(strings.TrimPrefix(sub, "keys"), "/"))
	default:
		h.serveShop(w, r, id, "/api/"+sub)
	}
}

// who is the caller, as proven by the key it sent.
type who struct {
	operator bool // an operator admin key (or none is configured)
	key      *Key // a valid shop key
}

// authorize checks the key a request sends against the shop and what the
// route needs. It returns the status and message of a refusal (0 when
// allowed).
func (h *Host) authorize(r *http.Request, id string, need Need) (who, int, string) {
	sent := api.RequestKey(r)
	if IsShopKey(sent) {
		k, ok := h.reg.Verify(sent)
		if !ok {
			return who{}, http.StatusUnauthorized, "unknown or revoked shop key: ask the shop's admin for a new one"
		}
		if k.Shop != id {
			return who{}, http.StatusForbidden, fmt.Sprintf("this key belongs to shop %q: it opens only /api/shops/%s/… (and never another shop's routes)", k.Shop, k.Shop)
		}
		if need == NeedOperator {
			return who{}, http.StatusForbidden, "only an operator key (--admin-key) may create, change or delete shops"
		}
		if need != NeedNone && !k.Allows(Scope(need)) {
			return who{}, http.StatusForbidden, fmt.Sprintf("this key's scopes %v do not open this route: it needs the %s scope (or admin)", k.Scopes, need)
		}
		return who{key: &k}, 0, ""
	}
	op := h.cfg.Server.AdminKey == "" || api.KeyMatches(sent, h.cfg.Server.AdminKey)
	return who{operator: op}, 0, ""
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="aisle"`)
	api.WriteError(w, http.StatusUnauthorized, "missing or wrong API key: send the operator admin key or a shop key with the admin scope, as \"Authorization: Bearer KEY\" or \"X-API-Key: KEY\"", nil)
}

// innerRaw is the escaped form of inner, the path of u without its shop
// prefix, when u's path had escapes that matter (an item id "a/b" sent as
// a%2Fb): without it the shop's routes would see /items/a/b and answer 404.
func innerRaw(u *url.URL, id, inner string) string {
	if u.RawPath == "" {
		return ""
	}
	if inner == u.Path { // the default shop, unprefixed
		return u.RawPath
	}
	if rest, ok := strings.CutPrefix(u.RawPath, "/api/shops/"+id+"/"); ok {
		return "/api/" + rest
	}
	return ""
}

// serveShop delegates an API request of a shop (inner is its path
// without the shop prefix) after the key, CORS and limit checks.
func (h *Host) serveShop(w http.ResponseWriter, r *http.Request, id, inner string) {
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = inner, innerRaw(r.URL, id, inner)
	r2.URL = &u
	need, pattern := h.needs.of(r2)
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if preflight {
		// a browser asks before the real request: judge that one
		r3 := *r2
		r3.Method = r.Header.Get("Access-Control-Request-Method")
		need, _ = h.needs.of(&r3)
	}
	_, status, msg := h.authorize(r, id, need)
	if status != 0 && !preflight {
		api.WriteError(w, status, msg, nil)
		return
	}
	sh, ok := h.reg.Get(id)
	if !ok {
		api.WriteError(w, http.StatusNotFound, fmt.Sprintf("no shop %q: create it with POST /api/shops, or see GET /api/shops", id), nil)
		return
	}
	if h.cors(w, r, sh, need) {
		return
	}
	if IsShopKey(api.RequestKey(r)) {
		// the key's scope is checked: the shop's server sees the operator
		// admin key (never sent to the client), so its own check passes
		r2.Header = r.Header.Clone()
		r2.Header.Del("Authorization")
		r2.Header.Del("X-API-Key")
		if h.cfg.Server.AdminKey != "" {
			r2.Header.Set("X-API-Key", h.cfg.Server.AdminKey)
		}
	}
	if need != NeedNone {
		if ok, wait := h.allow(sh); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
			api.WriteError(w, http.StatusTooManyRequests, fmt.Sprintf("shop %q is over its request rate (%g per second): retry after the time in Retry-After", id, sh.Settings.RateLimit), nil)
			return
		}
	}
	a, evs, release, err := h.acquire(r.Context(), id)
	switch {
	case errors.Is(err, errNoShop):
		api.WriteError(w, http.StatusNotFound, fmt.Sprintf("no shop %q: create it with POST /api/shops, or see GET /api/shops", id), nil)
		return
	case errors.Is(err, errClosed):
		w.Header().Set("Retry-After", "2")
		api.WriteError(w, http.StatusServiceUnavailable, "the server is shutting down: retry on another replica or after the restart", nil)
		return
	case err != nil:
		if r.Context().Err() == nil {
			h.log.Error("a shop cannot be loaded", "shop", id, "error", err)
		}
		w.Header().Set("Retry-After", "5")
		api.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("shop %q cannot be loaded now; the server log says why", id), nil)
		return
	}
	defer release()
	if pattern == "POST /api/events" && sh.Settings.MaxEvents > 0 {
		if n := evs.n(r.Context()); n >= sh.Settings.MaxEvents {
			api.WriteError(w, http.StatusInsufficientStorage, fmt.Sprintf("shop %q stores %d events, its limit is %d: delete users or raise max_events (PATCH /api/shops/%s)", id, n, sh.Settings.MaxEvents, id), nil)
			return
		}
	}
	a.Handler().ServeHTTP(w, r2)
}

// cors answers a preflight or adds the CORS headers for a request from an
// origin the shop allows, on routes a public key opens. It reports
// whether the request was answered.
func (h *Host) cors(w http.ResponseWriter, r *http.Request, sh Shop, need Need) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || (need != Need(ScopePublic) && need != NeedNone) {
		return false
	}
	if !slices.Contains(sh.Settings.AllowedOrigins, origin) && !slices.Contains(sh.Settings.AllowedOrigins, "*") {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Add("Vary", "Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, X-API-Key, Content-Type")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// allow charges one request to the shop's rate limit.
func (h *Host) allow(sh Shop) (bool, time.Duration) {
	st := sh.Settings
	if st.RateLimit <= 0 {
		return true, 0
	}
	burst := st.RateBurst
	if burst <= 0 {
		burst = max(1, int(math.Ceil(st.RateLimit)))
	}
	h.mu.Lock()
	l := h.limiters[sh.ID]
	if l == nil || l.rate != st.RateLimit || l.burst != burst {
		rl, err := ratelimit.New(ratelimit.Config{Rate: st.RateLimit, Burst: burst})
		if err != nil {
			h.mu.Unlock()
			return true, 0
		}
		l = &shopLimiter{rate: st.RateLimit, burst: burst, l: rl}
		h.limiters[sh.ID] = l
	}
	h.mu.Unlock()
	return l.l.Allow(sh.ID)
}

// Info is a shop as GET /api/shops/{shop} shows it.
type Info struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	Settings Settings  `json:"settings"`
	// Loaded tells whether the shop's data is in memory now.
	Loaded bool `json:"loaded"`
	// MemoryBytes is the heap its last load added (loaded shops but the
	// default one).
	MemoryBytes int64 `json:"memory_bytes,omitempty"`
	Keys        int   `json:"keys"`
}

func (h *Host) info(sh Shop) Info {
	in := Info{ID: sh.ID, Created: sh.Created, Settings: sh.Settings, Keys: len(h.reg.Keys(sh.ID))}
	if in.Settings.AllowedOrigins == nil {
		in.Settings.AllowedOrigins = []string{}
	}
	if sh.ID == DefaultID {
		in.Loaded = true
		return in
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.live[sh.ID]; ok {
		select {
		case <-s.ready:
			in.Loaded, in.MemoryBytes = s.a != nil, s.memory
		default:
		}
	}
	return in
}

// serveRegistryBackup streams a consistent copy of the registry (GET
// /api/admin/backup?file=shops.db, operator only), with the byte count in
// a trailer as the store's backup has; aisle backup writes it beside the
// store's copy.
func (h *Host) serveRegistryBackup(w http.ResponseWriter, r *http.Request) {
	c, status, msg := h.authorize(r, "", NeedOperator)
	if status != 0 {
		api.WriteError(w, status, msg, nil)
		return
	}
	if !c.operator {
		unauthorized(w)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		api.WriteError(w, http.StatusMethodNotAllowed, "use GET on /api/admin/backup", nil)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="aisle-%s-%s"`, h.now().UTC().Format("20060102T150405Z"), RegistryFile))
	w.Header().Set("X-Aisle-Backup-File", RegistryFile)
	w.Header().Set("Trailer", "X-Aisle-Backup-Bytes")
	n, err := h.reg.WriteSnapshot(r.Context(), w)
	if err != nil {
		// the status is sent: the missing trailer tells the client
		h.log.Error("registry backup stream broke off", "bytes", n, "error", err)
		return
	}
	w.Header().Set("X-Aisle-Backup-Bytes", strconv.FormatInt(n, 10))
}

// ShopCreate is the body of POST /api/shops.
type ShopCreate struct {
	ID string `json:"id"`
	Settings
}

// serveShops answers GET and POST /api/shops (operator only).
func (h *Host) serveShops(w http.ResponseWriter, r *http.Request) {
	c, status, msg := h.authorize(r, "", NeedOperator)
	if status != 0 {
		api.WriteError(w, status, msg, nil)
		return
	}
	if !c.operator {
		unauthorized(w)
		return
	}
	switch r.Method {
	case http.MethodGet:
		var out struct {
			Shops []Info `json:"shops"`
		}
		for _, sh := range h.reg.List() {
			out.Shops = append(out.Shops, h.info(sh))
		}
		api.WriteJSON(w, http.StatusOK, out)
	case http.MethodPost:
		var in ShopCreate
		if !decode(w, r, &in) {
			return
		}
		if pending, err := h.reg.Deleting(); err == nil && slices.Contains(pending, in.ID) {
			// a deleted shop of this id left data behind: remove it first
			if err := h.removeData(r.Context(), in.ID); err != nil {
				h.log.Error("removing a deleted shop's data failed", "shop", in.ID, "error", err)
				api.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("shop %q was deleted and its data cannot be removed now, so the id cannot be used yet; the server log says why", in.ID), nil)
				return
			}
		}
		if err := in.Settings.Validate(); err != nil {
			api.WriteError(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
		if _, err := ApplyConfig(h.cfg, in.Config); err != nil {
			api.WriteError(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
		sh, err := h.reg.Create(in.ID, in.Settings, h.now())
		if errors.Is(err, ErrExists) {
			api.WriteError(w, http.StatusConflict, err.Error()+": pick another id", nil)
			return
		} else if err != nil {
			api.WriteError(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
		h.log.Info("shop created", "shop", sh.ID)
		api.WriteJSON(w, http.StatusCreated, h.info(sh))
	default:
		w.Header().Set("Allow", "GET, POST")
		api.WriteError(w, http.StatusMethodNotAllowed, "use GET or POST on /api/shops", nil)
	}
}

// serveOneShop answers GET, PATCH and DELETE /api/shops/{shop}.
func (h *Host) serveOneShop(w http.ResponseWriter, r *http.Request, id string) {
	need := Need(ScopeAdmin)
	if r.Method != http.MethodGet {
		need = NeedOperator
	}
	c, status, msg := h.authorize(r, id, need)
	if status != 0 {
		api.WriteError(w, status, msg, nil)
		return
	}
	if c.key == nil && !c.operator {
		unauthorized(w)
		return
	}
	sh, ok := h.reg.Get(id)
	if !ok {
		api.WriteError(w, http.StatusNotFound, fmt.Sprintf("no shop %q: see GET /api/shops", id), nil)
		return
	}
	switch r.Method {
	case http.MethodGet:
		api.WriteJSON(w, http.StatusOK, h.info(sh))
	case http.MethodPatch:
		st := sh.Settings.clone()
		if !decode(w, r, &st) { // fields not sent keep their values
			return
		}
		for k, v := range st.Config {
			if v == nil { // "key": null: back to the deployment's value
				delete(st.Config, k)
			}
		}
		if len(st.Config) == 0 {
			st.Config = nil
		}
		if id == DefaultID && st.Config != nil {
			api.WriteError(w, http.StatusBadRequest, "the default shop runs on the deployment's own configuration (file, environment, flags): set these keys there; config is for the other shops", nil)
			return
		}
		if err := st.Validate(); err != nil {
			api.WriteError(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
		if _, err := ApplyConfig(h.cfg, st.Config); err != nil {
			api.WriteError(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
		changed := !reflect.DeepEqual(sh.Settings.Config, st.Config)
		sh, err := h.reg.Update(id, st)
		if err != nil {
			api.WriteError(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
		if changed {
			// the next request loads the shop with its new configuration
			h.restart(id)
			h.log.Info("shop configuration changed: reloading", "shop", id)
		}
		api.WriteJSON(w, http.StatusOK, h.info(sh))
	case http.MethodDelete:
		d, err := h.Delete(r.Context(), id)
		var ae *api.Error
		switch {
		case errors.As(err, &ae):
			api.WriteError(w, ae.Status, ae.Msg, nil)
		case errors.Is(err, errNoShop):
			api.WriteError(w, http.StatusNotFound, fmt.Sprintf("no shop %q: see GET /api/shops", id), nil)
		case err != nil:
			h.log.Error("deleting a shop failed", "shop", id, "error", err)
			api.WriteError(w, http.StatusInternalServerError, "deleting the shop failed: "+err.Error(), nil)
		default:
			api.WriteJSON(w, http.StatusOK, d)
		}
	default:
		w.Header().Set("Allow", "GET, PATCH, DELETE")
		api.WriteError(w, http.StatusMethodNotAllowed, "use GET, PATCH or DELETE on /api/shops/{shop}", nil)
	}
}

// KeyCreate is the body of POST /api/shops/{shop}/keys.
type KeyCreate struct {
	Scopes []Scope `json:"scopes"`
}

// NewKeyAnswer is the answer to POST /api/shops/{shop}/keys: the only
// time the secret is shown.
type NewKeyAnswer struct {
	ID     string  `json:"id"`
	Key    string  `json:"key"`
	Shop   string  `json:"shop"`
	Scopes []Scope `json:"scopes"`
}

// RotatedKeyAnswer is the answer to POST
// /api/shops/{shop}/keys/{id}/rotate: the new key (same shop and scopes,
// a new id) with its secret, shown only here, and the id of the key it
// replaced, whose secret is refused from then on.
type RotatedKeyAnswer struct {
	NewKeyAnswer
	Rotated string `json:"rotated"`
}

// serveKeys answers the key routes of a shop (kid is "", a key id, or a
// key id and "/rotate").
func (h *Host) serveKeys(w http.ResponseWriter, r *http.Request, id, kid string) {
	c, status, msg := h.authorize(r, id, Need(ScopeAdmin))
	if status != 0 {
		api.WriteError(w, status, msg, nil)
		return
	}
	if c.key == nil && !c.operator {
		unauthorized(w)
		return
	}
	if _, ok := h.reg.Get(id); !ok {
		api.WriteError(w, http.StatusNotFound, fmt.Sprintf("no shop %q: see GET /api/shops", id), nil)
		return
	}
	switch {
	case kid == "" && r.Method == http.MethodGet:
		api.WriteJSON(w, http.StatusOK, struct {
			Keys []Key `json:"keys"`
		}{h.reg.Keys(id)})
	case kid == "" && r.Method == http.MethodPost:
		var in KeyCreate
		if !decode(w, r, &in) {
			return
		}
		k, secret, err := h.reg.NewKey(id, in.Scopes, h.now())
		if err != nil {
			api.WriteError(w, http.StatusBadRequest, err.Error(), nil)
			return
		}
		api.WriteJSON(w, http.StatusCreated, NewKeyAnswer{ID: k.ID, Key: secret, Shop: id, Scopes: k.Scopes})
	case kid != "" && !strings.Contains(kid, "/") && r.Method == http.MethodDelete:
		if err := h.reg.Revoke(id, kid); errors.Is(err, ErrNotFound) {
			api.WriteError(w, http.StatusNotFound, err.Error(), nil)
			return
		} else if err != nil {
			api.WriteError(w, http.StatusInternalServerError, err.Error(), nil)
			return
		}
		api.WriteJSON(w, http.StatusOK, struct {
			Deleted string `json:"deleted"`
		}{kid})
	case strings.HasSuffix(kid, "/rotate") && !strings.Contains(strings.TrimSuffix(kid, "/rotate"), "/") && r.Method == http.MethodPost:
		// the dashboard's Rotate button calls the same Registry.Rotate
		old := strings.TrimSuffix(kid, "/rotate")
		k, secret, err := h.reg.Rotate(id, old, h.now())
		if errors.Is(err, ErrNotFound) {
			api.WriteError(w, http.StatusNotFound, err.Error()+" (revoked or rotated already? see GET /api/shops/"+id+"/keys)", nil)
			return
		} else if err != nil {
			api.WriteError(w, http.StatusInternalServerError, err.Error(), nil)
			return
		}
		h.log.Info("shop key rotated over the API", "shop", id, "old", old, "new", k.ID)
		api.WriteJSON(w, http.StatusOK, RotatedKeyAnswer{NewKeyAnswer: NewKeyAnswer{ID: k.ID, Key: secret, Shop: id, Scopes: k.Scopes}, Rotated: old})
	default:
		api.WriteError(w, http.StatusNotFound, fmt.Sprintf("no route %s %s: see GET /api/openapi.json", r.Method, r.URL.Path), nil)
	}
}

// decode reads a JSON body strictly (unknown fields refused), answering
// 400 itself when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		api.WriteError(w, http.StatusBadRequest, "the body is not the JSON this route takes (see GET /api/openapi.json): "+err.Error(), nil)
		return false
	}
	return true
}

// eventCount tracks how many events a shop stores, for max_events: it
// counts once at load and then follows the engine's appends; deleting a
// user makes it count again.
type eventCount struct {
	a     *aisle.Aisle
	count atomic.Int64
	stale atomic.Bool
}

func newEventCount(a *aisle.Aisle) *eventCount {
	c := &eventCount{a: a}
	c.stale.Store(true)
	a.Engine().Subscribe(c)
	return c
}

func (c *eventCount) n(ctx context.Context) int64 {
	if c.stale.Load() {
		if n, err := c.a.Engine().Store().CountEvents(ctx); err == nil {
			c.stale.Store(false)
			c.count.Store(int64(n))
		}
	}
	return c.count.Load()
}

func (c *eventCount) EventsAppended(evs []events.Event) { c.count.Add(int64(len(evs))) }
func (c *eventCount) ItemsUpserted([]catalog.Item)      {}
func (c *eventCount) ItemsDeleted([]string)             {}
func (c *eventCount) UserDeleted(string)                { c.stale.Store(true) }

// collector exports per-shop figures with a shop label on the default
// shop's /metrics.
type collector struct{ h *Host }

var (
	descLoaded = prometheus.NewDesc("aisle_shop_loaded", "1 when the shop's data is in memory.", []string{"shop"}, nil)
	descMemory = prometheus.NewDesc("aisle_shop_memory_bytes", "Heap bytes the shop's last load added.", []string{"shop"}, nil)
	descLoads  = prometheus.NewDesc("aisle_shop_loads_total", "Shops loaded (first requests and reloads after idling).", nil, nil)
	descUnload = prometheus.NewDesc("aisle_shop_unloads_total", "Idle shops unloaded.", nil, nil)
	descTrain  = prometheus.NewDesc("aisle_shop_training", "1 for the shop whose models train now (one at a time), 0 for those waiting their turn.", []string{"shop"}, nil)
)

func (collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descLoaded
	ch <- descMemory
	ch <- descLoads
	ch <- descUnload
	ch <- descTrain
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, sh := range c.h.reg.List() {
		in := c.h.info(sh)
		ch <- prometheus.MustNewConstMetric(descLoaded, prometheus.GaugeValue, b2f(in.Loaded), sh.ID)
		if in.MemoryBytes > 0 {
			ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, float64(in.MemoryBytes), sh.ID)
		}
	}
	ch <- prometheus.MustNewConstMetric(descLoads, prometheus.CounterValue, float64(c.h.loads.Load()))
	ch <- prometheus.MustNewConstMetric(descUnload, prometheus.CounterValue, float64(c.h.unloads.Load()))
	if c.h.queue != nil {
		running, waiting := c.h.queue.State()
		if running != "" {
			ch <- prometheus.MustNewConstMetric(descTrain, prometheus.GaugeValue, 1, running)
		}
		for _, w := range waiting {
			if w != running {
				ch <- prometheus.MustNewConstMetric(descTrain, prometheus.GaugeValue, 0, w)
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

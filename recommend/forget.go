package recommend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/store"
)

// privacy is what the service knows of forgotten users and of users who
// withheld consent to personalisation. The zero value is ready.
type privacy struct {
	mu sync.RWMutex
	// forgotten maps store.UserHash of a forgotten user to when; a model
	// version whose data was read before then does not answer from the
	// user's stored vector or index (they are served as a new user).
	forgotten map[[32]byte]time.Time
	// optedOut are users whose attribute personalization is false.
	optedOut map[string]bool
}

// snapshotSlack is how long before a model version was stored its data
// is assumed to have been read, beyond its fitting time (reading and
// preprocessing the log are not counted in TrainSecs).
const snapshotSlack = time.Hour

// dataTime is when a model version's data was read: stored with the
// version, or for older versions an estimate that errs early.
func dataTime(m store.ModelMeta) time.Time {
	if !m.DataAt.IsZero() {
		return m.DataAt
	}
	return m.CreatedAt.Add(-time.Duration(m.TrainSecs*float64(time.Second)) - snapshotSlack)
}

// suppressed reports whether model version m must not answer from user's
// own state (a vector, an index in its user table).
func (p *privacy) suppressed(user string, m store.ModelMeta) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.forgotten) == 0 {
		return false
	}
	at, ok := p.forgotten[store.UserHash(user)]
	return ok && at.After(dataTime(m))
}

// forgottenAfter reports whether a user was forgotten after t.
func (p *privacy) forgottenAfter(t time.Time) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, at := range p.forgotten {
		if at.After(t) {
			return true
		}
	}
	return false
}

func (p *privacy) forget(user string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.forgotten == nil {
		p.forgotten = map[[32]byte]time.Time{}
	}
	p.forgotten[store.UserHash(user)] = at
}

// userIndex is user's row in model sm, unless the user was forgotten
// after sm's data was read.
func (s *Service) userIndex(sm *servingModel, user string) (int32, bool) {
	u, ok := sm.users[user]
	if !ok || s.priv.suppressed(user, sm.meta) {
		return -1, false
	}
	return u, true
}

// loadForgotten reads the store's record of forgotten users (when the
// store keeps one), so that a restart keeps them forgotten by the model
// versions trained before.
func (s *Service) loadForgotten(ctx context.Context) error {
	f, ok := s.st.(store.Forgetter)
	if !ok {
		return nil
	}
	m, err := f.ForgottenUsers(ctx)
	if err != nil {
		return fmt.Errorf("load forgotten users: %w", err)
	}
	s.priv.mu.Lock()
	s.priv.forgotten = m
	s.priv.mu.Unlock()
	return nil
}

var (
	_ engine.Forgetter     = (*Service)(nil)
	_ engine.ForgetPending = (*Service)(nil)
)

// UserForgotten implements engine.Forgetter: the user's events leave the
// popularity and trending counts and the bought-together counts (exactly
// what they added), their profile goes, and the serving models stop
// answering from their stored state.
func (s *Service) UserForgotten(id string, removed []events.Event) map[string]int {
	evs, pairs, buys := s.ledger.forget(id, s.ledgerEntries(removed))
	s.profiles.forget(id)
	s.relearn.forgotten(id, removed)
	s.priv.forget(id, time.Now())
	s.cov.mu.Lock()
	for _, e := range removed {
		s.cov.c.Remove(e.Seq)
	}
	s.cov.mu.Unlock()
	// the snapshot holds the user's counts and profile: it goes now, and
	// the next one is written without them
	s.dropSnapshot("a user was forgotten")
	n := 0
	for _, sm := range s.models.Load().byName {
		if _, ok := sm.users[id]; ok {
			n++
		}
	}
	return map[string]int{
		"popularity_events":      evs,
		"bought_together_pairs":  pairs,
		"bought_together_buys":   buys,
		"profile_entries":        len(removed),
		"model_user_rows_hidden": n,
		"item_relations_rebuilt": s.rebuildRelatedWithout(removed),
	}
}

// rebuildRelatedWithout rebuilds the item relations (similar, bought
// together) from the store, which no longer holds removed, when they were
// built from the user's item events. The rebuild runs in the background
// (about 5 s for the Office demo's 53k events on a loaded 2-core machine,
// which made each DELETE /api/users/{id} take that long), behind a fence:
// similar-items and bought-together requests wait for it rather than
// answer from relations that still hold the user. Forgets during a
// rebuild coalesce into one more. It returns 1 when a rebuild was started
// or extended.
func (s *Service) rebuildRelatedWithout(removed []events.Event) int {
	if s.rel.cur.Load() == nil || !slices.ContainsFunc(removed, func(e events.Event) bool { return e.ItemID != "" }) {
		return 0
	}
	s.rel.fenceMu.Lock()
	defer s.rel.fenceMu.Unlock()
	if s.rel.fence != nil {
		s.rel.again = true // the running rebuild may have read the log before this forget
		return 1
	}
	fence := make(chan struct{})
	s.rel.fence = fence
	if !s.goBg(func() { s.rebuildBehindFence(fence) }) {
		// stopping: drop the relations (the next start rebuilds them from
		// the log, which no longer holds the user) and lift the fence
		s.rel.cur.Store(nil)
		s.rel.fence = nil
		close(fence)
	}
	return 1
}

// rebuildBehindFence rebuilds the relations with default weights (the
// learned blend follows on the next request) until no forget came during
// a build, then lifts the fence. A failed build drops the relations, so
// the next request builds them from the store: nothing derived from a
// forgotten user is served either way.
func (s *Service) rebuildBehindFence(fence chan struct{}) {
	for {
		s.rel.mu.Lock()
		if _, _, err := s.buildRelated(s.rel.bgCtx); err != nil {
			s.log.Error("item relations: rebuilding without a forgotten user failed; they are built again on the next request", "error", err)
			s.rel.cur.Store(nil)
		}
		s.rel.mu.Unlock()
		s.rel.fenceMu.Lock()
		if s.rel.again {
			s.rel.again = false
			s.rel.fenceMu.Unlock()
			continue
		}
		s.rel.fence = nil
		close(fence)
		s.rel.fenceMu.Unlock()
		return
	}
}

// waitRelatedFence waits until no rebuild after a forget is under way.
func (s *Service) waitRelatedFence(ctx context.Context) error {
	s.rel.fenceMu.Lock()
	fence := s.rel.fence
	s.rel.fenceMu.Unlock()
	if fence == nil {
		return nil
	}
	select {
	case <-fence:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// relatedFenced reports whether the relations are being rebuilt after a
// forget.
func (s *Service) relatedFenced() bool {
	s.rel.fenceMu.Lock()
	defer s.rel.fenceMu.Unlock()
	return s.rel.fence != nil
}

// ForgetPending implements engine.ForgetPending: serving model versions
// whose data was read before the deletion still carry the user's
// influence in their item factors or neighbour counts until retrained
// (their own row is not used).
func (s *Service) ForgetPending(id string, deletedAt time.Time) []engine.Pending {
	var out []engine.Pending
	if s.relatedFenced() {
		out = append(out, engine.Pending{What: "item relations",
			Detail: "being rebuilt without the user's events in the background; similar-items and bought-together answers wait for the rebuild"})
	}
	set := s.models.Load()
	names := make([]string, 0, len(set.byName))
	for n := range set.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sm := set.byName[n]
		if !deletedAt.After(dataTime(sm.meta)) {
			continue
		}
		out = append(out, engine.Pending{What: "model " + sm.label(),
			Detail: "trained before the deletion: the user's own row is not used (they are served as a new user), but the model's item state still carries their events until the next retraining"})
	}
	return out
}

// counted is one event as the ledger counted it (see ledgerEntry).
type counted struct {
	item int32
	ts   int64
	w    float64
}

// ledgerEntries are the removed events of a user as add counted them:
// item events that are not answers to an ad, of an item the catalogue
// knows (deleted since or not), with a positive finite weight.
func (s *Service) ledgerEntries(removed []events.Event) []counted {
	now := time.Now().Unix()
	var out []counted
	for _, e := range removed {
		if e.ItemID == "" || s.sponsored(e) {
			continue
		}
		i, ok := s.items.number(e.ItemID)
		if !ok {
			continue
		}
		if w := weightOf(s.cfg.Weight(e.Type, e.Value)); w > 0 {
			out = append(out, counted{item: i, ts: min(e.Timestamp.Unix(), now), w: w})
		}
	}
	return out
}

// forget subtracts everything user contributed: their counted events
// (removed, each from the bucket it fell in), and their basket entries
// with the bought-together pairs each made. It returns the events, pairs
// (both directions) and buys removed.
func (l *ledger) forget(user string, removed []counted) (evs, pairs, buys int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range removed {
		if l.take(c.item, c.ts, c.w) {
			evs++
		}
	}
	uid, ok := l.uids[user]
	if !ok {
		return evs, 0, 0
	}
	delete(l.uids, user)
	pairs, buys = l.dropBaskets(uid)
	return evs, pairs, buys
}

// dropBaskets removes uid's basket entries and what each added to the
// bought-together counts. Caller holds mu.
func (l *ledger) dropBaskets(uid uint32) (pairs, buys int) {
	for k, b := range l.baskets {
		if !slices.ContainsFunc(b, func(be basketEntry) bool { return be.user == uid }) {
			continue
		}
		for i := 0; i < len(b); {
			if b[i].user != uid {
				i++
				continue
			}
			it := b[i].item
			b = slices.Delete(b, i, i+1)
			l.unbuy(it)
			buys++
			for _, other := range b {
				l.unbump(it, other.item)
				l.unbump(other.item, it)
				pairs += 2
			}
		}
		if len(b) == 0 {
			delete(l.baskets, k)
		} else {
			l.baskets[k] = b
		}
	}
	return pairs, buys
}

func (l *ledger) unbuy(item int32) {
	if l.buyCount[item]--; l.buyCount[item] <= 0 {
		delete(l.buyCount, item)
	}
}

func (l *ledger) unbump(a, b int32) {
	m := l.co[a]
	if m == nil {
		return
	}
	if m[b]--; m[b] <= 0 {
		delete(m, b)
		if len(m) == 0 {
			delete(l.co, a)
		}
	}
}

// uid returns user's number, assigning the next one (numbers are never
// reused, so a forgotten user's cannot be inherited). Caller holds mu.
func (l *ledger) uid(user string) uint32 {
	if user == "" {
		return 0
	}
	if u, ok := l.uids[user]; ok {
		return u
	}
	l.lastUID++
	l.uids[user] = l.lastUID
	return l.lastUID
}

var _ engine.Scrubber = (*Service)(nil)

// ScrubForgotten implements engine.Scrubber: every stored version of a
// recommendation model whose artefact still names a forgotten user gets
// that id replaced by a tombstone (the row stays, named by nobody). It
// returns how many versions were rewritten. Other kinds of stored models
// (the search ranker holds no user ids) are left alone.
func (s *Service) ScrubForgotten(ctx context.Context) (int, error) {
	rw, ok := s.st.(store.ModelRewriter)
	if !ok {
		return 0, nil
	}
	s.priv.mu.RLock()
	empty := len(s.priv.forgotten) == 0
	s.priv.mu.RUnlock()
	if empty {
		return 0, nil
	}
	forgot := func(id string) bool {
		s.priv.mu.RLock()
		defer s.priv.mu.RUnlock()
		_, ok := s.priv.forgotten[store.UserHash(id)]
		return ok
	}
	metas, err := s.st.ListModels(ctx, "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range metas {
		hit := false
		err := s.st.ReadModel(ctx, m.Name, m.Version, func(_ store.ModelMeta, r io.Reader) error {
			ids, err := pipeline.ArtifactUserIDs(r)
			if err != nil {
				return err
			}
			hit = slices.ContainsFunc(ids, func(id string) bool { return !pipeline.IsTombstone(id) && forgot(id) })
			return nil
		})
		if errors.Is(err, pipeline.ErrNotArtifact) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("read %s@%d: %w", m.Name, m.Version, err)
		}
		if !hit {
			continue
		}
		_, blob, err := s.st.LoadModel(ctx, m.Name, m.Version)
		if err != nil {
			return n, err
		}
		out, k, err := pipeline.ScrubUsers(blob, forgot)
		if err != nil {
			return n, fmt.Errorf("scrub %s@%d: %w", m.Name, m.Version, err)
		}
		if k == 0 {
			continue
		}
		if err := rw.RewriteModel(ctx, m.Name, m.Version, out); err != nil {
			return n, fmt.Errorf("rewrite %s@%d: %w", m.Name, m.Version, err)
		}
		n++
	}
	return n, nil
}

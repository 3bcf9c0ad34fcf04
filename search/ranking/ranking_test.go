package ranking

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/ltr"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// shop is a catalogue of families of near-identical products, one query
// word per family. In each family shoppers prefer one product that
// keyword ranking puts last (its title is the longest), and they keep
// preferring it: what they clicked before predicts what they click next.
type shop struct {
	st       *boltstore.Store
	ix       *search.Index
	words    []string
	favorite map[string]string // query word → preferred item
}

func newShop(t *testing.T, families int, sessionsPerFamily int) *shop {
	t.Helper()
	ctx := context.Background()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &shop{st: st, ix: ix, favorite: map[string]string{}}
	rng := rand.New(rand.NewPCG(7, 7))
	var items []catalog.Item
	for f := 0; f < families; f++ {
		w := fmt.Sprintf("gizmo%c%c", 'a'+f%26, 'a'+f/26)
		s.words = append(s.words, w)
		for k := 0; k < 6; k++ {
			title := fmt.Sprintf("%s model %d", w, k)
			if k == 5 {
				title += " with extra long descriptive words in the title"
				s.favorite[w] = fmt.Sprintf("%s-%d", w, k)
			}
			items = append(items, catalog.Item{ID: fmt.Sprintf("%s-%d", w, k), Title: title, Available: true})
		}
	}
	if err := st.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, items...); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []events.Event
	n := 0
	for round := 0; round < sessionsPerFamily; round++ {
		for _, w := range s.words {
			n++
			sess := fmt.Sprintf("s%d", n)
			at := t0.Add(time.Duration(n) * time.Minute)
			evs = append(evs, events.Event{UserID: "u" + sess, SessionID: sess, Type: events.Search, Query: w, Timestamp: at})
			item := s.favorite[w]
			if rng.IntN(5) == 0 { // shoppers sometimes click something else
				item = fmt.Sprintf("%s-%d", w, rng.IntN(5))
			}
			evs = append(evs, events.Event{UserID: "u" + sess, SessionID: sess, ItemID: item, Type: events.Click, Timestamp: at.Add(10 * time.Second)})
		}
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *shop) first(t *testing.T, q string, mode search.Mode) string {
	t.Helper()
	res, err := s.ix.Search(context.Background(), search.Request{Query: q, Mode: mode})
	if err != nil || len(res.Items) == 0 {
		t.Fatalf("search %q: %v (%d items)", q, err, len(res.Items))
	}
	return res.Items[0].ID
}

func TestLearnerLearnsWhatShoppersPrefer(t *testing.T) {
	s := newShop(t, 48, 4)
	ctx := context.Background()
	w := s.words[0]
	if got := s.first(t, w, search.ModeKeyword); got == s.favorite[w] {
		t.Fatalf("keyword ranking already puts the favourite first: the test shows nothing")
	}
	clicks := search.NewClicks()
	s.st.ScanEvents(ctx, 0, func(e events.Event) error { clicks.Record(e); return nil })
	s.ix.SetSignals(search.Signals{Clicks: clicks})

	l := New(s.ix, s.st, Config{MinQueries: 20}, nil)
	rep, err := l.Train(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Serving || rep.Version != 1 || rep.NDCG <= rep.Keyword || rep.Queries+rep.Valid != 48 || rep.Valid == 0 {
		t.Fatalf("report %+v", rep)
	}
	if s.ix.Ranker() == nil || l.ServingVersion() != 1 {
		t.Fatalf("the serving ranker is not set on the index (serving version %d)", l.ServingVersion())
	}
	wrong := 0
	for _, w := range s.words {
		if s.first(t, w, search.ModeLTR) != s.favorite[w] {
			wrong++
		}
	}
	if wrong > len(s.words)/10 {
		t.Fatalf("learned ranking misses the shoppers' favourite on %d of %d queries", wrong, len(s.words))
	}
	metas, _ := s.st.ListModels(ctx, DefaultName)
	if len(metas) != 1 || metas[0].Status != store.StatusServing || metas[0].Metrics["NDCG@10"] != rep.NDCG {
		t.Fatalf("stored versions %+v", metas)
	}

	// a second version that is no better than the first is rejected or
	// serves; either way a rollback returns to version 1 when 2 serves
	rep2, err := l.Train(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Previous < 0 {
		t.Fatalf("second run did not compare with the serving version: %+v", rep2)
	}
	if rep2.Serving {
		if l.ServingVersion() != 2 {
			t.Fatalf("version 2 serves, the learner says %d", l.ServingVersion())
		}
		if m, err := l.Rollback(ctx); err != nil || m.Version != 1 || l.ServingVersion() != 1 {
			t.Fatalf("rollback: %+v %v (serving version %d)", m, err, l.ServingVersion())
		}
	}
	if _, err := l.Rollback(ctx); !errors.Is(err, store.ErrNoRollback) {
		t.Fatalf("rollback past the first version: %v", err)
	}

	// a restarted server loads the serving version
	ix2, _ := search.NewIndex(search.DefaultConfig(), search.Options{})
	l2 := New(ix2, s.st, Config{}, nil)
	if err := l2.Load(ctx); err != nil || ix2.Ranker() == nil || l2.ServingVersion() != 1 {
		t.Fatalf("load: %v, ranker %v", err, ix2.Ranker())
	}
}

func TestLearnerNeedsEnoughFeedback(t *testing.T) {
	s := newShop(t, 5, 2)
	l := New(s.ix, s.st, Config{}, nil)
	_, err := l.Train(context.Background())
	if !errors.Is(err, ErrNotEnoughData) || !strings.Contains(err.Error(), "need") {
		t.Fatalf("train on 10 searches: %v", err)
	}
	res, err := l.RunOnce(context.Background())
	if err != nil || res.Trained || res.Model != DefaultName || !strings.Contains(res.Reason, "not enough") {
		t.Fatalf("RunOnce without enough data: %+v %v", res, err)
	}
	metas, _ := s.st.ListModels(context.Background(), DefaultName)
	if len(metas) != 0 || s.ix.Ranker() != nil {
		t.Fatalf("something was stored or set: %+v", metas)
	}
}

// A ranker that does not beat keyword ranking is stored as rejected and
// does not serve: here shoppers click what keyword ranking puts first.
func TestLearnerRejectsNoBetterThanKeyword(t *testing.T) {
	ctx := context.Background()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ix, _ := search.NewIndex(search.DefaultConfig(), search.Options{})
	var items []catalog.Item
	var words []string
	for f := 0; f < 40; f++ {
		w := fmt.Sprintf("doohick%c%c", 'a'+f%26, 'a'+f/26)
		words = append(words, w)
		// shoppers click the item keyword ranking puts first (shortest title)
		items = append(items, catalog.Item{ID: w, Title: w + " thing", Available: true})
		for k := 1; k <= 3; k++ {
			items = append(items, catalog.Item{ID: fmt.Sprintf("%s-%d", w, k), Title: w + " thing" + strings.Repeat(" with more words", k), Available: true})
		}
	}
	st.PutItems(ctx, items)
	ix.Upsert(ctx, items...)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []events.Event
	for r := 0; r < 3; r++ {
		for i, w := range words {
			sess := fmt.Sprintf("s%d-%d", r, i)
			at := t0.Add(time.Duration(r*100+i) * time.Minute)
			evs = append(evs,
				events.Event{UserID: "u", SessionID: sess, Type: events.Search, Query: w, Timestamp: at},
				events.Event{UserID: "u", SessionID: sess, ItemID: w, Type: events.Click, Timestamp: at.Add(time.Second)})
		}
	}
	st.AppendEvents(ctx, evs)
	// keyword ranking is already perfect
	rep, err := New(ix, st, Config{MinQueries: 10}, nil).Train(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Serving || rep.Note == "" || ix.Ranker() != nil {
		t.Fatalf("a ranker no better than keyword serves: %+v", rep)
	}
	metas, _ := st.ListModels(ctx, DefaultName)
	if len(metas) != 1 || metas[0].Status != store.StatusRejected || metas[0].Note == "" {
		t.Fatalf("stored versions %+v", metas)
	}
}

// A stored serving version whose artefact does not load does not serve,
// and the learner says so.
func TestLearnerLoadOfADamagedVersion(t *testing.T) {
	ctx := context.Background()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.SaveModel(ctx, store.ModelMeta{Name: DefaultName, Status: store.StatusServing, CreatedAt: time.Now()}, []byte("not a model")); err != nil {
		t.Fatal(err)
	}
	ix, _ := search.NewIndex(search.DefaultConfig(), search.Options{})
	l := New(ix, st, Config{}, nil)
	if err := l.Load(ctx); err == nil || ix.Ranker() != nil || l.ServingVersion() != 0 {
		t.Fatalf("load of a damaged version: %v, ranker %v, serving version %d", err, ix.Ranker(), l.ServingVersion())
	}
}

// failingStatus is the store whose status updates fail, like a full disk.
type failingStatus struct{ *boltstore.Store }

func (failingStatus) UpdateModelMeta(context.Context, store.ModelMeta) error {
	return errors.New("disk full")
}

// When the new version cannot be marked serving, the version that served
// before ranks again, not the new one.
func TestLearnerKeepsTheServingVersionWhenTheStoreFails(t *testing.T) {
	s := newShop(t, 48, 4)
	ctx := context.Background()
	clicks := search.NewClicks()
	s.st.ScanEvents(ctx, 0, func(e events.Event) error { clicks.Record(e); return nil })
	s.ix.SetSignals(search.Signals{Clicks: clicks})
	linear := ltr.DefaultParams(nil)
	linear.Algorithm = ltr.AlgorithmLinear
	if rep, err := New(s.ix, s.st, Config{MinQueries: 20, Params: &linear}, nil).Train(ctx); err != nil || !rep.Serving {
		t.Fatalf("first version: %+v %v", rep, err)
	}
	v1 := s.ix.Ranker()
	l := New(s.ix, failingStatus{s.st}, Config{MinQueries: 20, Tolerance: 0.99}, nil)
	if rep, err := l.Train(ctx); err == nil || rep.Serving {
		t.Fatalf("second version with failing status writes: %+v %v", rep, err)
	}
	cands, err := s.ix.Candidates(ctx, search.Request{Query: s.words[0]})
	if err != nil || len(cands) == 0 {
		t.Fatal(err)
	}
	now := s.ix.Ranker()
	differs := false
	for _, c := range cands {
		if now.Score(c.Features) != v1.Score(c.Features) {
			differs = true
		}
	}
	if differs || l.ServingVersion() != 1 {
		t.Fatalf("after a failed promotion the index ranks with another model than version 1 (learner says %d)", l.ServingVersion())
	}
}

// blockingEmbedder never answers until released.
type blockingEmbedder struct{ release chan struct{} }

func (b blockingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = []float32{1, 0}
	}
	return out, nil
}

func (blockingEmbedder) Dim() int { return 2 }

// While item vectors are still being computed the ranker does not train:
// its semantic features would be 0 for those items.
func TestLearnerWaitsForVectors(t *testing.T) {
	s := newShop(t, 48, 4)
	emb := blockingEmbedder{release: make(chan struct{})}
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{Embedder: emb})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	defer close(emb.release)
	ix.Upsert(context.Background(), catalog.Item{ID: "x", Title: "gizmoaa thing", Available: true})
	_, err = New(ix, s.st, Config{MinQueries: 20}, nil).Train(context.Background())
	if !errors.Is(err, ErrNotEnoughData) || !strings.Contains(err.Error(), "vectors") {
		t.Fatalf("train while vectors are pending: %v", err)
	}
}

// With learning off the learner trains nothing and serves nothing, but
// still owns its stored versions.
func TestLearnerOff(t *testing.T) {
	s := newShop(t, 48, 4)
	ctx := context.Background()
	if _, err := New(s.ix, s.st, Config{MinQueries: 20}, nil).Train(ctx); err != nil { // a stored serving version
		t.Fatal(err)
	}
	ix2, _ := search.NewIndex(search.DefaultConfig(), search.Options{})
	off := New(ix2, s.st, Config{Off: true}, nil)
	if err := off.Load(ctx); err != nil || ix2.Ranker() != nil || off.ServingVersion() != 0 {
		t.Fatalf("load with learning off: %v, ranker %v", err, ix2.Ranker())
	}
	if res, err := off.RunOnce(ctx); err != nil || res.Model != "" {
		t.Fatalf("run with learning off: %+v %v", res, err)
	}
	if _, err := off.Rollback(ctx); !errors.Is(err, store.ErrNoRollback) {
		t.Fatalf("rollback with learning off: %v", err)
	}
}

// Training reads only the newest MaxEvents events of the search log.
func TestLearnerReadsTheNewestEvents(t *testing.T) {
	s := newShop(t, 48, 4) // 192 searches, 192 clicks
	_, err := New(s.ix, s.st, Config{MinQueries: 20, MaxEvents: 60}, nil).Train(context.Background())
	if !errors.Is(err, ErrNotEnoughData) || !strings.Contains(err.Error(), "30 searches") {
		t.Fatalf("train on the newest 60 events: %v", err)
	}
	if _, err := New(s.ix, s.st, Config{MinQueries: 20, MaxEvents: 1000}, nil).Train(context.Background()); err != nil {
		t.Fatalf("train on all events: %v", err)
	}
}

package recommend

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"net/url"
	"path/filepath"
	"slices"
	"time"

	"github.com/viterin/vek/vek32"

	"github.com/aisle-dev/aisle/ann"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/store"
)

// Model version statuses (see package store).
const (
	StatusServing    = store.StatusServing
	StatusCandidate  = store.StatusCandidate
	StatusRetired    = store.StatusRetired
	StatusRejected   = store.StatusRejected
	StatusRolledBack = store.StatusRolledBack
)

// servingModel is one loaded model version mapped onto the service's items.
type servingModel struct {
	meta      store.ModelMeta
	m         model.Model
	weighting pipeline.Weighting // how to weigh a user's whole history
	users     map[string]int32
	toModel   []int32 // service item index → model item index, -1 when absent
	fromModel []int32 // model item index → service item index, -1 when absent
	unitVecs  []float32
	dim       int
	// index retrieves top items by user vector for large catalogues
	// (models that are model.UserEmbedder); nil means score every item.
	index ann.Index
}

// annQuery returns the query vector for the index: the user vector, with a
// trailing 1 when item biases are folded into the indexed vectors.
func (sm *servingModel) annQuery(user int32, h *history) []float32 {
	ue := sm.m.(model.UserEmbedder)
	q, ok := sm.query(user, h)
	if !ok {
		return nil
	}
	dim, _ := ue.ItemVectors()
	x := make([]float32, sm.index.Dim())
	if !ue.UserVector(q, x[:dim]) {
		return nil
	}
	if sm.index.Dim() > dim {
		x[dim] = 1
	}
	return x
}

// top retrieves the n best allowed items (service indices) through the index.
func (sm *servingModel) top(user int32, h *history, n int, allow func(int32) bool) []scored {
	x := sm.annQuery(user, h)
	if x == nil {
		return nil
	}
	hits := sm.index.Search(x, n, func(mi int32) bool {
		si := sm.fromModel[mi]
		return si >= 0 && allow(si)
	})
	out := make([]scored, len(hits))
	for k, hit := range hits {
		out[k] = scored{item: sm.fromModel[hit.Index], score: hit.Score}
	}
	return out
}

// buildIndex makes the nearest-neighbour index of a large factor model
// (nil when the catalogue is below threshold). Item biases are folded in as
// one more dimension (the query's is 1). A quantised index re-ranks its
// short list with the model's own float32 vectors, so it needs no copy of
// them.
func buildIndex(ctx context.Context, ue model.UserEmbedder, threshold int, quant ann.Quant) (*ann.IVF, error) {
	dim, vecs := ue.ItemVectors()
	if dim == 0 || len(vecs)/dim < threshold {
		return nil, nil
	}
	bias := ue.ItemBias()
	idim, ivecs := dim, vecs
	if bias != nil {
		aug := make([]float32, 0, len(vecs)/dim*(dim+1))
		for i := 0; i < len(vecs)/dim; i++ {
			aug = append(aug, vecs[i*dim:(i+1)*dim]...)
			aug = append(aug, bias[i])
		}
		idim, ivecs = dim+1, aug
	}
	x, err := ann.BuildIVF(ctx, idim, ivecs, ann.IVFOptions{Quant: quant}, nil)
	if err != nil {
		return nil, err
	}
	setRescore(x, ue)
	return x, nil
}

// itemScorer is a model that scores one item for a user vector from its
// own item storage (a sequence model serving int8 item vectors): a
// quantised index re-ranks by it and needs no float32 copy of the items.
type itemScorer interface {
	ItemScore(q []float32, id int32) float32
}

// setRescore gives a quantised index the model's exact scores.
func setRescore(x *ann.IVF, ue model.UserEmbedder) {
	if x.Quant() == ann.Float32 {
		return
	}
	if sc, ok := ue.(itemScorer); ok && ue.ItemBias() == nil {
		x.SetRescore(sc.ItemScore)
		return
	}
	dim, vecs := ue.ItemVectors()
	bias := ue.ItemBias()
	x.SetRescore(func(q []float32, id int32) float32 {
		s := vek32.Dot(q[:dim], vecs[int(id)*dim:int(id+1)*dim])
		if bias != nil {
			s += q[dim] * bias[id]
		}
		return s
	})
}

// indexTag names what an index was built from: the model version, the
// storage, the shape and a checksum of the vectors (a version number alone
// repeats when a data directory is recreated).
func indexTag(meta store.ModelMeta, ue model.UserEmbedder, quant ann.Quant) string {
	dim, vecs := ue.ItemVectors()
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	buf := make([]byte, 0, 1<<16)
	for _, part := range [][]float32{vecs, ue.ItemBias()} {
		for _, v := range part {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
		}
	}
	h.Write(buf)
	return fmt.Sprintf("%s@%d %s n=%d dim=%d bias=%v crc=%08x", meta.Name, meta.Version, quant, len(vecs)/max(dim, 1), dim, ue.ItemBias() != nil, h.Sum32())
}

// index returns the model's index: loaded from Config.IndexDir when a file
// there was built from this very model, else built (and saved there).
func (s *Service) index(ctx context.Context, meta store.ModelMeta, ue model.UserEmbedder) (ann.Index, error) {
	dim, vecs := ue.ItemVectors()
	if dim == 0 || len(vecs)/dim < s.cfg.ANNThreshold {
		return nil, nil
	}
	vectors := s.cfg.Vectors
	if v, ok := s.cfg.ModelVectors[meta.Name]; ok {
		vectors = v
	}
	quant, err := ann.ParseQuant(vectors)
	if err != nil {
		return nil, err
	}
	var path, tag string
	if s.cfg.IndexDir != "" {
		path = filepath.Join(s.cfg.IndexDir, url.PathEscape(meta.Name)+".ivf")
		tag = indexTag(meta, ue, quant)
		start := time.Now()
		x, err := ann.LoadIVF(path, tag)
		if err == nil {
			setRescore(x, ue)
			s.indexLoaded.Add(1)
			s.log.Info("nearest-neighbour index loaded", "model", meta.Name, "version", meta.Version, "items", x.Len(), "vectors", x.Quant().String(), "seconds", time.Since(start).Seconds())
			return x, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.Info("rebuilding the nearest-neighbour index", "model", meta.Name, "version", meta.Version, "reason", err)
		}
	}
	start := time.Now()
	x, err := buildIndex(ctx, ue, s.cfg.ANNThreshold, quant)
	if err != nil || x == nil {
		return nil, err
	}
	s.indexBuilt.Add(1)
	s.log.Info("nearest-neighbour index built", "model", meta.Name, "version", meta.Version, "items", x.Len(), "vectors", quant.String(), "seconds", time.Since(start).Seconds())
	if path != "" {
		if err := ann.SaveIVF(path, x, tag); err != nil {
			s.log.Warn("cannot save the nearest-neighbour index; the next start builds it again", "model", meta.Name, "error", err)
		}
	}
	return x, nil
}

// IndexStats counts the nearest-neighbour indexes of factor models built
// and loaded from Config.IndexDir since the service started.
func (s *Service) IndexStats() (built, loaded int64) {
	return s.indexBuilt.Load(), s.indexLoaded.Load()
}

// modelSet is the immutable set of serving models; it is swapped whole.
type modelSet struct {
	byName  map[string]*servingModel
	primary *servingModel
}

// query maps a user and history into the model's indices; false when
// there is nothing to score from (an unknown user with no known items).
func (sm *servingModel) query(user int32, h *history) (model.Query, bool) {
	q := model.Query{User: user}
	items, weights := h.items, h.weights
	if h.whole != nil {
		// the user's whole history, weighed as the model's validation chose
		items, weights = h.whole, sm.weighting.QueryWeights(h.wholeRaw)
		// what the user did after the model's data was read, the model has
		// not seen and its validation could not weigh: it counts freshBoost
		// times, so a shopper's clicks move their row at once
		cut := dataTime(sm.meta).Unix()
		for k := range weights {
			if k < len(h.wholeLast) && h.wholeLast[k] > cut {
				weights[k] *= freshBoost
			}
		}
	}
	for k, i := range items {
		if int(i) < len(sm.toModel) && sm.toModel[i] >= 0 {
			q.History = append(q.History, sm.toModel[i])
			q.HistoryWeights = append(q.HistoryWeights, weights[k])
		}
	}
	return q, user >= 0 || len(q.History) > 0
}

// freshBoost is the query weight factor of an item the user took after
// the serving model's data was read: 1 + the largest recent-event boost
// validation may choose (pipeline's recency grid), so the newest clicks
// steer the answer at least as much as any chosen weighting would let
// them, whatever the validation chose for the history the model saw.
const freshBoost = 4

// embedder returns the model as a user embedder (false for nil or other models).
func (sm *servingModel) embedder() (model.UserEmbedder, bool) {
	if sm == nil {
		return nil, false
	}
	ue, ok := sm.m.(model.UserEmbedder)
	return ue, ok
}

func (sm *servingModel) label() string { return fmt.Sprintf("%s@%d", sm.meta.Name, sm.meta.Version) }

// score runs the model for a user (index or -1) with history h and returns
// scores in service item space (NaN for items the model does not know).
func (sm *servingModel) score(user int32, h *history, nItems int) []float32 {
	q, ok := sm.query(user, h)
	if !ok {
		return nil
	}
	ms := make([]float32, len(sm.fromModel))
	sm.m.Score(q, ms)
	return sm.toService(ms, nItems)
}

func (sm *servingModel) toService(ms []float32, nItems int) []float32 {
	out := make([]float32, nItems)
	for i := range out {
		out[i] = float32(math.NaN())
	}
	for mi, si := range sm.fromModel {
		if si >= 0 && int(si) < nItems {
			out[si] = ms[mi]
		}
	}
	return out
}

// similar scores items by similarity to src through the model, naming how.
func (sm *servingModel) similar(src int32, nItems int) ([]float32, string) {
	if int(src) >= len(sm.toModel) || sm.toModel[src] < 0 {
		return nil, ""
	}
	mi := sm.toModel[src]
	ms := make([]float32, len(sm.fromModel))
	if sim, ok := sm.m.(model.SimilarItems); ok {
		sim.Similar(mi, ms)
		return sm.toService(ms, nItems), "co-occurrence"
	}
	if sm.unitVecs != nil {
		q := sm.unitVecs[int(mi)*sm.dim : int(mi+1)*sm.dim]
		for j := range ms {
			v := sm.unitVecs[j*sm.dim : (j+1)*sm.dim]
			var d float32
			for k := range q {
				d += q[k] * v[k]
			}
			ms[j] = d
		}
		return sm.toService(ms, nItems), "embedding"
	}
	return nil, ""
}

// load builds a servingModel from a stored version.
func (s *Service) load(ctx context.Context, meta store.ModelMeta) (*servingModel, error) {
	var art *pipeline.Artifact
	err := s.st.ReadModel(ctx, meta.Name, meta.Version, func(_ store.ModelMeta, r io.Reader) error {
		var err error
		art, err = pipeline.ReadArtifact(r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load %s@%d: %w", meta.Name, meta.Version, err)
	}
	sm := &servingModel{meta: meta, m: art.Model, weighting: art.Weighting, users: make(map[string]int32, len(art.UserIDs))}
	for u, id := range art.UserIDs {
		if !pipeline.IsTombstone(id) { // a forgotten user, scrubbed
			sm.users[id] = int32(u)
		}
	}
	n := s.items.len()
	sm.toModel = make([]int32, n)
	for i := range sm.toModel {
		sm.toModel[i] = -1
	}
	sm.fromModel = make([]int32, len(art.ItemIDs))
	for mi, id := range art.ItemIDs {
		sm.fromModel[mi] = -1
		if si, ok := s.items.lookup(id); ok && int(si) < n {
			sm.fromModel[mi] = si
			sm.toModel[si] = int32(mi)
		}
	}
	if ue, ok := art.Model.(model.UserEmbedder); ok && s.cfg.ANNThreshold > 0 {
		idx, err := s.index(ctx, meta, ue)
		if err != nil {
			return nil, fmt.Errorf("index %s@%d: %w", meta.Name, meta.Version, err)
		}
		sm.index = idx
	}
	if emb, ok := art.Model.(model.ItemEmbedder); ok && sm.index == nil {
		dim, vecs := emb.ItemVectors()
		if dim > 0 && len(vecs) == dim*len(art.ItemIDs) {
			sm.dim = dim
			sm.unitVecs = make([]float32, len(vecs))
			for r := 0; r < len(art.ItemIDs); r++ {
				row := vecs[r*dim : (r+1)*dim]
				var norm float64
				for _, x := range row {
					norm += float64(x) * float64(x)
				}
				if norm > 0 {
					inv := float32(1 / math.Sqrt(norm))
					for k, x := range row {
						sm.unitVecs[r*dim+k] = x * inv
					}
				}
			}
		}
	}
	return sm, nil
}

// LoadModels loads the serving version of every stored model (promoting
// the newest candidate of a model that has none) and swaps them in.
func (s *Service) LoadModels(ctx context.Context) error {
	metas, err := s.st.ListModels(ctx, "")
	if err != nil {
		return fmt.Errorf("list models: %w", err)
	}
	serving := map[string]store.ModelMeta{}
	newest := map[string]store.ModelMeta{}
	for _, m := range metas {
		if m.Status == StatusServing {
			serving[m.Name] = m // the list is oldest first: the last wins
		}
		if m.Status == StatusCandidate {
			newest[m.Name] = m
		}
	}
	for name, m := range newest {
		if _, ok := serving[name]; !ok && s.learner(name) == nil {
			m.Status = StatusServing
			if err := s.st.UpdateModelMeta(ctx, m); err != nil {
				return fmt.Errorf("promote %s@%d: %w", name, m.Version, err)
			}
			serving[name] = m
		}
	}
	set := &modelSet{byName: map[string]*servingModel{}}
	for name, meta := range serving {
		if s.learner(name) != nil {
			continue // another kind of model, loaded by its learner
		}
		sm, err := s.load(ctx, meta)
		if err != nil {
			s.log.Error("cannot load model; it will not serve", "model", name, "version", meta.Version, "error", err)
			continue
		}
		set.byName[name] = sm
	}
	set.primary = s.pickPrimary(set)
	s.models.Store(set)
	if set.primary != nil {
		s.log.Info("serving models", "primary", set.primary.label(), "count", len(set.byName))
	}
	return nil
}

func ndcg(m store.ModelMeta) float64 {
	if v, ok := m.Metrics["NDCG@10"]; ok {
		return v
	}
	return -1
}

// servedValidated reports whether a version was measured by the
// served-path validation (pipeline.ServedValidationKey).
func servedValidated(m store.ModelMeta) bool { return m.Metrics[pipeline.ServedValidationKey] == 1 }

// better reports whether a's validation beats b's: a version measured the
// way the server answers beats one measured otherwise (the numbers of two
// protocols do not compare), then by NDCG@10.
func better(a, b store.ModelMeta) bool {
	if sa, sb := servedValidated(a), servedValidated(b); sa != sb {
		return sa
	}
	return ndcg(a) > ndcg(b)
}

func (s *Service) pickPrimary(set *modelSet) *servingModel {
	if sm, ok := set.byName[s.cfg.Primary]; ok {
		return sm
	}
	var best *servingModel
	names := make([]string, 0, len(set.byName))
	for n := range set.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		sm := set.byName[n]
		if best == nil || better(sm.meta, best.meta) {
			best = sm
		}
	}
	return best
}

// similarModel picks the model for similar items: co-occurrence models
// first, then the primary model's embeddings, then any other.
func (s *Service) similarModel() *servingModel {
	set := s.models.Load()
	if sm, ok := set.byName["itemknn"]; ok {
		return sm
	}
	if p := set.primary; p != nil {
		if _, ok := p.m.(model.SimilarItems); ok || p.unitVecs != nil {
			return p
		}
	}
	for _, sm := range set.byName {
		if _, ok := sm.m.(model.SimilarItems); ok || sm.unitVecs != nil {
			return sm
		}
	}
	return nil
}

// ModelInfo describes one stored model version for GET /api/models.
type ModelInfo struct {
	store.ModelMeta
	Serving bool `json:"serving"`
	Primary bool `json:"primary"`
}

// Models lists every stored version, newest first within each model.
func (s *Service) Models(ctx context.Context) ([]ModelInfo, error) {
	metas, err := s.st.ListModels(ctx, "")
	if err != nil {
		return nil, err
	}
	set := s.models.Load()
	out := make([]ModelInfo, 0, len(metas))
	for _, m := range metas {
		sm := set.byName[m.Name]
		info := ModelInfo{ModelMeta: m}
		info.Serving = sm != nil && sm.meta.Version == m.Version
		if l := s.learner(m.Name); l != nil {
			// what ranks now, not the stored status: a version whose
			// artefact failed to load is marked serving but does not serve
			info.Serving, sm = l.ServingVersion() == m.Version, nil
		}
		info.Primary = info.Serving && sm != nil && set.primary == sm
		out = append(out, info)
	}
	slices.SortStableFunc(out, func(a, b ModelInfo) int {
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(b.Version, a.Version)
	})
	return out, nil
}

// ErrNoRollback is returned when a model has no earlier version to go back to.
var ErrNoRollback = store.ErrNoRollback

// Rollback makes the version that served before the current one serve
// again. The current version is marked rolled_back. A name registered with
// AddLearner is rolled back by that learner.
func (s *Service) Rollback(ctx context.Context, name string) (store.ModelMeta, error) {
	if l := s.learner(name); l != nil {
		return l.Rollback(ctx)
	}
	s.lifecycleMu.Lock() // a rollback and a retraining's promotion do not interleave
	defer s.lifecycleMu.Unlock()
	meta, err := store.RollbackVersion(ctx, s.st, name, func(m store.ModelMeta) error {
		sm, err := s.load(ctx, m)
		if err != nil {
			return err
		}
		s.swap(name, sm)
		return nil
	})
	if err == nil {
		s.log.Info("rolled back", "model", name, "to", meta.Version)
	}
	return meta, err
}

// swap replaces (or adds) one serving model atomically.
func (s *Service) swap(name string, sm *servingModel) {
	for {
		old := s.models.Load()
		next := &modelSet{byName: make(map[string]*servingModel, len(old.byName)+1)}
		for n, m := range old.byName {
			next.byName[n] = m
		}
		next.byName[name] = sm
		next.primary = s.pickPrimary(next)
		if s.models.CompareAndSwap(old, next) {
			return
		}
	}
}

// Promote makes a stored version serve if its validation NDCG@10 is not
// worse than the serving version's (within PromoteTolerance); otherwise it
// is marked rejected. It reports whether the version now serves (true with
// an error when the previous version could not be marked retired).
func (s *Service) Promote(ctx context.Context, name string, version int) (bool, error) {
	s.lifecycleMu.Lock()
	defer s.lifecycleMu.Unlock()
	ok, err := store.PromoteVersion(ctx, s.st, name, version,
		func(cand store.ModelMeta, cur *store.ModelMeta) (bool, string) {
			if cur != nil && s.priv.forgottenAfter(dataTime(*cur)) && !s.priv.forgottenAfter(dataTime(cand)) {
				return true, "" // the serving version holds data of users forgotten since: replace it whatever it scores
			}
			if cur != nil && servedValidated(*cur) && !servedValidated(cand) {
				return false, fmt.Sprintf("it was not measured by the served-path validation, and serving version %d was", cur.Version)
			}
			if cur != nil && servedValidated(cand) == servedValidated(*cur) && ndcg(cand) < ndcg(*cur)*(1-s.cfg.PromoteTolerance) {
				return false, fmt.Sprintf("validation NDCG@10 %.4f is worse than serving version %d (%.4f)", ndcg(cand), cur.Version, ndcg(*cur))
			}
			return true, ""
		},
		func(m store.ModelMeta) error {
			sm, err := s.load(ctx, m)
			if err != nil {
				return err
			}
			s.swap(name, sm)
			return nil
		})
	if err != nil {
		return ok, err // ok: it serves, but its predecessor's status could not be updated
	}
	if ok {
		s.log.Info("promoted", "model", name, "version", version)
	} else {
		s.log.Warn("retrained model is worse; keeping the serving version", "model", name, "version", version)
	}
	return ok, nil
}

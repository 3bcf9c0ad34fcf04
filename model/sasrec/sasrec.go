package sasrec

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/ann"
	"github.com/aisle-dev/aisle/model"
)

// Name is the model's registered name.
const Name = "sasrec"

// Config holds the hyper-parameters. Start from DefaultConfig.
type Config struct {
	Dim         int     // embedding and hidden width d
	Layers      int     // number of self-attention blocks
	Heads       int     // attention heads per block; must divide Dim
	FFN         int     // hidden width of the feed-forward layers
	MaxLen      int     // longest input sequence; older events are ignored
	Dropout     float64 // dropout on embeddings, attention output and FFN output
	AttnDropout float64 // dropout on attention probabilities
	LR          float64 // Adam learning rate
	WeightDecay float64 // decoupled (AdamW) weight decay
	Batch       int     // sequences per gradient step
	Epochs      int     // maximum number of passes over the sequences
	// Patience stops training after this many validations without a better
	// NDCG@10; the best epoch's weights are kept. Validation runs after
	// every epoch, or every few epochs when an epoch is under 100 steps.
	Patience int
	// ValidUsers is how many users (at most) Fit holds out for early
	// stopping: their last training interaction becomes the validation
	// target and is not trained on. 0 trains all Epochs without validation.
	ValidUsers int
	Threads    int    // goroutines for training and validation; 0 = GOMAXPROCS
	Seed       uint64 // seed of initialisation, shuffling and dropout
	// Negatives > 0 replaces the full-catalogue softmax with a sampled
	// softmax over that many uniform negatives shared by each batch, about
	// items/Negatives times cheaper per position; catalogues with fewer than
	// 2·Negatives items always use the full softmax. 0 always ranks over
	// the whole catalogue.
	Negatives int
	// UseAttrs adds to every item's vector the mean of learned vectors of its
	// attributes (Dataset.ItemAttrs: categories, brand, tags) when the
	// Dataset has them, so that items with few or no interactions still get
	// a useful vector.
	UseAttrs bool
	// CLWeight > 0 adds a contrastive loss (DuoRec's model-level
	// augmentation): two dropout views of each sequence should have matching
	// last-position representations, against the batch's other sequences
	// (InfoNCE with temperature CLTemp, dot-product similarity). 0 disables.
	CLWeight float64
	CLTemp   float64
	// TimeBudget stops training after this long (checked between batches);
	// the best validated weights are kept. 0 means no limit.
	TimeBudget time.Duration
	// Int8 serves the item table in int8 with a scale per item after Fit
	// or Load (a quarter of the memory at d=64; see int8.go). Training is
	// unchanged.
	Int8 bool
}

// DefaultConfig returns the defaults, chosen on the validation item of the
// public sequential benchmarks (docs/benchmarks.md).
func DefaultConfig() Config {
	return Config{
		Dim: 64, Layers: 2, Heads: 2, FFN: 256, MaxLen: 50,
		Dropout: 0.5, AttnDropout: 0.5, Negatives: 1024,
		LR: 2e-3, WeightDecay: 0, Batch: 128,
		Epochs: 200, Patience: 5, ValidUsers: 10000,
		Seed: 1, UseAttrs: true, CLWeight: 0, CLTemp: 1,
	}
}

// paramNames maps model.Params names to Config fields.
var paramNames = []string{"dim", "layers", "heads", "ffn", "maxlen", "dropout", "attn_dropout",
	"lr", "weight_decay", "batch", "epochs", "patience", "valid_users", "threads", "seed", "negatives", "time_budget" /* seconds */, "int8" /* 0 or 1 */, "attrs" /* 0 or 1 */, "cl_weight", "cl_temp"}

// ConfigFromParams applies p over DefaultConfig; unknown names are an error.
func ConfigFromParams(p model.Params) (Config, error) {
	c := DefaultConfig()
	for k, v := range p {
		switch k {
		case "dim":
			c.Dim = int(v)
		case "layers":
			c.Layers = int(v)
		case "heads":
			c.Heads = int(v)
		case "ffn":
			c.FFN = int(v)
		case "maxlen":
			c.MaxLen = int(v)
		case "dropout":
			c.Dropout = v
		case "attn_dropout":
			c.AttnDropout = v
		case "lr":
			c.LR = v
		case "weight_decay":
			c.WeightDecay = v
		case "batch":
			c.Batch = int(v)
		case "epochs":
			c.Epochs = int(v)
		case "patience":
			c.Patience = int(v)
		case "valid_users":
			c.ValidUsers = int(v)
		case "threads":
			c.Threads = int(v)
		case "seed":
			c.Seed = uint64(v)
		case "cl_weight":
			c.CLWeight = v
		case "cl_temp":
			c.CLTemp = v
		case "attrs":
			c.UseAttrs = v != 0
		case "negatives":
			c.Negatives = int(v)
		case "time_budget":
			c.TimeBudget = time.Duration(v * float64(time.Second))
		case "int8":
			c.Int8 = v != 0
		default:
			return c, fmt.Errorf("sasrec: unknown parameter %q (known: %v)", k, paramNames)
		}
	}
	return c, c.validate()
}

func (c Config) validate() error {
	switch {
	case c.Dim < 1 || c.Dim > 4096:
		return fmt.Errorf("sasrec: dim %d out of range 1..4096", c.Dim)
	case c.Layers < 1 || c.Layers > 64:
		return fmt.Errorf("sasrec: layers %d out of range 1..64", c.Layers)
	case c.Heads < 1 || c.Dim%c.Heads != 0:
		return fmt.Errorf("sasrec: heads %d must divide dim %d", c.Heads, c.Dim)
	case c.FFN < 1 || c.FFN > 1<<16:
		return fmt.Errorf("sasrec: ffn %d out of range 1..65536", c.FFN)
	case c.MaxLen < 1 || c.MaxLen > 4096:
		return fmt.Errorf("sasrec: maxlen %d out of range 1..4096", c.MaxLen)
	case c.Dropout < 0 || c.Dropout >= 1 || c.AttnDropout < 0 || c.AttnDropout >= 1:
		return fmt.Errorf("sasrec: dropout %g / attn_dropout %g must be in [0,1)", c.Dropout, c.AttnDropout)
	case !(c.LR > 0) || c.WeightDecay < 0:
		return fmt.Errorf("sasrec: lr %g must be > 0 and weight_decay %g ≥ 0", c.LR, c.WeightDecay)
	case c.CLWeight < 0 || !(c.CLTemp > 0):
		return fmt.Errorf("sasrec: cl_weight %g must be ≥ 0 and cl_temp %g > 0", c.CLWeight, c.CLTemp)
	case c.Negatives < 0 || c.TimeBudget < 0:
		return fmt.Errorf("sasrec: negatives %d and time_budget %s must be ≥ 0", c.Negatives, c.TimeBudget)
	case c.Batch < 1 || c.Epochs < 1 || c.Patience < 1 || c.ValidUsers < 0 || c.Threads < 0:
		return fmt.Errorf("sasrec: batch, epochs and patience must be ≥ 1, valid_users and threads ≥ 0")
	}
	return nil
}

// Model is a SASRec-style self-attention next-item recommender trained with
// the full-catalogue softmax loss. It implements model.Model and
// model.ItemEmbedder. Score is safe for concurrent use after Fit or Load.
type Model struct {
	cfg  Config
	dm   dims
	w    []float32 // every parameter, laid out by dm.layout
	p    params
	pop  []float32 // log(1+count) of each item, the answer for an empty history
	pool sync.Pool // *workspace for Score

	attrs itemAttrs  // item→attribute relation when side information is used
	users itemAttrs  // the last MaxLen training items of each user (same CSR shape), for queries without history
	items []float32  // item vectors the network uses: E, plus attribute means when attrs are used
	pn    params     // p with emb replaced by items
	q8    *ann.Table // the item table in int8 when Config.Int8 (then items is nil)
	rest  []float32  // int8 without attributes: the parameters after the item table (then w is nil)
}

// New returns an untrained model.
func New(cfg Config) (*Model, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Model{cfg: cfg}, nil
}

// Name implements model.Model.
func (m *Model) Name() string { return Name }

// Config returns the model's hyper-parameters.
func (m *Model) Config() Config { return m.cfg }

// NumItems is the catalogue size of the fitted model (0 before Fit or Load).
func (m *Model) NumItems() int { return m.dm.items }

// ItemVectors implements model.ItemEmbedder with the item embedding table,
// which is also the output layer: Score is the dot product of the sequence
// representation with these vectors.
// An int8 model returns a dequantised copy, made at each call.
func (m *Model) ItemVectors() (int, []float32) {
	if m.q8 != nil {
		return m.dm.d, m.q8.Decode()
	}
	return m.dm.d, m.items
}

// Case is one validation example: a history (oldest first) and the item
// that followed it.
type Case struct {
	History []int32
	Target  int32
}

func (m *Model) threads() int {
	if m.cfg.Threads > 0 {
		return m.cfg.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// Fit trains on every row of ds as one time-ordered sequence. Unless
// Config.ValidUsers is 0, it holds out the last interaction of up to
// ValidUsers users (chosen at random among those with at least 3) for early
// stopping and keeps the weights of the best epoch.
func (m *Model) Fit(ctx context.Context, ds *model.Dataset, progress model.Progress) error {
	rng := rand.New(rand.NewPCG(m.cfg.Seed, 0x5eed))
	rows := make([][]int32, ds.NumUsers())
	for u := range rows {
		rows[u] = ds.Row(u)
	}
	var valid []Case
	if m.cfg.ValidUsers > 0 {
		var cand []int
		for u, r := range rows {
			if len(r) >= 3 {
				cand = append(cand, u)
			}
		}
		rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
		if len(cand) > m.cfg.ValidUsers {
			cand = cand[:m.cfg.ValidUsers]
		}
		sort.Ints(cand)
		for _, u := range cand {
			r := rows[u]
			valid = append(valid, Case{History: r[:len(r)-1], Target: r[len(r)-1]})
			rows[u] = r[:len(r)-1]
		}
	}
	if err := m.fit(ctx, ds, rows, valid, progress); err != nil {
		return err
	}
	m.serveInt8()
	return nil
}

// FitValidation trains on every row of ds and stops early on the given
// validation cases (e.g. each user's next item from a later time window)
// instead of holding out part of ds. With no cases it trains all Epochs.
func (m *Model) FitValidation(ctx context.Context, ds *model.Dataset, valid []Case, progress model.Progress) error {
	rows := make([][]int32, ds.NumUsers())
	for u := range rows {
		rows[u] = ds.Row(u)
	}
	if err := m.fit(ctx, ds, rows, valid, progress); err != nil {
		return err
	}
	m.serveInt8()
	return nil
}

// Score implements model.Model: the representation of q.History (its last
// MaxLen items; ids outside the catalogue are skipped) is scored against
// every item. A known user (q.User ≥ 0) without History uses the end of
// their training sequence; an empty history otherwise scores items by
// training popularity.
func (m *Model) Score(q model.Query, scores []float32) {
	ws := m.workspace()
	defer m.pool.Put(ws)
	m.scoreWith(ws, m.history(q), scores[:m.dm.items])
}

// workspace takes a serving workspace from the pool (put it back after).
func (m *Model) workspace() *workspace {
	if ws, ok := m.pool.Get().(*workspace); ok {
		return ws
	}
	return newWorkspace(m.dm)
}

// history is the sequence a query is answered from: q.History, or for a
// known user without one the end of their training sequence.
func (m *Model) history(q model.Query) []int32 {
	if len(q.History) == 0 && q.User >= 0 && int(q.User)+1 < len(m.users.ptr) {
		return m.users.idx[m.users.ptr[q.User]:m.users.ptr[q.User+1]]
	}
	return q.History
}

// scoreWith is Score of a history with a caller-owned workspace: the
// history's representation scored against every item of the table, or
// popularity when no history item is in the catalogue.
func (m *Model) scoreWith(ws *workspace, history []int32, scores []float32) {
	h := m.represent(ws, history)
	if h == nil {
		copy(scores, m.pop)
		return
	}
	m.table().Scores(scores, h)
}

// represent returns the d-vector of the history's last position (nil when
// no history item is in the catalogue); it is valid until ws is reused.
// The history's rows are read from the item table (float32 or int8) into
// the workspace and the network reads them as a small table of its own.
func (m *Model) represent(ws *workspace, history []int32) []float32 {
	L, d := m.dm.maxLen, m.dm.d
	buf := ws.buf[:0]
	for i := len(history) - 1; i >= 0 && len(buf) < L; i-- {
		if it := history[i]; it >= 0 && int(it) < m.dm.items {
			buf = append(buf, it)
		}
	}
	ws.buf = buf
	n := len(buf)
	if n == 0 {
		return nil
	}
	slices.Reverse(buf)
	if cap(ws.qemb) < n*d {
		ws.qemb = make([]float32, L*d)
		ws.qpos = make([]int32, L)
	}
	emb, pos := ws.qemb[:n*d], ws.qpos[:n]
	m.table().Rows(emb, buf)
	for j := range pos {
		pos[j] = int32(j)
	}
	p := m.pn
	p.emb = emb
	out := forward(p, ws, pos, 0, 0, nil)
	return out[(n-1)*d : n*d]
}

// UserVector implements model.UserEmbedder: the representation of the
// query's history (as Score reads it), whose dot product with ItemVectors
// is the score, so a large catalogue is served through the
// nearest-neighbour index like a factor model. False when no history item
// is in the catalogue (Score then answers by popularity).
func (m *Model) UserVector(q model.Query, dst []float32) bool {
	ws := m.workspace()
	defer m.pool.Put(ws)
	h := m.represent(ws, m.history(q))
	if h == nil {
		return false
	}
	copy(dst, h)
	return true
}

// ItemBias implements model.UserEmbedder: the score has no item bias.
func (m *Model) ItemBias() []float32 { return nil }

// ItemScore is the model's own score of item id for the user vector q
// (from the int8 table when the model serves in int8): what a quantised
// nearest-neighbour index re-ranks its short list by, without a float32
// copy of the items.
func (m *Model) ItemScore(q []float32, id int32) float32 {
	d := m.dm.d
	if m.q8 != nil {
		return m.q8.Score(q[:d], id)
	}
	return dot(q[:d], m.items[int(id)*d:int(id+1)*d])
}

// setDims allocates the parameters for a catalogue of n items and a
// attributes ids (0 without side information).
func (m *Model) setDims(n, a int) {
	c := m.cfg
	m.dm = dims{items: n, d: c.Dim, heads: c.Heads, ffn: c.FFN, maxLen: c.MaxLen, layers: c.Layers, attrs: a}
	m.w = make([]float32, m.dm.size())
	m.p = m.dm.layout(m.w)
	m.pop = make([]float32, n)
	m.pool = sync.Pool{}
	m.items, m.q8, m.rest = nil, nil, nil
}

// refreshItems recomputes the item vectors from E and the attribute vectors
// after the parameters changed.
func (m *Model) refreshItems() {
	if m.dm.attrs == 0 {
		m.items = m.p.emb
	} else {
		if len(m.items) != len(m.p.emb) {
			m.items = make([]float32, len(m.p.emb))
		}
		m.attrs.compose(m.items, m.p.emb, m.p.attr, m.dm.d)
	}
	m.pn = m.p
	m.pn.emb = m.items
}

// popularity sets pop from the training sequences.
func (m *Model) popularity(rows [][]int32) {
	cnt := make([]float64, m.dm.items)
	for _, r := range rows {
		for _, it := range r {
			if it >= 0 && int(it) < len(cnt) {
				cnt[it]++
			}
		}
	}
	for j, c := range cnt {
		m.pop[j] = float32(math.Log1p(c))
	}
}

// keepUserTails stores the last MaxLen items of every row of ds.
func (m *Model) keepUserTails(ds *model.Dataset) {
	u := itemAttrs{ptr: make([]int32, 1, ds.NumUsers()+1)}
	for i := 0; i < ds.NumUsers(); i++ {
		u.idx = append(u.idx, lastWindow(ds.Row(i), m.cfg.MaxLen)...)
		u.ptr = append(u.ptr, int32(len(u.idx)))
	}
	m.users = u
}

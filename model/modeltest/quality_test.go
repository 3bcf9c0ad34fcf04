package modeltest_test

// Full-data quality benchmarks of the models on the public data sets, run only
// on request (go test -run XXX -bench Quality -benchtime 1x ./model/modeltest/)
// and skipped when the data is absent. Environment:
//
//	AISLE_MODELS  models and params, e.g. "ials:factors=128,reg=5;ease:lambda=300"
//	              (default: every model of the zoo with its defaults)
//	AISLE_SPLIT   "valid" to measure on validation data (tuning), else "test"
//	AISLE_QUERY   "foldin" to query with the training row as History, else the known user

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/zoo"
)

type spec struct {
	name string
	p    model.Params
}

func specs(tb testing.TB) []spec {
	env := os.Getenv("AISLE_MODELS")
	if env == "" {
		return []spec{{"popular", nil}, {"itemknn", nil}, {"bpr", nil}, {"ials", nil}, {"ease", nil}}
	}
	var out []spec
	for _, part := range strings.Split(env, ";") {
		name, args, _ := strings.Cut(strings.TrimSpace(part), ":")
		p := model.Params{}
		if args != "" {
			for _, kv := range strings.Split(args, ",") {
				k, v, _ := strings.Cut(kv, "=")
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					tb.Fatalf("AISLE_MODELS: %q: %v", kv, err)
				}
				p[k] = f
			}
		}
		out = append(out, spec{name, p})
	}
	return out
}

// build turns per-user item lists into a Dataset (rows in the given order).
func build(rows [][]int32, numItems int) *model.Dataset {
	ds := &model.Dataset{UserPtr: []int{0}}
	for u, r := range rows {
		ds.UserIDs = append(ds.UserIDs, strconv.Itoa(u))
		ds.Items = append(ds.Items, r...)
		ds.UserPtr = append(ds.UserPtr, len(ds.Items))
	}
	for i := 0; i < numItems; i++ {
		ds.ItemIDs = append(ds.ItemIDs, strconv.Itoa(i))
	}
	return ds
}

// evaluate returns mean Recall@k and NDCG@k (binary gains, ideal DCG over
// min(k, |test|)) over users with test items, training items excluded.
func evaluate(m model.Model, train *model.Dataset, test [][]int32, k int, foldIn bool) (recall, ndcg float64) {
	type res struct{ r, n float64 }
	workers := runtime.GOMAXPROCS(0)
	out := make([]res, workers)
	counts := make([]int, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scores := make([]float32, train.NumItems())
			top := make([]int, 0, k)
			for u := w; u < len(test); u += workers {
				if len(test[u]) == 0 {
					continue
				}
				q := model.Query{User: int32(u)}
				if foldIn {
					q = model.Query{User: -1, History: train.Row(u), HistoryWeights: train.RowWeights(u)}
				}
				m.Score(q, scores)
				for _, it := range train.Row(u) {
					scores[it] = float32(math.Inf(-1))
				}
				top = top[:0]
				for i, s := range scores { // keep the k best, best first
					if len(top) == k && s <= scores[top[k-1]] {
						continue
					}
					if len(top) < k {
						top = append(top, i)
					} else {
						top[k-1] = i
					}
					for j := len(top) - 1; j > 0 && scores[top[j]] > scores[top[j-1]]; j-- {
						top[j], top[j-1] = top[j-1], top[j]
					}
				}
				set := map[int32]bool{}
				for _, it := range test[u] {
					set[it] = true
				}
				hits, dcg, idcg := 0, 0.0, 0.0
				for r, i := range top {
					if set[int32(i)] {
						hits++
						dcg += 1 / math.Log2(float64(r+2))
					}
				}
				for r := 0; r < min(k, len(set)); r++ {
					idcg += 1 / math.Log2(float64(r+2))
				}
				out[w].r += float64(hits) / float64(len(set))
				out[w].n += dcg / idcg
				counts[w]++
			}
		}()
	}
	wg.Wait()
	n := 0
	for w := range out {
		recall += out[w].r
		ndcg += out[w].n
		n += counts[w]
	}
	return recall / float64(n), ndcg / float64(n)
}

// fitTimed fits the model and returns it, the training seconds and the peak
// Go heap in use during the fit (sampled every 20 ms), in MB.
func fitTimed(b *testing.B, sp spec, train *model.Dataset) (model.Model, float64, float64) {
	m, err := zoo.New(sp.name, sp.p)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	t0 := time.Now()
	err = m.Fit(context.Background(), train, nil)
	secs := time.Since(t0).Seconds()
	close(done)
	wg.Wait()
	if err != nil {
		b.Fatalf("%s: %v", sp.name, err)
	}
	return m, secs, float64(peak.Load()-min(base, peak.Load())) / 1e6
}

// BenchmarkQualityML100k: 5-fold cross-validation over the shuffled ratings
// (seed 0), every rating a positive, NDCG@10. With AISLE_SPLIT=valid: fold 1
// only, and 20% of its training part (random) is held out and measured.
func BenchmarkQualityML100k(b *testing.B) {
	path := testdata.Path(b, "movielens-100k", "u.data")
	type rating struct {
		u, i int32
		t    int64
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var all []rating
	sc := bufio.NewScanner(f)
	uid, iid := map[string]int32{}, map[string]int32{}
	id := func(m map[string]int32, s string) int32 {
		if v, ok := m[s]; ok {
			return v
		}
		m[s] = int32(len(m))
		return m[s]
	}
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		t, _ := strconv.ParseInt(fs[3], 10, 64)
		all = append(all, rating{id(uid, fs[0]), id(iid, fs[1]), t})
	}
	nu, ni := len(uid), len(iid)
	rng := rand.New(rand.NewPCG(0, 0))
	rng.Shuffle(len(all), func(a, c int) { all[a], all[c] = all[c], all[a] })
	valid := os.Getenv("AISLE_SPLIT") == "valid"
	foldIn := os.Getenv("AISLE_QUERY") == "foldin"
	for _, sp := range specs(b) {
		var sumN, sumR, secs, peak float64
		folds := 5
		if valid {
			folds = 1
		}
		for fold := 0; fold < folds; fold++ {
			lo, hi := fold*len(all)/5, (fold+1)*len(all)/5
			var trainR []rating
			test := make([][]int32, nu)
			for j, r := range all {
				if j >= lo && j < hi {
					if !valid {
						test[r.u] = append(test[r.u], r.i)
					}
					continue
				}
				trainR = append(trainR, r)
			}
			if valid { // hold out 20% of the training part
				vr := rand.New(rand.NewPCG(1, 1))
				var keep []rating
				for _, r := range trainR {
					if vr.Float64() < 0.2 {
						test[r.u] = append(test[r.u], r.i)
					} else {
						keep = append(keep, r)
					}
				}
				trainR = keep
			}
			sort.SliceStable(trainR, func(a, c int) bool { return trainR[a].t < trainR[c].t })
			rows := make([][]int32, nu)
			for _, r := range trainR {
				rows[r.u] = append(rows[r.u], r.i)
			}
			train := build(rows, ni)
			m, s, mb := fitTimed(b, sp, train)
			peak = max(peak, mb)
			rec, nd := evaluate(m, train, test, 10, foldIn)
			sumN += nd
			sumR += rec
			secs += s
		}
		b.Logf("ML-100k %s %v split=%s foldin=%v: NDCG@10 %.4f Recall@10 %.4f train %.1fs/fold peak heap +%.0f MB",
			sp.name, sp.p, map[bool]string{true: "valid", false: "5-fold-test"}[valid], foldIn, sumN/float64(folds), sumR/float64(folds), secs/float64(folds), peak)
	}
}

func readLines(b *testing.B, path string) [][]int32 {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var out [][]int32
	for _, line := range strings.Split(string(data), "\n") {
		fs := strings.Fields(strings.TrimRight(line, "\r"))
		if len(fs) == 0 {
			continue
		}
		u, _ := strconv.Atoi(fs[0])
		for len(out) <= u {
			out = append(out, nil)
		}
		for _, f := range fs[1:] {
			v, _ := strconv.Atoi(f)
			out[u] = append(out[u], int32(v))
		}
	}
	return out
}

// BenchmarkQualityML1M: LCFN split, train on train.txt, Recall@20 and
// NDCG@20 on test.txt (or on validation_data.json with AISLE_SPLIT=valid).
func BenchmarkQualityML1M(b *testing.B) {
	dir := filepath.Dir(testdata.Path(b, "movielens-1m-implicit", "train.txt"))
	rows := readLines(b, filepath.Join(dir, "train.txt"))
	var test [][]int32
	split := "test"
	if os.Getenv("AISLE_SPLIT") == "valid" {
		split = "valid"
		data, err := os.ReadFile(filepath.Join(dir, "validation_data.json"))
		if err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(data, &test); err != nil {
			b.Fatal(err)
		}
	} else {
		test = readLines(b, filepath.Join(dir, "test.txt"))
	}
	ni := 0
	for _, r := range append(append([][]int32{}, rows...), test...) {
		for _, it := range r {
			ni = max(ni, int(it)+1)
		}
	}
	for len(test) < len(rows) {
		test = append(test, nil)
	}
	train := build(rows, ni)
	foldIn := os.Getenv("AISLE_QUERY") == "foldin"
	for _, sp := range specs(b) {
		m, secs, mb := fitTimed(b, sp, train)
		rec, nd := evaluate(m, train, test, 20, foldIn)
		b.Logf("ML-1M %s %v split=%s foldin=%v: Recall@20 %.4f NDCG@20 %.4f train %.1fs peak heap +%.0f MB", sp.name, sp.p, split, foldIn, rec, nd, secs, mb)
	}
}

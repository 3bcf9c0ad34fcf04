package itemfilter_test

import (
	"context"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/zoo"
)

// BenchmarkValidation is the validation sweep behind the defaults: it fits
// the model once per parameter set on a format's validation split and
// prints HR, NDCG and Recall at K over all items (history excluded), e.g.
//
//	AISLE_VALID_FORMAT=rechorus AISLE_VALID_PATH=../shared/data/amazon-office-5core \
//	AISLE_VALID_K=10 AISLE_VALID_GRID="gf_weight=0;gf_weight=0.6" \
//	go test -run '^$' -bench Validation -benchtime 1x ./model/itemfilter/
//
// AISLE_VALID_MODEL picks another zoo model; AISLE_VALID_TEST=1 measures on
// the test split instead (for the final numbers only).
func BenchmarkValidation(b *testing.B) {
	format, path := os.Getenv("AISLE_VALID_FORMAT"), os.Getenv("AISLE_VALID_PATH")
	if format == "" || path == "" {
		b.Skip("set AISLE_VALID_FORMAT and AISLE_VALID_PATH (and AISLE_VALID_K, AISLE_VALID_GRID)")
	}
	t := b
	d, err := eval.Load(context.Background(), format, path, eval.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sp := d.Validation
	if os.Getenv("AISLE_VALID_TEST") != "" {
		sp = &d.Splits[0]
	}
	k, err := strconv.Atoi(os.Getenv("AISLE_VALID_K"))
	if err != nil || k <= 0 {
		k = 10
	}
	mname := os.Getenv("AISLE_VALID_MODEL")
	if mname == "" {
		mname = "itemfilter"
	}
	for _, cfg := range strings.Split(os.Getenv("AISLE_VALID_GRID"), ";") {
		p := model.Params{}
		for _, kv := range strings.Split(cfg, ",") {
			if kv == "" {
				continue
			}
			a, b, _ := strings.Cut(kv, "=")
			v, err := strconv.ParseFloat(b, 64)
			if err != nil {
				t.Fatalf("AISLE_VALID_GRID: %q: %v", kv, err)
			}
			p[a] = v
		}
		m, err := zoo.New(mname, p)
		if err != nil {
			t.Fatal(err)
		}
		st := time.Now()
		if err := m.Fit(context.Background(), sp.Train, nil); err != nil {
			t.Fatal(err)
		}
		fit := time.Since(st)
		hr, nd, rc := scoreSplit(m, sp, k)
		t.Logf("%s %s: HR@%d %.4f NDCG %.4f Recall %.4f (fit %v)", mname, cfg, k, hr, nd, rc, fit.Round(time.Millisecond))
	}
}

func scoreSplit(m model.Model, sp *eval.Split, k int) (hr, nd, rc float64) {
	n := sp.Train.NumItems()
	workers := runtime.GOMAXPROCS(0)
	var mu sync.Mutex
	var wg sync.WaitGroup
	cnt := 0
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := make([]float32, n)
			var h, nn, r float64
			c := 0
			for i := w; i < len(sp.Cases); i += workers {
				cs := &sp.Cases[i]
				q := model.Query{User: cs.User, History: cs.History}
				m.Score(q, s)
				for _, e := range cs.Exclude {
					s[e] = float32(math.Inf(-1))
				}
				tg := map[int32]bool{}
				for _, x := range cs.Targets {
					tg[x] = true
				}
				top := make([]int, 0, k)
				for j, v := range s {
					if len(top) == k && v <= s[top[k-1]] {
						continue
					}
					if len(top) < k {
						top = append(top, j)
					} else {
						top[k-1] = j
					}
					for a := len(top) - 1; a > 0 && s[top[a]] > s[top[a-1]]; a-- {
						top[a], top[a-1] = top[a-1], top[a]
					}
				}
				hits, dcg, idcg := 0, 0.0, 0.0
				for rk, j := range top {
					if tg[int32(j)] {
						hits++
						dcg += 1 / math.Log2(float64(rk+2))
					}
				}
				for rk := 0; rk < min(k, len(tg)); rk++ {
					idcg += 1 / math.Log2(float64(rk+2))
				}
				if hits > 0 {
					h++
				}
				nn += dcg / idcg
				r += float64(hits) / float64(len(tg))
				c++
			}
			mu.Lock()
			hr, nd, rc, cnt = hr+h, nd+nn, rc+r, cnt+c
			mu.Unlock()
		}()
	}
	wg.Wait()
	return hr / float64(cnt), nd / float64(cnt), rc / float64(cnt)
}

package itemfilter_test

import (
	"context"
	"os"
	"strconv"
	"strings"
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
	t := b
	_, sp := envSplit(b, "set AISLE_VALID_FORMAT and AISLE_VALID_PATH (and AISLE_VALID_K, AISLE_VALID_GRID)")
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

// envSplit loads the split named by AISLE_VALID_FORMAT, AISLE_VALID_PATH and
// AISLE_VALID_TEST (validation unless set), or skips with why.
func envSplit(b *testing.B, why string) (format string, sp *eval.Split) {
	format, path := os.Getenv("AISLE_VALID_FORMAT"), os.Getenv("AISLE_VALID_PATH")
	if format == "" || path == "" {
		b.Skip(why)
	}
	d, err := eval.Load(context.Background(), format, path, eval.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	sp = d.Validation
	if os.Getenv("AISLE_VALID_TEST") != "" {
		sp = &d.Splits[0]
	}
	return format, sp
}

func scoreSplit(m model.Model, sp *eval.Split, k int) (hr, nd, rc float64) {
	return evalFunc(sp, k, func(i int, s []float32) {
		cs := &sp.Cases[i]
		m.Score(model.Query{User: cs.User, History: cs.History}, s)
	})
}

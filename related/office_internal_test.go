package related

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/demo"
	"github.com/aisle-dev/aisle/eval"
)

// OfficeRelations loads Amazon Office with the demo catalogue, or skips.
func OfficeRelations(tb testing.TB) *eval.Relations {
	tb.Helper()
	dir := os.Getenv("AISLE_SHARED_DATA")
	if dir == "" {
		tb.Skip("AISLE_SHARED_DATA is not set: the Amazon Office relations are needed")
	}
	r, err := demo.Open(demo.ItemsFile)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var items []catalog.Item
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var it catalog.Item
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			tb.Fatal(err)
		}
		items = append(items, it)
	}
	rel, err := eval.LoadReChorusRelations(filepath.Join(dir, "amazon-office-5core"), items)
	if err != nil {
		tb.Skipf("amazon-office-5core: %v", err)
	}
	return rel
}

// holdOutPanel is a spread of complement blends, from single signals to
// the learned ones, that BenchmarkHoldOutsOffice scores on each hold-out.
var holdOutPanel = []string{
	"behaviour=0.5,basket=1,leaf=0.2,path=0.2,brand=0.2,catpair=2,popular=0.05", // DefaultComplement
	"behaviour=2,basket=1.5,leaf=0.2,path=0.2,brand=0.2,catpair=2",              // learned on the next purchase
	"behaviour=3,basket=0.75,leaf=0.2,path=0.2,brand=0.2,catpair=2,popular=1",
	"behaviour=2,basket=0.75,leaf=0.5,path=0.5,brand=0.5,catpair=2",
	"behaviour=2,basket=0.75,leaf=1,path=0.5,brand=0.5,catpair=2",
	"behaviour=2,basket=0.75,catpair=2",
	"behaviour=2,basket=0.75,path=0.2,brand=0.2,catpair=2",
	"behaviour=1",
	"basket=1",
	"catpair=1",
	"popular=1",
	"leaf=1,catpair=1",
	"behaviour=1,leaf=1",
	"behaviour=2,basket=1.5,leaf=0.2,path=0.2,brand=0.2,catpair=5",
	"behaviour=2,basket=1.5,leaf=0.2,path=0.2,brand=0.2,catpair=1",
	"behaviour=0.5,basket=0.5,leaf=0.2,path=0.2,brand=0.2,catpair=2",
	"behaviour=2,basket=1.5,leaf=0.2,path=0.2,brand=0.2,catpair=2,popular=0.5",
	"behaviour=2,basket=1.5,leaf=0.2,path=0.2,brand=-0.2,catpair=2",
	"behaviour=2,basket=1.5,leaf=0.35,path=0.2,brand=0.2,catpair=1",
	"behaviour=1,basket=1.5,leaf=0.2,path=0.2,brand=0.2,catpair=1",
	"behaviour=2,basket=3,leaf=0.2,path=0.2,brand=0.2,catpair=1",
	"behaviour=2,basket=1.5,leaf=0.2,path=0.5,brand=0.2,catpair=1",
}

// BenchmarkHoldOutsOffice asks which hold-out of the shop's own purchases
// predicts bought-together quality against Office's "also bought" (the
// validation half of the relations; the test half is not read): it scores
// each blend of holdOutPanel on the hold-outs — the next purchase (what
// Learn fits today), whole shoppers (one fold) with item gains 1/n^β, and
// whole shoppers split into one-day and 30-day baskets — and logs the
// Spearman correlation of each with the blends' NDCG@10 against "also
// bought". Quality, not time:
//
//	go test ./related -run XXX -bench HoldOutsOffice -benchtime 1x -v
func BenchmarkHoldOutsOffice(b *testing.B) {
	rel := OfficeRelations(b)
	ctx := context.Background()
	leafOf := map[string]string{}
	for _, it := range rel.Items {
		if len(it.Categories) > 0 {
			leafOf[it.ID] = it.Categories[0]
		}
	}
	val, _ := eval.SplitRelations(rel.Complements)
	cfg := Config{}
	cfg.defaults()
	log := newLogOf(rel.Train, cfg)
	build := func(skip []bool) *Index {
		ix, err := buildLog(ctx, rel.Items, log, skip, nil, nil, cfg)
		if err != nil {
			b.Fatal(err)
		}
		return ix
	}
	for b.Loop() {
		full := build(nil)
		names := []string{"next purchase"}
		skip, held := holdOut(rel.Items, log)
		sets := []objective{build(skip).learnSet(sampleKeys(held, maxLearnAnchors), held, true)}
		for _, h := range []struct {
			name   string
			within int64
			beta   []float64
		}{{"shoppers", 0, []float64{0, 1, 1.5, 2}}, {"shoppers, 1-day baskets", 24 * 3600, []float64{1}}, {"shoppers, 30-day baskets", 30 * 24 * 3600, []float64{1}}} {
			skip, shoppers := shopperHoldOut(rel.Items, log, 0, h.within)
			ix := build(skip)
			for _, beta := range h.beta {
				names = append(names, h.name+", β="+strconv.FormatFloat(beta, 'g', -1, 64))
				sets = append(sets, ix.shopperSet(shoppers, maxLearnAnchors, beta))
			}
		}
		truth := make([]float64, len(holdOutPanel))
		scores := make([][]float64, len(sets))
		for k, p := range holdOutPanel {
			w, err := ParseWeights(p)
			if err != nil {
				b.Fatal(err)
			}
			ix := *full
			ix.compW = w
			got := map[string][]string{}
			for a := range val {
				for _, x := range ix.Complements(a, 10, nil) {
					got[a] = append(got[a], x.ID)
				}
			}
			v := eval.ScoreRelations(got, val, func(id string) string { return leafOf[id] }, 10)
			truth[k] = v.NDCG
			line := ""
			for q, s := range sets {
				scores[q] = append(scores[q], s.ndcg(w))
				line += " " + strconv.FormatFloat(scores[q][k], 'f', 4, 64)
			}
			b.Logf("also bought (validation) %.4f, same-leaf %.3f | hold-outs%s | %s", v.NDCG, v.SameLeaf, line, p)
		}
		for q, name := range names {
			b.Logf("hold-out %-32s Spearman %.3f", name, spearman(truth, scores[q]))
		}
	}
}

// spearman is the rank correlation of x and y (no ties expected).
func spearman(x, y []float64) float64 {
	rank := func(v []float64) []float64 {
		idx := make([]int, len(v))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(v[a], v[b]) })
		r := make([]float64, len(v))
		for k, i := range idx {
			r[i] = float64(k)
		}
		return r
	}
	rx, ry := rank(x), rank(y)
	n := float64(len(x))
	var d float64
	for i := range rx {
		d += (rx[i] - ry[i]) * (rx[i] - ry[i])
	}
	return 1 - 6*d/(n*(n*n-1))
}

package sasrec

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/model"
)

// loadS3Rec reads the S3-Rec sequential format ("user item1 … itemN" per
// line, time order, ids from 1) into rows of 0-based item indices.
func loadS3Rec(tb testing.TB, path string) (rows [][]int32, numItems int) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		row := make([]int32, 0, len(fs)-1)
		for _, s := range fs[1:] {
			v, err := strconv.Atoi(s)
			if err != nil || v < 1 {
				tb.Fatalf("%s: bad item %q", path, s)
			}
			row = append(row, int32(v-1))
			numItems = max(numItems, v)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return rows, numItems
}

// loadS3RecAttrs reads an S3-Rec "<name>_item2attributes.json" ({"item": [attr, …]},
// ids from 1) into 0-based attribute lists; it returns nil when the file is absent.
func loadS3RecAttrs(tb testing.TB, path string, numItems int) ([][]int32, int) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, 0
	}
	if err != nil {
		tb.Fatal(err)
	}
	var raw map[string][]int
	if err := json.Unmarshal(data, &raw); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	lists := make([][]int32, numItems)
	numAttrs := 0
	for k, as := range raw {
		it, err := strconv.Atoi(k)
		if err != nil || it < 1 {
			tb.Fatalf("%s: bad item id %q", path, k)
		}
		if it > numItems {
			continue // an item without interactions in the sequence file
		}
		for _, a := range as {
			if a < 1 {
				tb.Fatalf("%s: bad attribute id %d", path, a)
			}
			lists[it-1] = append(lists[it-1], int32(a-1))
			numAttrs = max(numAttrs, a)
		}
	}
	return lists, numAttrs
}

// paramsFromEnv reads SASREC_PARAMS ("dim=64,lr=0.001,…") for tuning runs.
func paramsFromEnv(tb testing.TB) model.Params {
	p := model.Params{}
	for _, kv := range strings.Split(os.Getenv("SASREC_PARAMS"), ",") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			tb.Fatalf("SASREC_PARAMS: bad %q", kv)
		}
		p[k] = f
	}
	return p
}

// leaveOneOut trains on every row without its last item (the model's own
// validation holds out item N-1) and reports full-ranking HR/NDCG@10/20 on
// item N, history items excluded: the protocol of S3-Rec, ICLRec and DuoRec.
func leaveOneOut(b *testing.B, file string) {
	path := testdata.Path(b, "s3rec-sequential", file)
	rows, numItems := loadS3Rec(b, path)
	ds := &model.Dataset{UserPtr: []int{0}}
	for i := 0; i < numItems; i++ {
		ds.ItemIDs = append(ds.ItemIDs, strconv.Itoa(i+1))
	}
	if attrs, numAttrs := loadS3RecAttrs(b, strings.TrimSuffix(path, ".txt")+"_item2attributes.json", numItems); attrs != nil {
		ds.ItemAttrs, ds.NumAttrs = attrs, numAttrs
	}
	var tests []Case
	for u, r := range rows {
		ds.UserIDs = append(ds.UserIDs, strconv.Itoa(u+1))
		ds.Items = append(ds.Items, r[:len(r)-1]...)
		ds.UserPtr = append(ds.UserPtr, len(ds.Items))
		tests = append(tests, Case{History: r[:len(r)-1], Target: r[len(r)-1]})
	}
	cfg, err := ConfigFromParams(paramsFromEnv(b))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		m, _ := New(cfg)
		start := time.Now()
		err := m.Fit(context.Background(), ds, func(s model.Status) {
			line := fmt.Sprintf("%s epoch %d loss %.4f valid NDCG@10 %.4f (%s)", file, s.Epoch, s.Loss, s.Metric, time.Since(start).Round(time.Second))
			fmt.Fprintln(os.Stderr, line)
		})
		if err != nil {
			b.Fatal(err)
		}
		train := time.Since(start)
		eval := func(score func(hist []int32, scores []float32)) (hr10, nd10, hr20, nd20 float64, perUser time.Duration) {
			scores := make([]float32, numItems)
			evalStart := time.Now()
			for _, c := range tests {
				score(c.History, scores)
				r := rankExcluding(scores, c.Target, c.History)
				if r < 20 {
					hr20++
					nd20 += 1 / math.Log2(float64(r)+2)
					if r < 10 {
						hr10++
						nd10 += 1 / math.Log2(float64(r)+2)
					}
				}
			}
			n := float64(len(tests))
			return hr10 / n, nd10 / n, hr20 / n, nd20 / n, time.Since(evalStart) / time.Duration(len(tests))
		}
		ws := newWorkspace(m.dm)
		hr10, nd10, hr20, nd20, perUser := eval(func(h []int32, s []float32) { m.scoreWith(ws, h, s) })
		// to stderr as well: the testing package keeps only 10 lines of a benchmark's log
		fmt.Fprintf(os.Stderr, "%s: %d users, %d items; config %+v\n", file, len(tests), numItems, cfg)
		fmt.Fprintf(os.Stderr, "%s TEST HR@10 %.4f NDCG@10 %.4f HR@20 %.4f NDCG@20 %.4f; train %s; score+rank %s/user; %d parameters (%.1f MB)\n",
			file, hr10, nd10, hr20, nd20, train.Round(time.Second), perUser, len(m.w), float64(4*len(m.w))/1e6)
		b.ReportMetric(nd10, "NDCG@10")
		b.ReportMetric(hr10, "HR@10")
		b.ReportMetric(nd20, "NDCG@20")
		b.ReportMetric(hr20, "HR@20")
		// the same weights served in int8 (Config.Int8), through Score
		var saved bytes.Buffer
		if err := m.Save(&saved); err != nil {
			b.Fatal(err)
		}
		c8 := cfg
		c8.Int8 = true
		q8, _ := New(c8)
		if err := q8.Load(&saved); err != nil {
			b.Fatal(err)
		}
		qhr10, qnd10, qhr20, qnd20, qperUser := eval(func(h []int32, s []float32) { q8.Score(model.Query{User: -1, History: h}, s) })
		fmt.Fprintf(os.Stderr, "%s INT8 TEST HR@10 %.4f NDCG@10 %.4f (%+.2f%%) HR@20 %.4f NDCG@20 %.4f (%+.2f%%); score+rank %s/user; %.1f MB (float32 %.1f MB)\n",
			file, qhr10, qnd10, 100*(qnd10-nd10)/nd10, qhr20, qnd20, 100*(qnd20-nd20)/nd20, qperUser, float64(q8.Bytes())/1e6, float64(m.Bytes())/1e6)
		b.ReportMetric(qnd10, "NDCG@10-int8")
		b.ReportMetric(qhr10, "HR@10-int8")
		b.ReportMetric(train.Seconds(), "train-s")
	}
}

func BenchmarkBeauty(b *testing.B) { leaveOneOut(b, "Beauty.txt") }
func BenchmarkLastFM(b *testing.B) { leaveOneOut(b, "LastFM.txt") }

// BenchmarkScore measures one request: 50-item history, 12,101 items.
func BenchmarkScore(b *testing.B) {
	dm := dims{items: 12101, d: 64, heads: 2, ffn: 256, maxLen: 50, layers: 2}
	m, _ := New(DefaultConfig())
	m.setDims(dm.items, 0)
	m.dm.initParams(m.p, rand.New(rand.NewPCG(1, 1)))
	m.refreshItems()
	hist := make([]int32, 50)
	for i := range hist {
		hist[i] = int32(i * 37)
	}
	scores := make([]float32, dm.items)
	for b.Loop() {
		m.Score(model.Query{User: -1, History: hist}, scores)
	}
}

// BenchmarkTrainStep measures one gradient step of the default model (or
// SASREC_PARAMS) on a Beauty-sized catalogue (12,101 items) with 128
// sequences of 3–20 items.
func BenchmarkTrainStep(b *testing.B) {
	const numItems = 12101
	rng := rand.New(rand.NewPCG(1, 2))
	ds := &model.Dataset{UserPtr: []int{0}, ItemIDs: make([]string, numItems)}
	for u := 0; u < 128; u++ {
		n := 3 + rng.IntN(18)
		for i := 0; i < n; i++ {
			ds.Items = append(ds.Items, int32(rng.IntN(numItems)))
		}
		ds.UserPtr = append(ds.UserPtr, len(ds.Items))
		ds.UserIDs = append(ds.UserIDs, "")
	}
	cfg, err := ConfigFromParams(paramsFromEnv(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.Epochs, cfg.ValidUsers = 1, 0
	m, _ := New(cfg)
	b.ResetTimer()
	for b.Loop() {
		if err := m.Fit(context.Background(), ds, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}

package sasrec

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/model"
)

// ruleData builds sequences that follow a fixed random cycle through all
// numItems items: after item i always comes next[i]. Each user starts at a
// random item; the last item of every row is held out as the test target.
func ruleData(users, numItems, minLen, maxLen int, seed uint64) (ds *model.Dataset, tests []Case) {
	rng := rand.New(rand.NewPCG(seed, 0))
	cycle := rng.Perm(numItems)
	next := make([]int, numItems)
	for k, it := range cycle {
		next[it] = cycle[(k+1)%numItems]
	}
	ds = &model.Dataset{UserPtr: []int{0}}
	for i := 0; i < numItems; i++ {
		ds.ItemIDs = append(ds.ItemIDs, "i"+strconv.Itoa(i))
	}
	for u := 0; u < users; u++ {
		ds.UserIDs = append(ds.UserIDs, "u"+strconv.Itoa(u))
		n := minLen + rng.IntN(maxLen-minLen+1)
		it := int32(rng.IntN(numItems))
		row := []int32{it}
		for len(row) < n {
			it = int32(next[it])
			row = append(row, it)
		}
		ds.Items = append(ds.Items, row[:n-1]...)
		ds.UserPtr = append(ds.UserPtr, len(ds.Items))
		tests = append(tests, Case{History: row[:n-1], Target: row[n-1]})
	}
	return ds, tests
}

func smallConfig() Config {
	c := DefaultConfig()
	c.Dim, c.Heads, c.FFN, c.Layers, c.MaxLen = 16, 2, 32, 1, 8
	c.Dropout, c.AttnDropout = 0.1, 0.1
	c.LR, c.Batch, c.Epochs, c.Patience, c.ValidUsers = 1e-2, 32, 12, 2, 50
	return c
}

// hitAt1 is the share of cases whose target scores highest among the items
// not in the case's history (the leave-one-out protocol).
func hitAt1(m model.Model, n int, cases []Case) float64 {
	scores := make([]float32, n)
	hit := 0
	for _, c := range cases {
		m.Score(model.Query{User: -1, History: c.History}, scores)
		if rankExcluding(scores, c.Target, c.History) == 0 {
			hit++
		}
	}
	return float64(hit) / float64(len(cases))
}

func TestLearnsNextItemRule(t *testing.T) {
	for _, v := range []struct {
		negatives int
		cl        float64
	}{{0, 0}, {8, 0}, {0, 0.1}} {
		negatives := v.negatives
		ds, tests := ruleData(300, 40, 4, 12, 1)
		c := smallConfig()
		c.Negatives, c.CLWeight = negatives, v.cl
		m, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		var last model.Status
		if err := m.Fit(context.Background(), ds, func(s model.Status) { last = s }); err != nil {
			t.Fatal(err)
		}
		if hr := hitAt1(m, ds.NumItems(), tests); hr < 0.95 {
			t.Fatalf("negatives=%d cl=%g: HR@1 = %.3f on the deterministic rule, want ≥ 0.95 (last status %+v)", negatives, v.cl, hr, last)
		}
		if last.Epoch < 1 || last.Loss <= 0 || last.Metric != last.Metric {
			t.Fatalf("progress not reported properly: %+v", last)
		}
	}
}

func TestTimeBudget(t *testing.T) {
	ds, _ := ruleData(300, 40, 4, 12, 1)
	c := smallConfig()
	c.Epochs, c.Patience, c.TimeBudget = 100000, 100000, time.Nanosecond
	m, _ := New(c)
	epochs := 0
	if err := m.Fit(context.Background(), ds, func(model.Status) { epochs++ }); err != nil {
		t.Fatal(err)
	}
	if epochs > 1 {
		t.Fatalf("trained %d epochs within a 1ns budget", epochs)
	}
}

func TestDeterministic(t *testing.T) {
	ds, _ := ruleData(60, 20, 3, 9, 2)
	for _, threads := range []int{1, 2} {
		var ws [2][]float32
		for i := range ws {
			c := smallConfig()
			c.Epochs, c.ValidUsers, c.Threads, c.Batch, c.CLWeight = 3, 10, threads, 16, 0.1
			m, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Fit(context.Background(), ds, nil); err != nil {
				t.Fatal(err)
			}
			ws[i] = m.w
		}
		for i := range ws[0] {
			if ws[0][i] != ws[1][i] {
				t.Fatalf("threads=%d: weight %d differs between runs: %g vs %g", threads, i, ws[0][i], ws[1][i])
			}
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	ds, tests := ruleData(80, 25, 3, 9, 3)
	c := smallConfig()
	c.Epochs = 2
	m, _ := New(c)
	if err := m.Fit(context.Background(), ds, nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	m2, _ := New(DefaultConfig()) // architecture comes from the file
	if err := m2.Load(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	a, b := make([]float32, ds.NumItems()), make([]float32, ds.NumItems())
	for _, q := range []model.Query{{User: -1, History: tests[0].History}, {User: 3, History: tests[5].History}, {User: -1}} {
		m.Score(q, a)
		m2.Score(q, b)
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("score %d differs after load: %g vs %g", j, a[j], b[j])
			}
		}
	}
	// truncated and corrupted files fail cleanly
	for _, n := range []int{0, 10, 60, buf.Len() - 1} {
		if err := m2.Load(bytes.NewReader(buf.Bytes()[:n])); err == nil {
			t.Errorf("load of %d of %d bytes succeeded", n, buf.Len())
		}
	}
}

func TestScoreUsesLatestHistory(t *testing.T) {
	ds, _ := ruleData(300, 40, 4, 12, 1)
	m, _ := New(smallConfig())
	if err := m.Fit(context.Background(), ds, nil); err != nil {
		t.Fatal(err)
	}
	// the answer follows the newest click; unknown ids are skipped
	s1, s2 := make([]float32, 40), make([]float32, 40)
	m.Score(model.Query{User: -1, History: []int32{3, 4, 7}}, s1)
	m.Score(model.Query{User: -1, History: []int32{3, 4, 7, 9, 1000, -1}}, s2)
	if argmax(s1) == argmax(s2) {
		t.Fatalf("a new click did not change the top item (%d)", argmax(s1))
	}
	// a history longer than MaxLen uses its last MaxLen items
	long := make([]int32, 30)
	for i := range long {
		long[i] = int32(i % 40)
	}
	m.Score(model.Query{User: -1, History: long}, s1)
	m.Score(model.Query{User: -1, History: long[30-m.cfg.MaxLen:]}, s2)
	for j := range s1 {
		if s1[j] != s2[j] {
			t.Fatal("history beyond MaxLen changed the scores")
		}
	}
}

func argmax(s []float32) int {
	b := 0
	for j, v := range s {
		if v > s[b] {
			b = j
		}
	}
	return b
}

func TestConfigFromParams(t *testing.T) {
	cases := []struct {
		p    model.Params
		ok   bool
		want func(Config) bool
	}{
		{model.Params{}, true, func(c Config) bool { return c == DefaultConfig() }},
		{model.Params{"dim": 32, "heads": 4, "lr": 0.01}, true, func(c Config) bool { return c.Dim == 32 && c.Heads == 4 && c.LR == 0.01 }},
		{model.Params{"dim": 30, "heads": 4}, false, nil},
		{model.Params{"dropout": 1}, false, nil},
		{model.Params{"bogus": 1}, false, nil},
	}
	for _, tc := range cases {
		c, err := ConfigFromParams(tc.p)
		if (err == nil) != tc.ok {
			t.Errorf("%v: err = %v, want ok=%v", tc.p, err, tc.ok)
			continue
		}
		if tc.ok && !tc.want(c) {
			t.Errorf("%v: got %+v", tc.p, c)
		}
	}
}

func TestFitCancelled(t *testing.T) {
	ds, _ := ruleData(50, 20, 3, 9, 4)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m, _ := New(smallConfig())
	if err := m.Fit(ctx, ds, nil); err != context.Canceled {
		t.Fatalf("Fit on a cancelled context returned %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	ds, _ := ruleData(20, 10, 3, 6, 5)
	c := smallConfig()
	c.Epochs = 1
	m, _ := New(c)
	if err := m.Fit(context.Background(), ds, nil); err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("AISLESEQ"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _ := New(DefaultConfig())
		if err := m.Load(bytes.NewReader(data)); err != nil {
			return
		}
		s := make([]float32, m.NumItems())
		m.Score(model.Query{User: -1, History: []int32{0}}, s)
	})
}

// TestColdItemsReachableThroughAttributes: items 40..49 never occur in any
// sequence; cold item 40+k shares its only attribute with item k. After a
// history whose next item is k, the cold item sharing k's attribute should
// be the best of the cold items far more often than chance — reachable through side information alone.
func TestColdItemsReachableThroughAttributes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two models to quality; run without -short")
	}
	ds, tests := ruleData(300, 40, 4, 12, 6)
	const cold = 10
	for k := 0; k < cold; k++ {
		ds.ItemIDs = append(ds.ItemIDs, "cold"+strconv.Itoa(k))
	}
	ds.NumAttrs = 40
	ds.ItemAttrs = make([][]int32, ds.NumItems())
	for j := range ds.ItemAttrs {
		ds.ItemAttrs[j] = []int32{int32(j % 40)}
	}
	c := smallConfig()
	m, _ := New(c)
	if err := m.Fit(context.Background(), ds, nil); err != nil {
		t.Fatal(err)
	}
	scores := make([]float32, ds.NumItems())
	n, best := 0, 0
	for _, tc := range tests {
		if tc.Target >= cold {
			continue
		}
		n++
		m.Score(model.Query{User: -1, History: tc.History}, scores)
		top := 40 + argmax(scores[40:])
		if top == 40+int(tc.Target) {
			best++
		}
	}
	if n == 0 || float64(best) < 0.5*float64(n) {
		t.Fatalf("the cold twin of the next item was the best cold item in %d of %d cases, want ≥ 50%% (chance: 10%%)", best, n)
	}
	// and without side information it is not (chance: 1 in 10)
	c.UseAttrs = false
	m2, _ := New(c)
	if err := m2.Fit(context.Background(), ds, nil); err != nil {
		t.Fatal(err)
	}
	best2 := 0
	for _, tc := range tests {
		if tc.Target >= cold {
			continue
		}
		m2.Score(model.Query{User: -1, History: tc.History}, scores)
		if 40+argmax(scores[40:]) == 40+int(tc.Target) {
			best2++
		}
	}
	t.Logf("cold twin best in %d of %d cases with attributes, %d without", best, n, best2)
	if best2 >= best {
		t.Fatalf("side information did not help: %d vs %d of %d", best, best2, n)
	}
	// save/load keeps the attribute relation
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	m3, _ := New(DefaultConfig())
	if err := m3.Load(&buf); err != nil {
		t.Fatal(err)
	}
	a, b := make([]float32, ds.NumItems()), make([]float32, ds.NumItems())
	m.Score(model.Query{User: -1, History: tests[0].History}, a)
	m3.Score(model.Query{User: -1, History: tests[0].History}, b)
	for j := range a {
		if a[j] != b[j] {
			t.Fatalf("score %d differs after load: %g vs %g", j, a[j], b[j])
		}
	}
}

func TestFitValidation(t *testing.T) {
	ds, tests := ruleData(200, 30, 4, 10, 7)
	c := smallConfig()
	c.Epochs, c.Patience = 40, 1
	m, _ := New(c)
	var sts []model.Status
	if err := m.FitValidation(context.Background(), ds, tests[:50], func(s model.Status) { sts = append(sts, s) }); err != nil {
		t.Fatal(err)
	}
	validated := 0
	for _, s := range sts {
		if s.Metric == s.Metric {
			validated++
		}
	}
	if validated == 0 || len(sts) == c.Epochs {
		t.Fatalf("%d epochs, %d validations: early stopping on the given cases did not run", len(sts), validated)
	}
	if hr := hitAt1(m, ds.NumItems(), tests[50:]); hr < 0.9 {
		t.Fatalf("HR@1 %.3f on held-out cases", hr)
	}
	bad := []Case{{History: []int32{1}, Target: 30}}
	if err := m.FitValidation(context.Background(), ds, bad, nil); err == nil {
		t.Fatal("a validation target outside the catalogue was accepted")
	}
}

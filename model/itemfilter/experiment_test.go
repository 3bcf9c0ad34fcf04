package itemfilter_test

import (
	"context"
	"encoding/gob"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/itemfilter"
	"github.com/aisle-dev/aisle/model/zoo"
)

// BenchmarkExperiment is a throw-away harness (issue 19 item 6): score
// components per validation case, then linear mixes of them.
func BenchmarkExperiment(b *testing.B) {
	if os.Getenv("AISLE_EXP") == "" {
		b.Skip("experiment harness: set AISLE_EXP, AISLE_VALID_FORMAT and AISLE_VALID_PATH")
	}
	format, sp := envSplit(b, "set AISLE_VALID_FORMAT and AISLE_VALID_PATH")
	ctx := context.Background()
	k := 20
	if format != "lcfn" {
		k = 10
	}
	ds := sp.Train
	n := ds.NumItems()
	st := time.Now()
	cache := "/tmp/lin_cache_" + format + ".gob"
	var cm struct{ E, P, L []float32 }
	if f, err := os.Open(cache); err == nil {
		if err := gob.NewDecoder(f).Decode(&cm); err != nil {
			b.Fatal(err)
		}
		f.Close()
	} else {
		fe, _ := itemfilter.New(model.Params{"gf_weight": 0, "delta": 0})
		if err := fe.Fit(ctx, ds, nil); err != nil {
			b.Fatal(err)
		}
		_, cm.E, _ = fe.Matrix()
		cm.P, cm.L, err = itemfilter.GraphFilterParts(ctx, ds, 128)
		if err != nil {
			b.Fatal(err)
		}
		f, _ := os.Create(cache)
		gob.NewEncoder(f).Encode(&cm)
		f.Close()
	}
	be, pm, lm := cm.E, cm.P, cm.L
	b.Logf("fits %v", time.Since(st))
	deg := make([]float64, n)
	for _, it := range ds.Items {
		deg[it]++
	}
	comps := map[string][]float32{"E": be, "P": pm, "L": lm}
	// Per-case component scores.
	names := []string{"E", "P", "L"}
	if os.Getenv("AISLE_EXP_N") != "" {
		names = append(names, "En", "Pn", "Ln")
	}
	isd := make([]float32, n)
	for _, it := range ds.Items {
		isd[it]++
	}
	for i, v := range isd {
		if v > 0 {
			isd[i] = float32(1 / math.Sqrt(float64(v)))
		}
	}
	nscale := map[string]float64{}
	for _, nm := range []string{"E", "P", "L"} {
		c := comps[nm]
		t := 0.0
		for i := range n {
			for j := range n {
				v := float64(c[i*n+j] * isd[i])
				t += v * v
			}
		}
		nscale[nm] = frob(c) / math.Sqrt(t)
		comps[nm+"n"] = c
	}
	cs := sp.Cases
	vec := make(map[string][][]float32)
	for _, nm := range names {
		vec[nm] = make([][]float32, len(cs))
	}
	par(len(cs), func(i int) {
		for _, nm := range names {
			s := make([]float32, n)
			B := comps[nm]
			for _, h := range cs[i].History {
				row := B[int(h)*n : (int(h)+1)*n]
				w := float32(1)
				if len(nm) == 2 {
					w = isd[h]
				}
				for j, v := range row {
					s[j] += w * v
				}
			}
			vec[nm][i] = s
		}
	})
	// user kNN component: cosine^pow over users sharing items, top kk.
	colPtr, colUser, _, _ := ds.Columns()
	udeg := make([]float64, ds.NumUsers())
	for u := range udeg {
		udeg[u] = float64(ds.UserPtr[u+1] - ds.UserPtr[u])
	}
	userKNN := func(kk int, pw float64) [][]float32 {
		out := make([][]float32, len(cs))
		par(len(cs), func(i int) {
			c := cs[i]
			ov := make([]float64, ds.NumUsers())
			for _, h := range c.History {
				for q := colPtr[h]; q < colPtr[h+1]; q++ {
					ov[colUser[q]] += 1 / math.Log(2+deg[h])
				}
			}
			ov[c.User] = 0
			type us struct {
				u int
				s float64
			}
			var cand []us
			hl := float64(len(c.History))
			for u, o := range ov {
				if o > 0 {
					cand = append(cand, us{u, math.Pow(o/math.Sqrt(hl*udeg[u]), pw)})
				}
			}
			sort.Slice(cand, func(a, b int) bool { return cand[a].s > cand[b].s })
			if len(cand) > kk {
				cand = cand[:kk]
			}
			s := make([]float32, n)
			for _, x := range cand {
				for _, it := range ds.Row(x.u) {
					s[it] += float32(x.s)
				}
			}
			out[i] = s
		})
		return out
	}
	st = time.Now()
	if os.Getenv("AISLE_EXP_UKNN") != "" {
		vec["U"] = userKNN(100, 2)
	}
	b.Logf("uknn %v", time.Since(st))
	var ialsNames []string
	for _, v := range strings.Split(os.Getenv("AISLE_EXP_IALS"), ",") {
		if v == "" {
			continue
		}
		ials, _ := strconv.ParseFloat(v, 64)
		m, _ := zoo.New("ials", model.Params{"factors": ials})
		st := time.Now()
		if err := m.Fit(ctx, ds, nil); err != nil {
			b.Fatal(err)
		}
		b.Logf("ials %v fit %v", v, time.Since(st))
		nm := "I" + v
		ialsNames = append(ialsNames, nm)
		vec[nm] = make([][]float32, len(cs))
		par(len(cs), func(i int) {
			s := make([]float32, n)
			m.Score(model.Query{User: cs[i].User, History: cs[i].History}, s)
			vec[nm][i] = s
		})
	}
	ne, np := frob(be), frob(pm)
	_ = np
	// GF part as itemfilter mixes it: w·ne/||P+αL||.
	type mix struct {
		name string
		f    func(i int, s []float32)
	}
	gfScale := func(alpha float64) float64 {
		t := 0.0
		for j := range pm {
			v := float64(pm[j]) + alpha*float64(lm[j])
			t += v * v
		}
		return ne / math.Sqrt(t)
	}
	sc03 := gfScale(0.3)
	var mixes []mix
	hl := make([]float64, len(cs))
	mlog := 0.0
	for i := range cs {
		hl[i] = math.Log(float64(len(cs[i].History)) + 1)
		mlog += hl[i]
	}
	mlog /= float64(len(cs))
	// general: E + wp·P + wl·L (scaled like itemfilter), delta + c·(log|u| − mean), GF weight × exp(g·(log|u| − mean))
	gen := func(wp, wl, delta, c, g float64) func(i int, s []float32) {
		return func(i int, s []float32) {
			e, p, l := vec["E"][i], vec["P"][i], vec["L"][i]
			dl := delta + c*(hl[i]-mlog)
			gw := math.Exp(g * (hl[i] - mlog))
			for j := range s {
				s[j] = float32((float64(e[j]) + gw*sc03*(wp*float64(p[j])+wl*float64(l[j]))) * math.Pow(deg[j]+1e-9, -dl))
			}
		}
	}
	ml := 0.0
	for i := range cs {
		ml += float64(len(cs[i].History))
	}
	ml /= float64(len(cs))
	gen2 := func(tE, tG, wp, wl, delta, pe float64) func(i int, s []float32) {
		return func(i int, s []float32) {
			fu := math.Pow(ml/float64(len(cs[i].History)), pe)
			e, p, l := vec["E"][i], vec["P"][i], vec["L"][i]
			en, pn, ln := vec["En"][i], vec["Pn"][i], vec["Ln"][i]
			ae, an := 1-tE, tE*fu*nscale["E"]
			ge, gn := 1-tG, tG*fu
			for j := range s {
				ev := ae*float64(e[j]) + an*float64(en[j])
				gv := wp*(ge*float64(p[j])+gn*nscale["P"]*float64(pn[j])) + wl*(ge*float64(l[j])+gn*nscale["L"]*float64(ln[j]))
				s[j] = float32((ev + sc03*gv) * math.Pow(deg[j]+1e-9, -delta))
			}
		}
	}
	add := func(name string, f func(i int, s []float32)) { mixes = append(mixes, mix{name, f}) }
	add("default", gen(0.6, 0.18, 0.1, 0, 0))
	if os.Getenv("AISLE_EXP_N") != "" {
		for _, t := range [][2]float64{{0, 0.5}, {0, 1}, {0.5, 0}, {1, 0}, {0.5, 0.5}} {
			for _, pe := range []float64{0, 0.5} {
				add("tE "+ftoa(t[0])+" tG "+ftoa(t[1])+" pe "+ftoa(pe), gen2(t[0], t[1], 0.6, 0.18, 0.1, pe))
			}
		}
		add("tG 1 pe 0.5 wp 1 wl 0.3", gen2(0, 1, 1, 0.3, 0.1, 0.5))
		add("tG 1 pe 0.5 delta 0.2", gen2(0, 1, 0.6, 0.18, 0.2, 0.5))
		add("tG 1 pe 0.5 delta 0", gen2(0, 1, 0.6, 0.18, 0, 0.5))
	}
	for _, d := range []float64{0.05, 0.15} {
		add("delta "+ftoa(d), gen(0.6, 0.18, d, 0, 0))
	}
	for _, c := range []float64{-0.05, 0.05, 0.1} {
		add("delta slope "+ftoa(c), gen(0.6, 0.18, 0.1, c, 0))
	}
	for _, g := range []float64{-0.5, 0.5} {
		add("gf slope "+ftoa(g), gen(0.6, 0.18, 0.1, 0, g))
	}
	for _, w := range [][2]float64{{0.6, 0}, {0.6, 0.36}, {0.4, 0.18}, {0.8, 0.18}, {0.8, 0.36}, {0.4, 0.36}} {
		add("wp "+ftoa(w[0])+" wl "+ftoa(w[1]), gen(w[0], w[1], 0.1, 0, 0))
	}
	for _, a := range []float64{0.2, 0.3, 0.4, 0.5} {
		a := a
		for _, comp := range append([]string{"U"}, ialsNames...) {
			if vec[comp] == nil {
				continue
			}
			comp := comp
			mixes = append(mixes, mix{comp + " z " + ftoa(a), func(i int, s []float32) {
				gen(0.6, 0.18, 0.1, 0, 0)(i, s)
				zs(s)
				u := append([]float32(nil), vec[comp][i]...)
				zs(u)
				for j := range s {
					s[j] = float32((1-a)*float64(s[j]) + a*float64(u[j]))
				}
			}})
		}
	}
	if os.Getenv("AISLE_EXP_P2") != "" {
		// Higher-order graph term: P̃² (two hops on the normalised item
		// graph), scaled like the graph filter, added with weight w2, then
		// mixed with the first iALS component like itemfilter does.
		st := time.Now()
		pd := mat.NewDense(n, n, nil)
		raw := pd.RawMatrix().Data
		for i, v := range pm {
			raw[i] = float64(v)
		}
		var p2 mat.Dense
		p2.Mul(pd, pd)
		pd = nil
		r2 := p2.RawMatrix().Data
		p2f := make([]float32, n*n)
		for i, v := range r2 {
			p2f[i] = float32(v)
		}
		sc2 := ne / frob(p2f)
		b.Logf("p2 %v", time.Since(st))
		vec["Q"] = make([][]float32, len(cs))
		par(len(cs), func(i int) {
			s := make([]float32, n)
			for _, h := range cs[i].History {
				row := p2f[int(h)*n : (int(h)+1)*n]
				for j, v := range row {
					s[j] += v
				}
			}
			vec["Q"][i] = s
		})
		for _, w2 := range []float64{-0.3, -0.1, 0.1, 0.3, 0.6} {
			for _, a := range []float64{0, 0.4} {
				w2, a := w2, a
				add("P2 "+ftoa(w2)+" ials "+ftoa(a), func(i int, s []float32) {
					gen(0.6, 0.18, 0.1, 0, 0)(i, s)
					q := vec["Q"][i]
					for j := range s {
						s[j] += float32(w2*sc2*float64(q[j])) * float32(math.Pow(deg[j]+1e-9, -0.1))
					}
					if a == 0 || len(ialsNames) == 0 {
						return
					}
					zs(s)
					u := append([]float32(nil), vec[ialsNames[0]][i]...)
					zs(u)
					for j := range s {
						s[j] = float32((1-a)*float64(s[j]) + a*float64(u[j]))
					}
				})
			}
		}
	}
	if os.Getenv("AISLE_EXP_ONLY_IALS") != "" {
		var keep []mix
		for _, mx := range mixes {
			if mx.name == "default" || mx.name[0] == 'I' || strings.HasPrefix(mx.name, "P2 ") {
				keep = append(keep, mx)
			}
		}
		mixes = keep
	}
	for _, mx := range mixes {
		hr, nd, rc := evalFunc(sp, k, mx.f)
		b.Logf("%s: HR@%d %.4f NDCG %.4f Recall %.4f", mx.name, k, hr, nd, rc)
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }

func zs(s []float32) {
	m, q := 0.0, 0.0
	for _, v := range s {
		m += float64(v)
	}
	m /= float64(len(s))
	for _, v := range s {
		q += (float64(v) - m) * (float64(v) - m)
	}
	sd := math.Sqrt(q / float64(len(s)))
	if sd == 0 {
		sd = 1
	}
	for j, v := range s {
		s[j] = float32((float64(v) - m) / sd)
	}
}

func frob(b []float32) float64 {
	t := 0.0
	for _, v := range b {
		t += float64(v) * float64(v)
	}
	return math.Sqrt(t)
}

func par(n int, f func(i int)) {
	w := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for k := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < n; i += w {
				f(i)
			}
		}()
	}
	wg.Wait()
}

func evalFunc(sp *eval.Split, k int, f func(i int, s []float32)) (hr, nd, rc float64) {
	n := sp.Train.NumItems()
	var mu sync.Mutex
	w := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for g := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := make([]float32, n)
			var h, nn, r float64
			for i := g; i < len(sp.Cases); i += w {
				cs := &sp.Cases[i]
				f(i, s)
				for _, e := range cs.Exclude {
					s[e] = float32(math.Inf(-1))
				}
				a, b, c := caseMetrics(s, cs.Targets, k)
				h, nn, r = h+a, nn+b, r+c
			}
			mu.Lock()
			hr, nd, rc = hr+h, nd+nn, rc+r
			mu.Unlock()
		}()
	}
	wg.Wait()
	c := float64(len(sp.Cases))
	return hr / c, nd / c, rc / c
}

func caseMetrics(s []float32, targets []int32, k int) (hr, nd, rc float64) {
	tg := map[int32]bool{}
	for _, x := range targets {
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
		hr = 1
	}
	return hr, dcg / idcg, float64(hits) / float64(len(tg))
}

// BenchmarkAdjust fits itemfilter once on a format's validation split (fit
// parameters from AISLE_EXP_FIT, "name=v,name=v") and scores every
// combination of the query-time settings in AISLE_EXP_ADJ
// ("name=v1,v2;name=v1,v2") through Adjust, printing HR, NDCG and Recall at
// each cut-off of AISLE_VALID_KS (default 10), over all items with the
// history excluded, e.g.
//
//	AISLE_EXP=1 AISLE_VALID_FORMAT=movielens-100k AISLE_VALID_PATH=$D/movielens-100k \
//	AISLE_EXP_ADJ="ials_weight=0.4,0.6,0.8;pop=0,0.1" \
//	go test -run '^$' -bench Adjust -benchtime 1x -v -timeout 60m ./model/itemfilter/
func BenchmarkAdjust(b *testing.B) {
	if os.Getenv("AISLE_EXP") == "" {
		b.Skip("experiment harness: set AISLE_EXP, AISLE_VALID_FORMAT and AISLE_VALID_PATH")
	}
	_, sp := envSplit(b, "set AISLE_VALID_FORMAT and AISLE_VALID_PATH")
	fitP := envParams(b, "AISLE_EXP_FIT")
	var names []string
	var vals [][]float64
	for _, part := range strings.Split(os.Getenv("AISLE_EXP_ADJ"), ";") {
		if part == "" {
			continue
		}
		a, vs, _ := strings.Cut(part, "=")
		var xs []float64
		for _, v := range strings.Split(vs, ",") {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("AISLE_EXP_ADJ %q: %v", part, err)
			}
			xs = append(xs, x)
		}
		names, vals = append(names, a), append(vals, xs)
	}
	var ks []int
	for _, v := range strings.Split(os.Getenv("AISLE_VALID_KS"), ",") {
		if k, err := strconv.Atoi(v); err == nil && k > 0 {
			ks = append(ks, k)
		}
	}
	if len(ks) == 0 {
		ks = []int{10}
	}
	m, err := itemfilter.New(fitP)
	if err != nil {
		b.Fatal(err)
	}
	st := time.Now()
	if err := m.Fit(context.Background(), sp.Train, nil); err != nil {
		b.Fatal(err)
	}
	b.Logf("fit %v %v", fitP, time.Since(st).Round(time.Millisecond))
	combos := 1
	for _, xs := range vals {
		combos *= len(xs)
	}
	for c := range combos {
		p := model.Params{}
		for i, nm := range names {
			p[nm] = vals[i][c%len(vals[i])]
			c /= len(vals[i])
		}
		if err := m.Adjust(p); err != nil {
			b.Fatal(err)
		}
		line := ""
		for _, k := range ks {
			hr, nd, rc := scoreSplit(m, sp, k)
			line += " @" + strconv.Itoa(k) + " HR " + strconv.FormatFloat(hr, 'f', 4, 64) +
				" NDCG " + strconv.FormatFloat(nd, 'f', 4, 64) + " Recall " + strconv.FormatFloat(rc, 'f', 4, 64)
		}
		b.Logf("%v:%s", p, line)
	}
}

// envParams reads model parameters "name=v,…" from the environment
// variable env (none when it is unset).
func envParams(tb testing.TB, env string) model.Params {
	tb.Helper()
	p := model.Params{}
	for _, kv := range strings.Split(os.Getenv(env), ",") {
		if kv == "" {
			continue
		}
		a, v, _ := strings.Cut(kv, "=")
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			tb.Fatalf("%s %q: %v", env, kv, err)
		}
		p[a] = x
	}
	return p
}

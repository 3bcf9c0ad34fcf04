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
	"github.com/aisle-dev/aisle/model/internal/gram"
	"github.com/aisle-dev/aisle/model/itemfilter"
	"github.com/aisle-dev/aisle/model/zoo"
)

// BenchmarkPart is a throw-away harness (issue 19 item 6, sessions 9–10):
// it fits itemfilter once on a format's validation split with the fit-time
// parameters of AISLE_EXP_FIT and the query-time settings of
// AISLE_EXP_BASE (both "name=v,…"), builds the candidate parts of
// AISLE_EXP_PARTS (";"-separated: "gram:a,b,c" is D_I^-a·XᵀD_U^-b·X·D_I^-c,
// "ease:λ" a plain EASE, "ials:f[,reg,alpha,iterations,reg_exp,seed]"
// another iALS, "knn:k" ItemKNN, "lp:ε,k,o" an ideal low-pass,
// "dlae:p,λ" / "edlae:p,λ" Steck's (emphasised) denoising linear
// autoencoder, "ntk:λ[,bias]" the infinite-width autoencoder ∞-AE,
// "sx:dim,negs,margin,negw,epochs,lr,gamma,reg,sgd" a SimpleX-style
// cosine-contrastive factor model; part_kernel_test.go and
// part_simplex_test.go), and scores (1−w)·z(itemfilter) + w·z(part) for
// every w of AISLE_EXP_W (per case w + AISLE_EXP_SLOPE·(log|history| −
// mean), clipped to [0, 1]), printing the mean metric at AISLE_VALID_KS and
// its per-user paired gain over w = 0 with the standard error.
func BenchmarkPart(b *testing.B) {
	if os.Getenv("AISLE_EXP") == "" {
		b.Skip("experiment harness: set AISLE_EXP, AISLE_VALID_FORMAT and AISLE_VALID_PATH")
	}
	_, sp := envSplit(b, "set AISLE_VALID_FORMAT and AISLE_VALID_PATH")
	ctx := context.Background()
	ds := sp.Train
	n := ds.NumItems()
	k := 10
	if v, err := strconv.Atoi(os.Getenv("AISLE_VALID_KS")); err == nil && v > 0 {
		k = v
	}
	base, fit := envParams(b, "AISLE_EXP_BASE"), envParams(b, "AISLE_EXP_FIT")
	st := time.Now()
	m, err := itemfilter.New(fit)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Fit(ctx, ds, nil); err != nil {
		b.Fatal(err)
	}
	if len(base) > 0 {
		if err := m.Adjust(base); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("itemfilter fit %v", time.Since(st).Round(time.Millisecond))
	recency, decay := base["recency"], 0.5
	ideg := make([]float64, n)
	for _, it := range ds.Items {
		ideg[it]++
	}
	type part struct {
		name string
		mat  []float32   // n×n, or nil
		mdl  model.Model // scored by Score, or nil
		fn   func(cs *eval.Case, out []float32)
	}
	var parts []part
	for _, spec := range strings.Split(os.Getenv("AISLE_EXP_PARTS"), ";") {
		if spec == "" {
			continue
		}
		kind, args, _ := strings.Cut(spec, ":")
		var xs []float64
		for _, a := range strings.Split(args, ",") {
			x, err := strconv.ParseFloat(a, 64)
			if err != nil {
				b.Fatalf("part %q: %v", spec, err)
			}
			xs = append(xs, x)
		}
		st := time.Now()
		switch kind {
		case "gram":
			uw := make([]float64, ds.NumUsers())
			for u := range uw {
				if d := ds.UserPtr[u+1] - ds.UserPtr[u]; d > 0 {
					uw[u] = math.Pow(float64(d), -xs[1])
				}
			}
			g, err := gram.Of(ctx, ds, false, uw)
			if err != nil {
				b.Fatal(err)
			}
			out := make([]float32, n*n)
			for i := range n {
				for j := range n {
					if i == j || ideg[i] == 0 || ideg[j] == 0 {
						continue
					}
					out[i*n+j] = float32(g[i*n+j] * math.Pow(ideg[i], -xs[0]) * math.Pow(ideg[j], -xs[2]))
				}
			}
			parts = append(parts, part{name: spec, mat: out})
		case "lp":
			// ideal low-pass of P_ε = D_I^-ε·XᵀD_U^-1·X·D_I^-ε: k leading
			// eigenvectors V, mapped as D_I^-ε·V·Vᵀ·D_I^o (GF-CF: ε = o = ½)
			eps, kk, o := xs[0], int(xs[1]), xs[2]
			uw := make([]float64, ds.NumUsers())
			for u := range uw {
				if d := ds.UserPtr[u+1] - ds.UserPtr[u]; d > 0 {
					uw[u] = 1 / float64(d)
				}
			}
			g, err := gram.Of(ctx, ds, false, uw)
			if err != nil {
				b.Fatal(err)
			}
			sc := make([]float64, n)
			for i := range n {
				if ideg[i] > 0 {
					sc[i] = math.Pow(ideg[i], -eps)
				}
			}
			for i := range n {
				for j := range n {
					g[i*n+j] *= sc[i] * sc[j]
				}
			}
			v, err := itemfilter.TopEigen(ctx, g, n, kk)
			if err != nil {
				b.Fatal(err)
			}
			out := make([]float32, n*n)
			for i := range n {
				if ideg[i] == 0 {
					continue
				}
				vi := v[i*kk : (i+1)*kk]
				for j := range n {
					if ideg[j] == 0 {
						continue
					}
					vj := v[j*kk : (j+1)*kk]
					dot := 0.0
					for c, x := range vi {
						dot += x * vj[c]
					}
					out[i*n+j] = float32(dot * sc[i] * math.Pow(ideg[j], o))
				}
			}
			parts = append(parts, part{name: spec, mat: out})
		case "ease":
			e, _ := itemfilter.New(model.Params{"lambda": xs[0], "beta": 0, "delta": 0, "gf_weight": 0, "ials_weight": 0})
			if err := e.Fit(ctx, ds, nil); err != nil {
				b.Fatal(err)
			}
			_, bm, _ := e.Matrix()
			parts = append(parts, part{name: spec, mat: bm})
		case "knn":
			f, err := zoo.New("itemknn", model.Params{"k": xs[0]})
			if err != nil {
				b.Fatal(err)
			}
			if err := f.Fit(ctx, ds, nil); err != nil {
				b.Fatal(err)
			}
			parts = append(parts, part{name: spec, mdl: f})
		case "dlae", "edlae":
			bm, err := dlaePart(ctx, ds, xs[0], xs[1], kind == "edlae")
			if err != nil {
				b.Fatal(err)
			}
			parts = append(parts, part{name: spec, mat: bm})
		case "ntk":
			bias := 0.0
			if len(xs) > 1 {
				bias = xs[1]
			}
			fn, err := infAEPart(ctx, ds, xs[0], bias)
			if err != nil {
				b.Fatal(err)
			}
			parts = append(parts, part{name: spec, fn: fn})
		case "sx":
			// sx:dim,negs,margin,negw,epochs,lr,gamma,reg,sgd (1: plain SGD)
			get := func(i int, def float64) float64 {
				if len(xs) > i {
					return xs[i]
				}
				return def
			}
			fn, err := simplexPart(ctx, ds, sxConfig{dim: int(get(0, 64)), negs: int(get(1, 1000)), margin: get(2, 0.5),
				negw: get(3, 1), epochs: int(get(4, 20)), lr: get(5, 1e-3), gamma: get(6, 0.5), reg: get(7, 0), sgd: get(8, 0) == 1, seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			parts = append(parts, part{name: spec, fn: fn})
		case "uknn":
			// uknn:k,beta,gamma,pw,delta
			get := func(i int, def float64) float64 {
				if len(xs) > i {
					return xs[i]
				}
				return def
			}
			parts = append(parts, part{name: spec, fn: userKNNPart(ds, int(get(0, 50)), get(1, 0.5), get(2, 0), get(3, 1), get(4, 0))})
		case "sxb":
			// sxb:dim,negs,batch,margin,negw,epochs,lr,gamma,reg
			get := func(i int, def float64) float64 {
				if len(xs) > i {
					return xs[i]
				}
				return def
			}
			fn, err := simplexBatchPart(ctx, ds, sxbConfig{dim: int(get(0, 64)), negs: int(get(1, 1000)), batch: int(get(2, 256)),
				margin: get(3, 0.9), negw: get(4, 50), epochs: int(get(5, 50)), lr: get(6, 1e-3), gamma: get(7, 0.5), reg: get(8, 0), seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			parts = append(parts, part{name: spec, fn: fn})
		case "pgsp":
			// pgsp:k,iters,phi
			fn, err := pgspPart(ctx, ds, int(xs[0]), int(xs[1]), xs[2])
			if err != nil {
				b.Fatal(err)
			}
			parts = append(parts, part{name: spec, fn: fn})
		case "bspm":
			// bspm:k,idl,ts,steps
			bm, err := bspmPart(ctx, ds, int(xs[0]), xs[1], xs[2], int(xs[3]))
			if err != nil {
				b.Fatal(err)
			}
			parts = append(parts, part{name: spec, mat: bm})
		case "ials":
			ip := model.Params{"factors": xs[0]}
			for i, name := range []string{"reg", "alpha", "iterations", "reg_exp", "seed"} {
				if len(xs) > i+1 {
					ip[name] = xs[i+1]
				}
			}
			f, err := zoo.New("ials", ip)
			if err != nil {
				b.Fatal(err)
			}
			if err := f.Fit(ctx, ds, nil); err != nil {
				b.Fatal(err)
			}
			parts = append(parts, part{name: spec, mdl: f})
		default:
			b.Fatalf("part %q: unknown kind", spec)
		}
		b.Logf("part %s built %v", spec, time.Since(st).Round(time.Millisecond))
	}
	var ws []float64
	for _, v := range strings.Split(os.Getenv("AISLE_EXP_W"), ",") {
		if x, err := strconv.ParseFloat(v, 64); err == nil {
			ws = append(ws, x)
		}
	}
	if len(ws) == 0 {
		ws = []float64{0.05, 0.1, 0.2}
	}
	nc := len(sp.Cases)
	// AISLE_EXP_SLOPE: the part's share per case, w + slope·(log|history| − mean).
	slope, _ := strconv.ParseFloat(os.Getenv("AISLE_EXP_SLOPE"), 64)
	meanLog := 0.0
	for i := range sp.Cases {
		meanLog += math.Log(float64(max(len(sp.Cases[i].History), 1)))
	}
	meanLog /= float64(max(nc, 1))
	// res[p][w][case] = NDCG, Recall; index 0 of w is the base.
	type mr struct{ nd, rc float64 }
	res := make([][][]mr, len(parts))
	for p := range parts {
		res[p] = make([][]mr, len(ws)+1)
		for w := range res[p] {
			res[p][w] = make([]mr, nc)
		}
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := make([]float32, n)
			gs := make([]float32, n)
			s := make([]float32, n)
			for i := g; i < nc; i += workers {
				cs := &sp.Cases[i]
				m.Score(model.Query{User: cs.User, History: cs.History}, f)
				zs(f)
				for p, pt := range parts {
					clear(gs)
					if pt.fn != nil {
						pt.fn(cs, gs)
					} else if pt.mdl != nil {
						pt.mdl.Score(model.Query{User: cs.User, History: cs.History}, gs)
					} else {
						bonus := recency
						for t := len(cs.History) - 1; t >= 0; t-- {
							h := cs.History[t]
							wh := float32(1 + bonus)
							bonus *= decay
							row := pt.mat[int(h)*n : (int(h)+1)*n]
							for j, v := range row {
								gs[j] += wh * v
							}
						}
					}
					zs(gs)
					for w := 0; w <= len(ws); w++ {
						a := 0.0
						if w > 0 {
							a = ws[w-1]
						}
						if slope != 0 && a > 0 {
							a = max(0, min(1, a+slope*(math.Log(float64(max(len(cs.History), 1)))-meanLog)))
						}
						for j := range s {
							s[j] = float32((1-a)*float64(f[j]) + a*float64(gs[j]))
						}
						for _, e := range cs.Exclude {
							s[e] = float32(math.Inf(-1))
						}
						_, nd, rc := caseMetrics(s, cs.Targets, k)
						res[p][w][i] = mr{nd, rc}
					}
				}
			}
		}()
	}
	wg.Wait()
	stat := func(a, b []mr, f func(mr) float64) (mean, gain, se float64) {
		var sd, sq float64
		for i := range a {
			mean += f(a[i])
			d := f(a[i]) - f(b[i])
			sd += d
			sq += d * d
		}
		c := float64(len(a))
		mean /= c
		gain = sd / c
		se = math.Sqrt(math.Max(sq/c-gain*gain, 0) / (c - 1))
		return
	}
	for p, pt := range parts {
		for w := 0; w <= len(ws); w++ {
			a := 0.0
			if w > 0 {
				a = ws[w-1]
			}
			nd, gn, sen := stat(res[p][w], res[p][0], func(x mr) float64 { return x.nd })
			rc, gr, ser := stat(res[p][w], res[p][0], func(x mr) float64 { return x.rc })
			b.Logf("%s w %.3g: NDCG@%d %.4f (%+.4f ± %.4f) Recall %.4f (%+.4f ± %.4f)", pt.name, a, k, nd, gn, sen, rc, gr, ser)
		}
	}
}

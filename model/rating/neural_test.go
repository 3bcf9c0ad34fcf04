package rating

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/internal/hyper"
)

// tinyDataset has 3 users, 4 items and 7 ratings.
func tinyDataset() *model.Dataset {
	return &model.Dataset{
		UserIDs: []string{"a", "b", "c"}, ItemIDs: []string{"w", "x", "y", "z"},
		UserPtr: []int{0, 3, 5, 7},
		Items:   []int32{0, 1, 3, 1, 2, 0, 3},
		Ratings: []float32{5, 3, 1, 4, 2, 4, 5},
	}
}

// lossOnly recomputes the training loss of accumulate in float64 from the
// current weights, without gradients.
func lossOnly(tr *trainer, batch []sample) float64 {
	s := tr.s
	buf := s.newBuf(1)
	var loss float64
	for _, smp := range batch {
		u, i := int(smp.u), int(smp.i)
		dy := float64(s.forward(u, i, buf)) - float64(smp.r)
		loss += 0.5 * dy * dy
		var l2 float64
		for f := 0; f < s.Dim; f++ {
			pu, qi := float64(s.UserEmb[u*s.Dim+f]), float64(s.ItemEmb[i*s.Dim+f])
			l2 += pu*pu + qi*qi
		}
		l2 += float64(s.UserBias[u])*float64(s.UserBias[u]) + float64(s.ItemBias[i])*float64(s.ItemBias[i])
		loss += 0.5 * float64(tr.reg) * l2
	}
	loss /= float64(len(batch))
	var l2 float64
	for _, w := range [][]float32{s.W1, s.W2, s.W3} {
		for _, x := range w {
			l2 += float64(x) * float64(x)
		}
	}
	return loss + 0.5*float64(tr.wd)*l2
}

func TestNeuralGradientMatchesFiniteDifferences(t *testing.T) {
	for _, workers := range []float64{1, 3} {
		p, err := hyper.Read("neural-rating", model.Params{"dim": 3, "hidden1": 5, "hidden2": 4, "reg": 0.3, "weight_decay": 0.2, "init_std": 0.5, "workers": workers}, neuralSpecs)
		if err != nil {
			t.Fatal(err)
		}
		ds := tinyDataset()
		s := newNeuralState(p, 3, 4, rand.New(rand.NewPCG(3, 4)))
		s.Mean = 3
		for i := range s.W3 { // larger output weights, so every layer gets a visible gradient
			s.W3[i] = 0.7 * float32(i%2*2-1)
		}
		for i := range s.UserBias {
			s.UserBias[i] = 0.1 * float32(i)
		}
		all := epochSamples(ds, userOf(ds), 0, rand.New(rand.NewPCG(1, 1)), nil)
		batch := append(all, all[2]) // a repeated rating touches rows twice
		tr := newTrainer(&s, p, len(batch))
		loss := tr.accumulate(batch)
		if want := lossOnly(tr, batch); math.Abs(loss-want) > 1e-4*math.Max(1, want) {
			t.Fatalf("accumulate loss %v, recomputed %v", loss, want)
		}
		slots := map[string]adamSlot{"W1": tr.dense[0], "B1": tr.dense[1], "W2": tr.dense[2], "B2": tr.dense[3], "W3": tr.dense[4], "B3": tr.dense[5],
			"UserEmb": tr.ue, "ItemEmb": tr.ie, "UserBias": tr.ub, "ItemBias": tr.ib}
		const eps = 1e-3
		checked := 0
		for name, sl := range slots {
			for x := range sl.w {
				orig := sl.w[x]
				sl.w[x] = orig + eps
				up := lossOnly(tr, batch)
				sl.w[x] = orig - eps
				down := lossOnly(tr, batch)
				sl.w[x] = orig
				num := (up - down) / (2 * eps)
				got := float64(sl.g[x])
				if math.Abs(num-got) > 2e-4+2e-3*math.Abs(num) {
					t.Errorf("workers %v: d loss / d %s[%d] = %v, finite differences %v", workers, name, x, got, num)
				}
				if got != 0 {
					checked++
				}
			}
		}
		if checked < 50 {
			t.Errorf("only %d non-zero gradients checked", checked)
		}
	}
}

// BenchmarkNeuralStep is one Adam step of the default network on a batch of
// 256 random examples (1,000 users, 2,000 items).
func BenchmarkNeuralStep(b *testing.B) {
	p, err := hyper.Read("neural-rating", nil, neuralSpecs)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	s := newNeuralState(p, 1000, 2000, r)
	batch := make([]sample, 256)
	for i := range batch {
		batch[i] = sample{int32(r.IntN(1000)), int32(r.IntN(2000)), float32(1 + r.IntN(5))}
	}
	tr := newTrainer(&s, p, len(batch))
	for b.Loop() {
		tr.accumulate(batch)
		tr.apply()
	}
}

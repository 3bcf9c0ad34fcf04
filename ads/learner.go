package ads

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/store"
)

// LearnerName is the name the click model trains under (it is retrained
// with the recommendation models, see recommend.Learner).
const LearnerName = "ads-pctr"

// MinTrainImpressions is the least logged impressions worth training on.
const MinTrainImpressions = 200

// Learner retrains the click model from the logged impressions and
// clicks. It implements recommend.Learner.
type Learner struct{ S *Service }

// Name implements recommend.Learner.
func (l Learner) Name() string { return LearnerName }

// ServingVersion implements recommend.Learner.
func (l Learner) ServingVersion() int { return l.S.Model().Version }

// Examples reads the logged impressions with their click labels (a valid
// click was charged, even at 0).
func (s *Service) Examples(ctx context.Context) ([]Example, []string, error) {
	if err := s.Flush(ctx); err != nil {
		return nil, nil, err
	}
	var exs []Example
	var keys []string
	err := s.o.Store.MerchView(ctx, func(tx store.MerchTx) error {
		return tx.Scan(bImps, "", func(k string, v []byte) error {
			var im Impression
			if err := json.Unmarshal(v, &im); err != nil {
				return nil // skip a record this version cannot read
			}
			exs = append(exs, Example{F: im.F, Clicked: tx.Get(bCharges, k) != nil})
			keys = append(keys, k)
			return nil
		})
	})
	return exs, keys, err
}

// RunOnce trains a new click model on 80% of the logged impressions (by a
// hash of request id and item), measures log loss and AUC on the rest, and
// serves it when its log loss is no worse than the serving model's.
func (l Learner) RunOnce(ctx context.Context) (pipeline.Result, error) {
	s := l.S
	s.trainMu.Lock()
	defer s.trainMu.Unlock()
	start := time.Now()
	res := pipeline.Result{Model: LearnerName}
	exs, keys, err := s.Examples(ctx)
	if err != nil {
		return res, err
	}
	if len(exs) < MinTrainImpressions {
		res.Reason = fmt.Sprintf("%d ad impressions logged, %d needed to train the click model", len(exs), MinTrainImpressions)
		return res, nil
	}
	var train, test []Example
	for i, e := range exs {
		h := fnv.New32a()
		h.Write([]byte(keys[i]))
		if h.Sum32()%5 == 0 {
			test = append(test, e)
		} else {
			train = append(train, e)
		}
	}
	m, err := Fit(train, 1, nil)
	if err != nil {
		res.Reason = err.Error()
		return res, nil
	}
	cur := s.Model()
	m.LogLoss, m.AUC = Evaluate(&m, test)
	curLoss, curAUC := Evaluate(&cur, test)
	res.Metrics = map[string]float64{"log_loss": m.LogLoss, "auc": m.AUC, "serving_log_loss": curLoss, "serving_auc": curAUC, "examples": float64(len(train))}
	res.TrainSeconds = time.Since(start).Seconds()
	if len(test) > 0 && m.LogLoss > curLoss {
		res.Reason = fmt.Sprintf("the new click model's held-out log loss %.4f is worse than the serving one's %.4f: kept the serving one", m.LogLoss, curLoss)
		return res, nil
	}
	m.Version = cur.Version + 1
	if err := s.storeModel(ctx, m, &cur); err != nil {
		return res, err
	}
	res.Trained, res.Version = true, m.Version
	res.Reason = fmt.Sprintf("trained on %d ad impressions", len(train))
	return res, nil
}

// Evaluate returns a model's log loss and AUC on examples.
func Evaluate(m *Model, exs []Example) (logLoss, auc float64) {
	p := make([]float64, len(exs))
	y := make([]bool, len(exs))
	for i, e := range exs {
		p[i], y[i] = m.Predict(e.F), e.Clicked
	}
	return LogLoss(p, y), AUC(p, y)
}

func (s *Service) storeModel(ctx context.Context, m Model, prev *Model) error {
	err := s.o.Store.MerchUpdate(ctx, func(tx store.MerchTx) error {
		cur, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if prev != nil {
			old, err := json.Marshal(prev)
			if err != nil {
				return err
			}
			if err := tx.Put(bModel, "previous", old); err != nil {
				return err
			}
		}
		return tx.Put(bModel, "current", cur)
	})
	if err != nil {
		return fmt.Errorf("store the click model: %w", err)
	}
	s.model.Store(&m)
	return nil
}

// Rollback implements recommend.Learner: the previous click model serves
// again.
func (l Learner) Rollback(ctx context.Context) (store.ModelMeta, error) {
	s := l.S
	s.trainMu.Lock()
	defer s.trainMu.Unlock()
	var prev *Model
	err := s.o.Store.MerchView(ctx, func(tx store.MerchTx) error {
		if v := tx.Get(bModel, "previous"); v != nil {
			var m Model
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			prev = &m
		}
		return nil
	})
	if err != nil {
		return store.ModelMeta{}, err
	}
	if prev == nil {
		return store.ModelMeta{}, store.ErrNoRollback
	}
	cur := s.Model()
	if err := s.storeModel(ctx, *prev, &cur); err != nil {
		return store.ModelMeta{}, err
	}
	return store.ModelMeta{Name: LearnerName, Version: prev.Version, Status: "serving",
		Metrics: map[string]float64{"log_loss": prev.LogLoss, "auc": prev.AUC}}, nil
}

// Calibration is one bucket of the calibration plot: impressions whose
// predicted click probability fell in it, and the mean predicted and the
// observed click rate.
type Calibration struct {
	Impressions int     `json:"impressions"`
	Predicted   float64 `json:"predicted"`
	Observed    float64 `json:"observed"`
}

// Calibrate sorts the logged impressions by the serving model's
// prediction into buckets of equal size and compares predicted with
// observed click rates.
func (s *Service) Calibrate(ctx context.Context, buckets int) ([]Calibration, error) {
	exs, _, err := s.Examples(ctx)
	if err != nil {
		return nil, err
	}
	m := s.Model()
	type pe struct {
		p float64
		y bool
	}
	ps := make([]pe, len(exs))
	for i, e := range exs {
		ps[i] = pe{m.Predict(e.F), e.Clicked}
	}
	slices.SortFunc(ps, func(a, b pe) int { return cmp.Compare(a.p, b.p) })
	out := []Calibration{}
	for b := 0; b < buckets && len(ps) > 0; b++ {
		lo, hi := b*len(ps)/buckets, (b+1)*len(ps)/buckets
		if hi <= lo {
			continue
		}
		c := Calibration{Impressions: hi - lo}
		for _, x := range ps[lo:hi] {
			c.Predicted += x.p
			if x.y {
				c.Observed++
			}
		}
		c.Predicted /= float64(c.Impressions)
		c.Observed /= float64(c.Impressions)
		out = append(out, c)
	}
	return out, nil
}

package shopsim

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/zoo"
	"github.com/aisle-dev/aisle/pipeline"
)

// trainedModels are the trained models the personalised study fits on its
// clicks (fast at this size; a factor model and an item-item one).
var trainedModels = []string{"ease", "ials"}

// TrainedReport compares trained models fitted on the personalised
// study's clicks through the real preprocessing (pipeline.Preprocess):
// with every click weighted plainly, by the shop's estimated propensity of
// its position (Preprocess.PositionWeight = Manager.EventPositionWeight,
// as training.position_weights wires it), and by the true one (clipped
// alike). Each model ranks the catalogue for every shopper; the ranking
// is scored against the shopper's true relevance.
type TrainedReport struct {
	Models []TrainedModel
	// Weighted is whether the shop trusted its fit of the surface: without
	// one the corrected training is the plain one.
	Weighted bool
}

// TrainedModel is one model's quality per click weighting: mean over
// shoppers of NDCG@10 against their true relevance, and of the expected
// clicks of its first Results items (true θ) as a share of the ideal's.
type TrainedModel struct {
	Name                                       string
	NaiveNDCG, CorrectedNDCG, OracleNDCG       float64
	NaiveClicks, CorrectedClicks, OracleClicks float64
}

func trainedStudy(ctx context.Context, m *experiment.Manager, evs []events.Event, rel [][]float64, theta []float64) (TrainedReport, error) {
	rep := TrainedReport{Weighted: m.Propensities("recommend") != nil}
	items := len(rel[0])
	its := make([]catalog.Item, items)
	for i := range its {
		its[i] = catalog.Item{ID: fmt.Sprint("i", i), Title: fmt.Sprint("item ", i), Available: true}
	}
	oracle := func(e events.Event) float64 {
		return (&impressions.Propensities{Theta: theta}).Weight(e.Position)
	}
	weights := []func(events.Event) float64{nil, m.EventPositionWeight, oracle}
	for _, name := range trainedModels {
		tm := TrainedModel{Name: name}
		outs := [][2]*float64{{&tm.NaiveNDCG, &tm.NaiveClicks}, {&tm.CorrectedNDCG, &tm.CorrectedClicks}, {&tm.OracleNDCG, &tm.OracleClicks}}
		for k, w := range weights {
			p := pipeline.DefaultPreprocess()
			p.PositionWeight = w
			data, err := p.Build(ctx, slices.Clone(its), func(fn func(events.Event) error) error {
				for _, e := range evs {
					if err := fn(e); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return rep, err
			}
			mdl, err := zoo.New(name, nil)
			if err != nil {
				return rep, err
			}
			if err := mdl.Fit(ctx, data.Implicit, nil); err != nil {
				return rep, fmt.Errorf("fit %s: %w", name, err)
			}
			*outs[k][0], *outs[k][1] = shopperQuality(mdl, data.Implicit, rel, theta)
		}
		rep.Models = append(rep.Models, tm)
	}
	return rep, nil
}

// shopperQuality is the mean over the shoppers in ds of NDCG@10 of the
// model's scores against their true relevance, and the expected clicks of
// its first len(theta) items as a share of the best page's.
func shopperQuality(mdl model.Model, ds *model.Dataset, rel [][]float64, theta []float64) (ndcg, clicks float64) {
	col := make([]int, len(ds.ItemIDs)) // model column → study item
	for j, id := range ds.ItemIDs {
		fmt.Sscanf(id, "i%d", &col[j])
	}
	page := func(score, r []float64) float64 {
		s := 0.0
		for k, i := range rank(score)[:len(theta)] {
			s += theta[k] * r[i]
		}
		return s
	}
	scores := make([]float32, len(ds.ItemIDs))
	n := 0
	for u, id := range ds.UserIDs {
		var s int
		if _, err := fmt.Sscanf(id, "u%d", &s); err != nil || s >= len(rel) {
			continue
		}
		mdl.Score(model.Query{User: int32(u), History: ds.Row(u), HistoryWeights: ds.RowWeights(u)}, scores)
		score := make([]float64, len(rel[s]))
		for j, v := range scores {
			score[col[j]] = float64(v)
		}
		ndcg += ndcgAt(score, rel[s], 10)
		clicks += page(score, rel[s]) / page(rel[s], rel[s])
		n++
	}
	if n == 0 {
		return 0, 0
	}
	return ndcg / float64(n), clicks / float64(n)
}

func (r *TrainedReport) write(w io.Writer) {
	note := "weighted by the shop's fit of the surface"
	if !r.Weighted {
		note = "no trusted fit of the surface: the same as plain"
	}
	fmt.Fprintf(w, "\nTrained models fitted on the clicks (real preprocessing, click weight 2 × the position weight), mean over shoppers against their true relevance (1/θ estimated: %s):\n\n", note)
	fmt.Fprintln(w, "| model | clicks counted | NDCG@10 | expected clicks of its page, share of ideal |\n|---|---|---|---|")
	for _, m := range r.Models {
		fmt.Fprintf(w, "| %s | plain | %.4f | %.4f |\n", m.Name, m.NaiveNDCG, m.NaiveClicks)
		fmt.Fprintf(w, "| %s | 1/θ estimated | %.4f | %.4f |\n", m.Name, m.CorrectedNDCG, m.CorrectedClicks)
		fmt.Fprintf(w, "| %s | 1/θ true (clipped at 10) | %.4f | %.4f |\n", m.Name, m.OracleNDCG, m.OracleClicks)
	}
}

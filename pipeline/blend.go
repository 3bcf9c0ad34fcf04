package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/adjust"
	"github.com/aisle-dev/aisle/model/blend"
	"github.com/aisle-dev/aisle/model/zoo"
	"github.com/aisle-dev/aisle/store"
)

// Partner is the model a background sequence model may blend with: the
// serving primary (a whole-history model), with the weighting its
// validation chose.
type Partner struct {
	Spec      Spec
	Weighting Weighting
	// Adjusted are the partner's query-time settings its validation chose
	// (model.Adjustable), set again on every fit of it.
	Adjusted model.Params
}

// BestPartner returns the partner a background sequence model blends with
// after a run of the fast models: the trained, served-path-validated
// whole-history model with the best NDCG@10 (specs give its parameters),
// or nil. The server uses its serving primary instead.
func BestPartner(specs []Spec, results []Result) *Partner {
	var best *Result
	for k := range results {
		r := &results[k]
		if !r.Trained || orderOnly(r.Model) || r.Model == blend.Name || r.Metrics[ServedValidationKey] != 1 {
			continue
		}
		if best == nil || r.Metrics["NDCG@10"] > best.Metrics["NDCG@10"] {
			best = r
		}
	}
	if best == nil {
		return nil
	}
	p := &Partner{Spec: Spec{Name: best.Model}, Weighting: best.Weighting, Adjusted: best.Adjusted}
	for _, s := range specs {
		if s.Name == best.Model {
			p.Spec.Params = s.Params
		}
	}
	return p
}

// blendGrid are the shares of the sequence model validation tries; 0 is
// the partner alone and 1 the sequence model alone, measured on the same
// users in the same pass.
var blendGrid = []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1}

// blendMinSE is how many standard errors of the per-user paired
// difference a blend's NDCG@10 gain over its partner must exceed.
const blendMinSE = 2

// BlendNote starts the note of a stored blend version.
const BlendNote = "blend chosen on validation"

// Why a blend: the server answers "what next" for users whose whole
// history is known. A whole-history model (itemfilter, EASE) reads the
// taste that history reveals in any order; a sequence model reads what the
// newest items say about the next one. The served-path validation holds
// out both kinds of target (a random fifth, the newest fifth), and each
// kind of model wins one half and loses the other, so choosing one of
// them serves one kind of shop well and the other badly. Their blend, with
// the sequence model's share chosen on the same hold-out, lets the data
// say how much the order matters: on a shop whose future follows its
// recent past the share grows, on one where it does not the partner alone
// (share 0) wins and no blend is stored.

// trainBlend measures the blends of seq (fitted on the validation split,
// as background models are) with a fresh fit of the partner on the same
// split, and, when a blend beats both parts on validation NDCG@10 (the
// criterion every model competes on for primary) without costing the
// partner's random half, and its gain over the partner exceeds blendMinSE
// standard errors, fits the partner on all the data and stores the blend
// as a candidate version of model "blend".
func trainBlend(ctx context.Context, models store.Models, data *Data, opts Options, seq model.Model, seqSpec Spec, p Partner) Result {
	start := time.Now()
	res := Result{Model: blend.Name, Weighting: p.Weighting}
	fail := func(err error) Result {
		res.Error = err.Error()
		res.TrainSeconds = time.Since(start).Seconds()
		return res
	}
	if ok, why := p.Spec.Check(data); !ok {
		res.Reason = "partner " + p.Spec.Name + " cannot train: " + why
		return res
	}
	nVal := opts.ValidationUsers
	if nVal == 0 {
		nVal = 5000
	}
	split := holdout(data.Implicit, nVal, opts.Seed)
	if split == nil || len(split.Targets) == 0 {
		res.Reason = "no validation users"
		return res
	}
	split.Workers = opts.Threads
	pspec := bounded(p.Spec, 0, opts.Threads)
	fit := func(ds *model.Dataset) (model.Model, error) {
		m, err := zoo.New(pspec.Name, pspec.Params)
		if err != nil {
			return nil, err
		}
		if err := m.Fit(ctx, p.Weighting.apply(ds), nil); err != nil {
			return nil, fmt.Errorf("fit the partner %s: %w", pspec.Name, err)
		}
		if len(p.Adjusted) > 0 {
			if err := setAdjusted(m, p.Adjusted); err != nil {
				return nil, fmt.Errorf("the partner %s: %w", pspec.Name, err)
			}
		}
		return m, nil
	}
	pm, err := fit(split.Train)
	if err != nil {
		return fail(err)
	}
	mets, perUser := split.evaluate(10, p.Weighting, len(blendGrid), func(q model.Query, out [][]float32) {
		pm.Score(q, out[0])
		s := make([]float32, len(out[0]))
		seq.Score(q, s)
		for g, w := range blendGrid[1:] {
			copy(out[g+1], out[0])
			blend.Mix(out[g+1], s, w)
		}
	})
	if mets[0] == nil {
		res.Reason = "no validation users"
		return res
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for g, w := range blendGrid {
		log.Info("blend validation", "partner", p.Spec.Name, "sequence", seqSpec.Name, "share", w,
			"ndcg", mets[g]["NDCG@10"], "newest", mets[g]["NDCG@10:newest"], "random", mets[g]["NDCG@10:random"], "hr", mets[g]["HR@10"])
	}
	// The best share by NDCG@10. When the order is a clock's (the shop's
	// own times, Sequence.Timed), what users do next follows their newest
	// items and the average of both halves decides, as it does for every
	// model. When the order is only a file's (history loaded without
	// times, one step apart), it may be a sort order that the future does
	// not follow: then a share must also keep the partner's random half,
	// like a recency boost (ML-1M posted in file order: share 0.4 won the
	// average by 0.045 while costing the random half 0.056, and the random
	// test fold with it).
	seqInfo := data.Sequence()
	keepRandom := !seqInfo.Timed()
	best := 0
	for g := range blendGrid {
		if mets[g]["NDCG@10"] > mets[best]["NDCG@10"] && (!keepRandom || mets[g]["NDCG@10:random"] >= mets[0]["NDCG@10:random"]) {
			best = g
		}
	}
	last := len(blendGrid) - 1
	res.Reason = fmt.Sprintf("validation NDCG@10 of %s alone %.4f (random half %.4f), %s alone %.4f, best blend (share %.1f of %s) %.4f (random half %.4f)",
		p.Spec.Name, mets[0]["NDCG@10"], mets[0]["NDCG@10:random"], seqSpec.Name, mets[last]["NDCG@10"],
		blendGrid[best], seqSpec.Name, mets[best]["NDCG@10"], mets[best]["NDCG@10:random"])
	if best == 0 || best == last {
		if keepRandom {
			res.Reason = "no blend: no share beats the partner without costing its random half (the order is a file's, not a clock's); " + res.Reason
		} else {
			res.Reason = "no blend: no share beats both parts; " + res.Reason
		}
		return res
	}
	// A blend adds a part to the partner: it must beat it beyond the
	// noise of the hold-out (per-user paired differences), not by a
	// share of users that a new draw would reverse.
	gain, se := adjust.PairedChange(perUser[best], perUser[0])
	res.Reason += fmt.Sprintf("; gain over %s %.4f ± %.4f", p.Spec.Name, gain, se)
	if gain <= blendMinSE*se {
		res.Reason = "no blend: its gain is within the noise; " + res.Reason
		return res
	}
	if keepRandom {
		// Without a clock the newest half's gain may be a sort order's,
		// so the random half must show the gain too, beyond its noise:
		// ML-1M posted in file order let share 0.1 through with a random
		// half up 0.0005 (noise), and the random test fold lost 0.0036
		// NDCG@20 with it.
		rg, rse := randomHalfChange(split.Newest, perUser[best], perUser[0])
		res.Reason += fmt.Sprintf("; random half gain %.4f ± %.4f", rg, rse)
		if rg <= blendMinSE*rse {
			res.Reason = "no blend: without a clock the random half must gain beyond its noise; " + res.Reason
			return res
		}
	}
	weight := blendGrid[best]
	if !opts.SkipRefit {
		if pm, err = fit(data.Implicit); err != nil {
			return fail(err)
		}
	}
	bm, err := blend.Join(pm, pspec.Params, seq, seqSpec.Params, weight, zoo.New)
	if err != nil {
		return fail(err)
	}
	params := bm.Params()
	ds := data.Implicit
	art := &Artifact{Header: Header{Model: blend.Name, Params: params, ItemIDs: ds.ItemIDs, UserIDs: ds.UserIDs, Weighting: p.Weighting}, Model: bm}
	blob, err := art.Bytes()
	if err != nil {
		return fail(err)
	}
	res.Metrics = maps.Clone(mets[best])
	res.TrainSeconds = time.Since(start).Seconds()
	meta := store.ModelMeta{
		Name: blend.Name, Params: params, Metrics: res.Metrics,
		Users: ds.NumUsers(), Items: ds.NumItems(), Events: ds.NumInteractions(),
		TrainSecs: res.TrainSeconds, Status: "candidate", DataAt: data.ReadAt,
		Note: fmt.Sprintf("%s: %s with %s at share %.1f", BlendNote, p.Spec.Name, seqSpec.Name, weight),
	}
	v, err := models.SaveModel(ctx, meta, blob)
	if err != nil {
		return fail(fmt.Errorf("store the blend: %w", err))
	}
	res.Version, res.Trained = v, true
	return res
}

// randomHalfChange is adjust.PairedChange over the users who lent random items
// (newest[i] false) only.
func randomHalfChange(newest []bool, cand, base []float64) (mean, se float64) {
	var c, b []float64
	for i, nw := range newest {
		if !nw && i < len(cand) && i < len(base) {
			c, b = append(c, cand[i]), append(b, base[i])
		}
	}
	return adjust.PairedChange(c, b)
}

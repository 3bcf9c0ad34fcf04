// Package blend is a model made of two fitted models whose scores it mixes:
// each model's scores for a query are standardised over the catalogue
// (z-scores, so scales as different as EASE's and a sequence model's logits
// meet) and the blend answers (1−w)·z(A) + w·z(B). Training uses it to join
// the taste a whole history reveals (A: an item-item or factor model) with
// what a sequence model reads from the order of the newest items (B), with
// w chosen on validation (pipeline's served-path hold-out).
//
// A blend is not fitted as a whole: the pipeline fits its parts (B's fit
// is the budgeted background one) and joins them with Join. Fit therefore
// refuses; Save and Load carry both parts and the weight.
//
// On-disk format: hyper's header (kind "blend", version 1) followed by the
// gob encoding of the weight and of each part's model name, parameters and
// own Save output.
package blend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/internal/hyper"
)

// Name is the registered model name.
const Name = "blend"

const formatVersion = 1

// Factory builds an untrained model by name (zoo.New), so that Load can
// rebuild the parts without this package knowing every model.
type Factory func(name string, p model.Params) (model.Model, error)

// Blend mixes the standardised scores of two models.
type Blend struct {
	build  Factory
	weight float64 // share of B, in [0, 1]
	a, b   model.Model
	aP, bP model.Params
}

// New returns an empty blend (to Load into) that builds its parts with
// build. Params: weight (default 0.5), B's share of the blend in [0, 1].
func New(p model.Params, build Factory) (*Blend, error) {
	v, err := hyper.Read(Name, p, []hyper.Spec{{Name: "weight", Default: 0.5, Min: 0, Max: 1}})
	if err != nil {
		return nil, err
	}
	return &Blend{build: build, weight: v["weight"]}, nil
}

// Join returns the blend (1−weight)·z(a) + weight·z(b) of two fitted models
// of the same Dataset (the same user and item indices); aParams and
// bParams are what each was built with, so Load can rebuild them.
func Join(a model.Model, aParams model.Params, b model.Model, bParams model.Params, weight float64, build Factory) (*Blend, error) {
	if a == nil || b == nil {
		return nil, errors.New("blend: both parts are needed")
	}
	if math.IsNaN(weight) || weight < 0 || weight > 1 {
		return nil, fmt.Errorf("blend: weight %v out of range [0, 1]", weight)
	}
	return &Blend{build: build, weight: weight, a: a, b: b, aP: aParams, bP: bParams}, nil
}

// Name implements model.Model.
func (m *Blend) Name() string { return Name }

// Parts returns the names of the two parts and B's weight, e.g. for a
// label ("itemfilter+sasrec").
func (m *Blend) Parts() (a, b string, weight float64) {
	if m.a == nil || m.b == nil {
		return "", "", m.weight
	}
	return m.a.Name(), m.b.Name(), m.weight
}

// Params reports the blend's own parameter.
func (m *Blend) Params() model.Params { return model.Params{"weight": m.weight} }

// Fit implements model.Model: a blend is joined from fitted parts, never
// fitted whole.
func (m *Blend) Fit(context.Context, *model.Dataset, model.Progress) error {
	return errors.New("blend: fit the parts and join them (blend.Join); a blend is not fitted whole")
}

// Score implements model.Model.
func (m *Blend) Score(q model.Query, scores []float32) {
	if m.a == nil || m.b == nil {
		for i := range scores {
			scores[i] = 0
		}
		return
	}
	m.a.Score(q, scores)
	other := make([]float32, len(scores))
	m.b.Score(q, other)
	Mix(scores, other, m.weight)
}

// Mix writes (1−w)·z(a) + w·z(b) into a, where z standardises a score
// vector over its finite values (mean 0, standard deviation 1; a constant
// vector becomes 0). An item that either part scores NaN or −Inf (cannot
// rank) keeps that score.
func Mix(a, b []float32, w float64) {
	ma, sa := moments(a)
	mb, sb := moments(b)
	wa, wb := float32((1-w)/sa), float32(w/sb)
	fa, fb := float32(ma), float32(mb)
	for i := range a {
		x, y := a[i], b[i]
		switch {
		case isBad(x):
		case isBad(y):
			a[i] = y
		default:
			a[i] = wa*(x-fa) + wb*(y-fb)
		}
	}
}

// isBad reports a score that cannot rank.
func isBad(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) }

// moments returns the mean and the standard deviation (1 when it is 0) of
// the finite values of s.
func moments(s []float32) (mean, sd float64) {
	var n, sum, sq float64
	for _, v := range s {
		if !isBad(v) {
			n++
			sum += float64(v)
		}
	}
	if n == 0 {
		return 0, 1
	}
	mean = sum / n
	for _, v := range s {
		if !isBad(v) {
			d := float64(v) - mean
			sq += d * d
		}
	}
	sd = math.Sqrt(sq / n)
	if sd == 0 || math.IsNaN(sd) {
		sd = 1
	}
	return mean, sd
}

type savedPart struct {
	Name   string
	Params model.Params
	Blob   []byte
}

type saved struct {
	Weight float64
	A, B   savedPart
}

// Save implements model.Model.
func (m *Blend) Save(w io.Writer) error {
	if m.a == nil || m.b == nil {
		return errors.New("blend: nothing to save (no parts joined)")
	}
	s := saved{Weight: m.weight}
	for _, p := range []struct {
		dst    *savedPart
		m      model.Model
		params model.Params
	}{{&s.A, m.a, m.aP}, {&s.B, m.b, m.bP}} {
		var buf bytes.Buffer
		if err := p.m.Save(&buf); err != nil {
			return fmt.Errorf("blend: save %s: %w", p.m.Name(), err)
		}
		*p.dst = savedPart{Name: p.m.Name(), Params: p.params, Blob: buf.Bytes()}
	}
	return hyper.Save(w, Name, formatVersion, s)
}

// Load implements model.Model.
func (m *Blend) Load(r io.Reader) error {
	if m.build == nil {
		return errors.New("blend: no model factory to rebuild the parts")
	}
	var s saved
	if err := hyper.Load(r, Name, formatVersion, &s); err != nil {
		return err
	}
	if math.IsNaN(s.Weight) || s.Weight < 0 || s.Weight > 1 {
		return fmt.Errorf("blend: stored weight %v out of range [0, 1]", s.Weight)
	}
	var parts [2]model.Model
	for k, p := range []savedPart{s.A, s.B} {
		if p.Name == Name {
			return errors.New("blend: a part cannot be a blend")
		}
		pm, err := m.build(p.Name, p.Params)
		if err != nil {
			return fmt.Errorf("blend: part %d: %w", k+1, err)
		}
		if err := pm.Load(bytes.NewReader(p.Blob)); err != nil {
			return fmt.Errorf("blend: load %s: %w", p.Name, err)
		}
		parts[k] = pm
	}
	m.weight, m.a, m.b, m.aP, m.bP = s.Weight, parts[0], parts[1], s.A.Params, s.B.Params
	return nil
}

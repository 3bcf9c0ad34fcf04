// Package experiment runs A/B tests and interleaving on the shop's own
// traffic: experiment definitions with weighted variants that override
// what serves (model, diversity, search mode and fusion), sticky
// assignment of shoppers to variants by a salted hash, attribution of
// clicks, carts and purchases to the variant that was shown, and the
// statistics that say whether a difference is real (confidence intervals,
// an always-valid p-value, a sample-ratio check, multiple-testing
// correction, the sample size still needed).
//
// See docs/experiments.md for the guarantees and the statistics.
package experiment

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Surfaces are the answers an experiment may change.
var Surfaces = []string{"recommend", "session", "similar", "bought_together", "popular", "trending", "search"}

// Methods of comparing variants.
const (
	MethodAB         = "ab"         // each shopper sees one variant
	MethodInterleave = "interleave" // each answer mixes two rankers (team draft)
)

// States of an experiment.
const (
	Running = "running"
	Stopped = "stopped"
	Shipped = "shipped"
)

// Overrides change what serves a variant; empty fields keep the default.
type Overrides struct {
	// Model names the recommendation model (popular, itemknn, ials, ease,
	// itemfilter, sasrec, …) of recommend and session answers.
	Model string `json:"model,omitempty"`
	// Diversity (0..1) of recommendation answers.
	Diversity *float64 `json:"diversity,omitempty"`
	// Mode (keyword, semantic, hybrid, ltr) and Fusion (convex, rrf, rerank) of
	// search answers.
	Mode   string `json:"mode,omitempty"`
	Fusion string `json:"fusion,omitempty"`
	// Fallback is the fallback chain of recommend and session answers
	// (what fills an answer the model leaves short), in order, from
	// FallbackSteps; empty: the default chain.
	Fallback []string `json:"fallback,omitempty"`
}

// FallbackSteps are the steps a fallback chain may name
// (recommend.FallbackSteps, in its default order).
var FallbackSteps = []string{"trending", "popular_in_category", "popular", "new"}

// Variant is one arm of an experiment.
type Variant struct {
	Name      string    `json:"name"`
	Weight    float64   `json:"weight"` // share of traffic, relative to the other variants
	Overrides Overrides `json:"overrides"`
}

// Experiment is one A/B test or interleaving comparison on one surface.
type Experiment struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Surface  string    `json:"surface"`
	Method   string    `json:"method"` // ab (default) or interleave
	Variants []Variant `json:"variants"`
	// PrimaryMetric is the metric the decision rests on (default
	// conversion); MDE the smallest relative lift worth detecting
	// (default 0.05), for the sample size still needed.
	PrimaryMetric string     `json:"primary_metric"`
	MDE           float64    `json:"mde"`
	Status        string     `json:"status"`
	Winner        string     `json:"winner,omitempty"` // the variant shipped
	Created       time.Time  `json:"created"`
	Started       time.Time  `json:"started"`
	Ended         *time.Time `json:"ended,omitempty"`
	// Ends is when the experiment stops by itself (optional, set at
	// creation, after it): from then on nobody is assigned and no event
	// counts, as after POST …/stop, which each replica records on its
	// next flush with Ended = Ends.
	Ends *time.Time `json:"ends,omitempty"`
	// Salt makes the assignment of this experiment independent of every
	// other's; it never changes, so assignment is stable across restarts
	// and replicas.
	Salt string `json:"salt"`
}

// Over reports whether e has reached its planned end (Ends) at now.
func (e *Experiment) Over(now time.Time) bool {
	return e.Ends != nil && !now.Before(*e.Ends)
}

// Metrics results report per variant.
var Metrics = []string{"ctr", "add_to_cart_rate", "conversion", "revenue_per_user", "aov"}

var idShape = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Validate checks a new experiment and fills its defaults. It returns an
// error naming the field and what to do.
func (e *Experiment) Validate() error {
	e.Name = strings.TrimSpace(e.Name)
	if e.Name == "" || len(e.Name) > 200 {
		return fmt.Errorf("name: give the experiment a name of 1 to 200 characters")
	}
	if !slices.Contains(Surfaces, e.Surface) {
		return fmt.Errorf("surface %q: use one of %s", e.Surface, strings.Join(Surfaces, ", "))
	}
	switch e.Method {
	case "":
		e.Method = MethodAB
	case MethodAB, MethodInterleave:
	default:
		return fmt.Errorf("method %q: use ab or interleave", e.Method)
	}
	if len(e.Variants) < 2 || len(e.Variants) > 10 {
		return fmt.Errorf("variants: give 2 to 10 variants (the first is the control)")
	}
	if e.Method == MethodInterleave {
		if len(e.Variants) != 2 {
			return fmt.Errorf("variants: interleaving compares exactly 2 rankers")
		}
		if e.Surface != "recommend" && e.Surface != "session" {
			return fmt.Errorf("method interleave: only the recommend and session surfaces can interleave (they rank with a model)")
		}
	}
	seen := map[string]bool{}
	for i := range e.Variants {
		v := &e.Variants[i]
		if !idShape.MatchString(v.Name) {
			return fmt.Errorf("variants[%d].name %q: use 1 to 64 letters, digits, '.', '_' or '-'", i, v.Name)
		}
		if seen[v.Name] {
			return fmt.Errorf("variants[%d].name %q: names must differ", i, v.Name)
		}
		seen[v.Name] = true
		if e.Method == MethodAB && !(v.Weight > 0 && v.Weight <= 1e6) {
			return fmt.Errorf("variants[%d].weight %v: give a traffic weight > 0 (e.g. 50 and 50)", i, v.Weight)
		}
		if e.Method == MethodInterleave && !(v.Weight > 0 && v.Weight <= 1e6) {
			v.Weight = 1
		}
		o := v.Overrides
		if o.Diversity != nil && !(*o.Diversity >= 0 && *o.Diversity <= 1) {
			return fmt.Errorf("variants[%d].overrides.diversity: give a number from 0 to 1", i)
		}
		if o.Model != "" && !idShape.MatchString(o.Model) {
			return fmt.Errorf("variants[%d].overrides.model %q: name a trained model (see GET /api/models)", i, o.Model)
		}
		if o.Mode != "" && !slices.Contains([]string{"keyword", "semantic", "hybrid", "ltr"}, o.Mode) {
			return fmt.Errorf("variants[%d].overrides.mode %q: use keyword, semantic, hybrid or ltr", i, o.Mode)
		}
		if o.Fusion != "" && o.Fusion != "convex" && o.Fusion != "rrf" && o.Fusion != "rerank" {
			return fmt.Errorf("variants[%d].overrides.fusion %q: use convex, rrf or rerank", i, o.Fusion)
		}
		for k, step := range o.Fallback {
			if !slices.Contains(FallbackSteps, step) || slices.Index(o.Fallback, step) < k {
				return fmt.Errorf("variants[%d].overrides.fallback[%d] %q: name each step once, from %s", i, k, step, strings.Join(FallbackSteps, ", "))
			}
		}
	}
	if e.PrimaryMetric == "" {
		e.PrimaryMetric = "conversion"
	}
	if !slices.Contains(Metrics, e.PrimaryMetric) {
		return fmt.Errorf("primary_metric %q: use one of %s", e.PrimaryMetric, strings.Join(Metrics, ", "))
	}
	if e.MDE == 0 {
		e.MDE = 0.05
	}
	if !(e.MDE > 0 && e.MDE < 10) {
		return fmt.Errorf("mde %v: give the smallest relative lift worth detecting, e.g. 0.05 for 5%%", e.MDE)
	}
	return nil
}

// Assign returns the index of the variant unit (a user id, or a session
// id for anonymous shoppers) sees: a hash of the experiment's salt and the
// unit, mapped onto the cumulative weights. The same unit always gets the
// same variant, on every replica and after restarts.
func (e *Experiment) Assign(unit string) int {
	return pick(e.Variants, bucket(e.Salt, unit))
}

// bucket maps salt and unit to a uniform number in [0, 1).
func bucket(salt, unit string) float64 {
	h := sha256.New()
	h.Write([]byte(salt))
	h.Write([]byte{0})
	h.Write([]byte(unit))
	var sum [sha256.Size]byte
	x := binary.BigEndian.Uint64(h.Sum(sum[:0])[:8])
	return float64(x>>11) / (1 << 53)
}

func pick(vs []Variant, u float64) int {
	total := 0.0
	for _, v := range vs {
		total += v.Weight
	}
	acc := 0.0
	for i, v := range vs {
		acc += v.Weight / total
		if u < acc {
			return i
		}
	}
	return len(vs) - 1
}

// Variant returns the variant called name.
func (e *Experiment) Variant(name string) (int, bool) {
	for i, v := range e.Variants {
		if v.Name == name {
			return i, true
		}
	}
	return -1, false
}

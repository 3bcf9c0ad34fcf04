package pipeline

import (
	"fmt"
	"strings"
)

// Requirements is how much data a model needs before it is worth training.
// Users and items below them are served by fallbacks (popularity, content
// similarity, category popularity).
type Requirements struct {
	MinUsers        int     `yaml:"min_users"`
	MinItems        int     `yaml:"min_items"`        // items with at least one interaction
	MinInteractions int     `yaml:"min_interactions"` //
	MinDensity      float64 `yaml:"min_density"`      // interactions / (users × items with data)
	MaxItems        int     `yaml:"max_items"`        // catalogue columns; 0 = no limit (EASE inverts an items×items matrix)
	MinAvgRow       float64 `yaml:"min_avg_row"`      // mean interactions per user (sequence models)
	NeedsRatings    int     `yaml:"needs_ratings"`    // explicit ratings needed (rating models)
	// MinSeqUsers and MinOrderSignal are what a sequence model needs: users
	// with a time-ordered history of at least SeqMinLen interactions, and
	// an order that predicts the next item (Data.Sequence).
	MinSeqUsers    int     `yaml:"min_seq_users"`
	MinOrderSignal float64 `yaml:"min_order_signal"`
}

// DefaultMinOrderSignal is the order signal (Sequence.OrderSignal) a
// sequence model needs by default. Histories shuffled within each user
// measure 0.495–0.500; the public data sets 0.525 (LastFM), 0.529 (the
// Office demo), 0.530 (MovieLens-100k) and 0.549 (Beauty)
// (docs/benchmarks.md). With
// the usual thousands of positions, 0.515 is also several standard errors
// (0.5/√positions) above chance.
const DefaultMinOrderSignal = 0.515

// DefaultRequirements returns the built-in thresholds of a model by name.
func DefaultRequirements(name string) Requirements {
	switch name {
	case "popular":
		return Requirements{MinInteractions: 1}
	case "itemknn":
		return Requirements{MinUsers: 10, MinItems: 10, MinInteractions: 100}
	case "bpr", "ials":
		return Requirements{MinUsers: 50, MinItems: 20, MinInteractions: 1000, MinDensity: 1e-5}
	case "ease":
		// no item limit: above its max_items EASE fits sparse neighbourhoods
		return Requirements{MinUsers: 50, MinItems: 20, MinInteractions: 1000}
	case "itemfilter":
		// fitting peaks at about 24·n² bytes (itemfilter.PeakBytes): 3.5 GB at 12k items
		return Requirements{MinUsers: 50, MinItems: 20, MinInteractions: 1000, MaxItems: 12000}
	case "sasrec":
		return Requirements{MinUsers: 100, MinItems: 20, MinInteractions: 2000, MinAvgRow: 3, MinSeqUsers: 100, MinOrderSignal: DefaultMinOrderSignal}
	case "rating_mf", "rating_mlp", "rating_linear", "neumf", "mlp", "linear", "biasedmf":
		return Requirements{MinUsers: 20, MinItems: 20, NeedsRatings: 1000}
	}
	return Requirements{MinUsers: 20, MinItems: 20, MinInteractions: 500}
}

// Check says whether data meets the requirements, and why not.
func (r Requirements) Check(d *Data) (bool, string) {
	rep := d.Report
	var why []string
	need := func(have, want int, what string) {
		if want > 0 && have < want {
			why = append(why, fmt.Sprintf("%d %s < %d needed", have, what, want))
		}
	}
	need(rep.Users, r.MinUsers, "users")
	need(rep.ItemsWithData, r.MinItems, "items with interactions")
	need(rep.Interactions, r.MinInteractions, "interactions")
	need(rep.Ratings, r.NeedsRatings, "explicit ratings")
	if r.MinDensity > 0 && rep.Users > 0 && rep.ItemsWithData > 0 {
		density := float64(rep.Interactions) / (float64(rep.Users) * float64(rep.ItemsWithData))
		if density < r.MinDensity {
			why = append(why, fmt.Sprintf("density %.2g < %.2g needed", density, r.MinDensity))
		}
	}
	if r.MaxItems > 0 && rep.Items > r.MaxItems {
		why = append(why, fmt.Sprintf("%d catalogue items > %d allowed (the model inverts an items×items matrix)", rep.Items, r.MaxItems))
	}
	if r.MinAvgRow > 0 && rep.Users > 0 {
		avg := float64(rep.Interactions) / float64(rep.Users)
		if avg < r.MinAvgRow {
			why = append(why, fmt.Sprintf("%.1f interactions per user < %.1f needed", avg, r.MinAvgRow))
		}
	}
	seqNote := ""
	if r.MinSeqUsers > 0 || r.MinOrderSignal > 0 {
		seq := d.Sequence()
		seqNote = "; sequential: " + seq.String()
		if r.MinSeqUsers > 0 && seq.Users < r.MinSeqUsers {
			why = append(why, fmt.Sprintf("%d users with ≥%d time-ordered interactions < %d needed", seq.Users, SeqMinLen, r.MinSeqUsers))
		}
		if r.MinOrderSignal > 0 && seq.OrderSignal < r.MinOrderSignal {
			why = append(why, fmt.Sprintf("order signal %.3f < %.3f needed (the previous item predicts the next one hardly better than any earlier one)", seq.OrderSignal, r.MinOrderSignal))
		}
	}
	if len(why) > 0 {
		return false, strings.Join(why, "; ") + seqNote
	}
	return true, fmt.Sprintf("%d users, %d items with data, %d interactions", rep.Users, rep.ItemsWithData, rep.Interactions) + seqNote
}

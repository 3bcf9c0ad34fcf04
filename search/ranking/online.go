package ranking

import (
	"fmt"
	"math"
)

// The online promotion check (decision 0073). A candidate that passes the
// offline sanity check (it ranks the held-out queries better than keyword
// ranking) does not replace the serving version on the held-out judgments
// alone: those contain only what the serving version showed, so they
// favour it (decision 0069). Instead the candidate becomes the challenger:
// a share of first search pages is team-draft interleaved between the
// serving version and it (api, experiments.search_interleave_share), each
// click is credited to the version that placed the item, and every
// interleaved answer whose clicks favour one version is a decided query.
// A sequential sign test over the decided queries promotes the challenger
// or rejects it.

// Tally counts the interleaved answers of one challenge: those whose
// credited clicks favour the challenger (Wins) or the serving version
// (Losses), and those with clicks credited equally (Ties).
type Tally struct {
	Wins, Losses, Ties int
}

// Decided is the number of answers that favoured one version.
func (t Tally) Decided() int { return t.Wins + t.Losses }

// Verdict is the outcome of the online check so far.
type Verdict int

const (
	// Undecided: keep interleaving.
	Undecided Verdict = iota
	// Promote: shoppers prefer the challenger.
	Promote
	// Reject: shoppers prefer the serving version, or the check reached
	// its largest sample without the challenger ahead.
	Reject
)

func (v Verdict) String() string {
	switch v {
	case Promote:
		return "promote"
	case Reject:
		return "reject"
	}
	return "undecided"
}

// SignTestPrior is the a of the Beta(a, a) mixture over the win rate
// under the alternative (SequentialSignTest): its spread, 1/(2√(2a+1)) ≈
// 0.1 for a = 12, puts the test's power on win rates of 0.55–0.7, the
// preferences team-draft interleaving measures between rankers of a
// similar kind (Chapelle et al. 2012).
const SignTestPrior = 12

// DefaultMaxDecided is OnlineCheck.MaxDecided's default: at 600 searches a
// day, half of them interleaved, a challenge decides within about two
// days in the ESCI simulation (docs/benchmarks.md, "Interleaved promotion
// of the search ranker").
const DefaultMaxDecided = 200

// SequentialSignTest decides a challenge from its tally by a mixture
// sequential probability ratio test (Robbins 1970) of "each decided answer
// favours the challenger with probability ½": the ratio
//
//	Λ = 2ⁿ · B(a + wins, a + losses) / B(a, a)
//
// of the Beta(a, a) mixture's likelihood to the null's, a =
// SignTestPrior, n = wins + losses. Under the null Λ is a martingale, so
// P(Λ ever ≥ 1/α) ≤ α (Ville's inequality): the check may look after
// every answer and still errs at most α. Λ ≥ 1/α with more wins promotes,
// with more losses rejects. A challenge that reaches maxDecided decided
// answers without either (0: no limit) is decided by the sign of wins −
// losses (a truncated sequential test): the two versions are then close,
// and the challenger, trained on newer data, serves if shoppers preferred
// it more often (a tie keeps the serving version). At the truncation a
// challenger that loses 55 % of decided answers is promoted with chance
// about 8 % at 200 (Φ(−0.1·√200)), one that loses 60 % almost never
// (0.2 %); an equal one half the time, which costs nothing. It also
// returns log Λ.
func SequentialSignTest(t Tally, alpha float64, maxDecided int) (Verdict, float64) {
	n := t.Decided()
	if n == 0 {
		return Undecided, 0
	}
	const a = SignTestPrior
	logL := float64(n)*math.Ln2 + lbeta(a+float64(t.Wins), a+float64(t.Losses)) - lbeta(a, a)
	switch {
	case logL >= math.Log(1/alpha) && t.Wins > t.Losses:
		return Promote, logL
	case logL >= math.Log(1/alpha) && t.Losses > t.Wins:
		return Reject, logL
	case maxDecided > 0 && n >= maxDecided && t.Wins > t.Losses:
		return Promote, logL
	case maxDecided > 0 && n >= maxDecided:
		return Reject, logL
	}
	return Undecided, logL
}

func lbeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}

// DuelName is the name of the challenge of version candidate of the
// ranker name: the interleaved answers' impressions carry it as their
// experiment (api; experiment.Manager.Duel counts them).
func DuelName(name string, candidate int) string {
	return fmt.Sprintf("duel:%s@%d", name, candidate)
}

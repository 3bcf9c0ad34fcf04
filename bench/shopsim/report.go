package shopsim

import (
	"fmt"
	"io"
	"strings"
)

// Write prints the report as Markdown (the shape of docs/benchmarks.md).
func (r *Report) Write(w io.Writer) {
	pct := func(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }
	fmt.Fprintf(w, "Simulated shop: %d days × %d visits a day, models %s (control) vs %s, took %s\n\n", r.Days, r.ShoppersPerDay, r.Control, r.Treatment, r.Took.Round(1e9))
	fmt.Fprintf(w, "(a) A/B test run by the server (GET /api/experiments/{id}/results):\n\n")
	fmt.Fprintf(w, "| variant | users | conversion [95%% CI] | revenue/user [95%% CI] | CTR | lift conversion [95%% CI] | p (mSPRT) | lift revenue/user [95%% CI] | p (mSPRT) |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, v := range r.AB.Variants {
		lc, lr := "—", "—"
		pc, pr := "—", "—"
		if c, ok := v.VsControl["conversion"]; ok {
			lc = fmt.Sprintf("%+.1f%% [%+.1f%%, %+.1f%%]", 100*c.Lift.Value, 100*c.Lift.Low, 100*c.Lift.High)
			pc = fmt.Sprintf("%.3g", c.PValue)
		}
		if c, ok := v.VsControl["revenue_per_user"]; ok {
			lr = fmt.Sprintf("%+.1f%% [%+.1f%%, %+.1f%%]", 100*c.Lift.Value, 100*c.Lift.Low, 100*c.Lift.High)
			pr = fmt.Sprintf("%.3g", c.PValue)
		}
		fmt.Fprintf(w, "| %s | %d | %s [%s, %s] | %.2f [%.2f, %.2f] | %s | %s | %s | %s | %s |\n", v.Name, v.Users,
			pct(v.Conversion.Value), pct(v.Conversion.Low), pct(v.Conversion.High),
			v.RevenuePerUser.Value, v.RevenuePerUser.Low, v.RevenuePerUser.High, pct(v.CTR.Value), lc, pc, lr, pr)
	}
	fmt.Fprintf(w, "\nSRM check: χ² %.2f, p %.3g (mismatch: %v)\n\n", r.AB.SRM.Chi2, r.AB.SRM.PValue, r.AB.SRM.Mismatch)
	fmt.Fprintf(w, "(b) %d A/A tests on the control arm's shoppers (conversion), share declared significant at 5%%:\n", r.AARuns)
	fmt.Fprintf(w, "- fixed horizon (z-test once, at the end): %s\n- z-test peeking daily: %s\n- always-valid mSPRT peeking daily: %s\n\n", pct(r.AAFixed), pct(r.AAPeekZ), pct(r.AAPeekMSPRT))
	fmt.Fprintf(w, "(c) power for a real %s relative lift of conversion (%d users per arm, control conversion %s): detected by the fixed z-test in %s, by the mSPRT peeking daily in %s of %d runs; 80%% power needs %.0f users per arm.\n",
		pct(0.05), r.PowerUsers, pct(r.ControlConversion), pct(r.PowerFixed), pct(r.PowerMSPRT), r.AARuns, r.UsersNeeded)
	verdict := "no verdict (p ≥ 0.05)"
	if r.InterleaveUsers > 0 {
		verdict = fmt.Sprintf("verdict held from %d users on (an A/B test needs %.0f users per arm for the observed conversion lift at 80%% power)", r.InterleaveUsers, r.ABUsersForObserved)
	}
	fmt.Fprintf(w, "    Interleaving (team draft) of the same models: %d users, wins %s %d / %s %d (ties %d), p %.3g: %s; interleaving prefers %s, the A/B test %s (agree: %v).\n",
		r.InterleaveShown, r.Control, r.Interleave.WinsA, r.Treatment, r.Interleave.WinsB, r.Interleave.Ties, r.Interleave.PValue, verdict, r.ILWinner, r.ABWinner, r.Agree)
	if len(r.AB.Variants) == 2 {
		fmt.Fprintf(w, "\n(6) offline estimate of %s's clicks per page (position-based inverse propensity, clipped at %d, before going live); the A/B test measured %.3f [%.3f, %.3f] (control %.3f):\n",
			r.Treatment, ClipWeight, r.AB.Variants[1].CTR.Value, r.AB.Variants[1].CTR.Low, r.AB.Variants[1].CTR.High, r.AB.Variants[0].CTR.Value)
		fmt.Fprintf(w, "- true θ = k^−%.1f: from the control's logs: %s\n- true θ, from the interleaved logs: %s\n", r.PositionBias, r.IPSControl, r.IPSInterleaved)
		th := make([]string, len(r.Theta))
		for i, v := range r.Theta {
			th[i] = fmt.Sprintf("%.2f", v)
		}
		fmt.Fprintf(w, "- θ fitted by EM from the logged pages (%s): from the control's logs: %s\n- EM θ, from the interleaved logs: %s\n",
			strings.Join(th, ", "), r.IPSControlEst, r.IPSInterleavedEst)
		if r.ThetaExplored != nil {
			th := make([]string, len(r.ThetaExplored))
			for i, v := range r.ThetaExplored {
				th[i] = fmt.Sprintf("%.2f", v)
			}
			fmt.Fprintf(w, "- from the %d pages the server shuffled (explore share %.3f): θ = %s\n", r.ExploredPages, r.ExploreShare, strings.Join(th, ", "))
			if r.IPSControlExp.Pages > 0 || r.IPSInterleavedExp.Pages > 0 {
				fmt.Fprintf(w, "- shuffled θ, from the control's logs: %s\n- shuffled θ, from the interleaved logs: %s\n", r.IPSControlExp, r.IPSInterleavedExp)
			}
		}
		fmt.Fprintf(w, "- %.1f%% of the logged clicks are on items the shopper bought later; the candidate's answer, asked after the run, leaves them out.\n", 100*r.BoughtClicks)
		fmt.Fprintf(w, "- a day served by %s with %s's page asked for each shopper just before (%d pages sampled): true θ: %s\n", r.Control, r.Treatment, r.IPSShadowed.Pages, r.IPSShadowed)
		if r.IPSShadowedExp.Pages > 0 {
			fmt.Fprintf(w, "- the same pages, shuffled θ: %s\n", r.IPSShadowedExp)
		}
		fmt.Fprintf(w, "- %s's true expected clicks on those pages (the simulation knows the tastes): %.3f [%.3f, %.3f], of which on items the control's page showed too: %.3f [%.3f, %.3f]\n",
			r.Treatment, r.ShadowTruth.Value, r.ShadowTruth.Low, r.ShadowTruth.High, r.ShadowTruthShown.Value, r.ShadowTruthShown.Low, r.ShadowTruthShown.High)
	}
}

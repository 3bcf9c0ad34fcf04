package api

import (
	"context"
	"slices"
	"sync/atomic"

	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/search"
)

// SearchChallenge is a search ranker on trial against the serving one
// (search/ranking's online promotion check, decision 0073).
type SearchChallenge struct {
	// Duel names the challenge; interleaved answers' impressions carry it
	// as their experiment.
	Duel string
	// Ranker ranks as the challenger does.
	Ranker search.Ranker
}

// searchDuel is the online promotion check's hold on search answers.
type searchDuel struct {
	share   float64
	current func() (SearchChallenge, bool)
}

// SetSearchChallenge makes a share (0 … 1, experiments.search_interleave_share)
// of first search pages interleave the serving ranker's answer with the
// challenger's while current reports one: team draft
// (experiment.TeamDraft), each item's team in the answer's impression, its
// experiment the challenge's name. Clicks on them (the impression log
// notes their positions) decide the challenge. Call before serving.
func (s *Server) SetSearchChallenge(share float64, current func() (SearchChallenge, bool)) {
	if share <= 0 || current == nil {
		s.duel.Store(nil)
		return
	}
	s.duel.Store(&searchDuel{share: min(share, 1), current: current})
}

// duelHold is the Server's field (atomic: set once at start, read by
// every search).
type duelHold = atomic.Pointer[searchDuel]

// interleaveSearch interleaves the serving answer res of req with the
// challenger's, when the answer may be: one of the share, a first page in
// relevance order of a learned-ranking search, served outside any
// experiment (whose variant it would blur) and not explored (its order is
// shuffled), with no rule arranging it. The caller checks the rules. It
// returns the interleaved items and their teams (nil, nil: leave res as
// it is), and marks sv.
func (h *searchHandlers) interleaveSearch(ctx context.Context, sv *served, req search.Request, res *search.Result) ([]search.Hit, []uint8, error) {
	d := h.srv.duel.Load()
	if d == nil || sv == nil || sv.as.Experiment != "" || req.Offset != 0 || (req.Sort != "" && req.Sort != search.SortRelevance) ||
		res.Mode != search.ModeLTR || len(res.Items) < 2 || !impressions.Interleaves(sv.id, d.share) ||
		sv.explores() {
		return nil, nil, nil
	}
	ch, ok := d.current()
	if !ok || ch.Ranker == nil {
		return nil, nil, nil
	}
	theirs := req
	theirs.Ranker = ch.Ranker
	other, err := h.ix.Search(ctx, theirs)
	if err != nil {
		return nil, nil, err
	}
	a, b := hitIDs(res.Items), hitIDs(other.Items)
	if slices.Equal(a, b) {
		return nil, nil, nil // the same list says nothing of either
	}
	byID := make(map[string]search.Hit, len(a)+len(b))
	for _, list := range [][]search.Hit{other.Items, res.Items} { // the serving answer's hit wins
		for _, hit := range list {
			byID[hit.ID] = hit
		}
	}
	merged, teams := experiment.TeamDraft(a, b, len(a), sv.id)
	items := make([]search.Hit, len(merged))
	for i, id := range merged {
		items[i] = byID[id]
		items[i].Score = res.Items[i].Score // each position keeps its score, as in an explored answer
	}
	sv.duel = ch.Duel
	return items, teams, nil
}

// alignTeams gives each item of after the team it had in before
// (impressions.NoTeam for an item neither ranker placed: an ad).
func alignTeams(before []search.Hit, teams []uint8, after []search.Hit) []uint8 {
	if teams == nil {
		return nil
	}
	team := make(map[string]uint8, len(before))
	for i, hit := range before {
		team[hit.ID] = teams[i]
	}
	out := make([]uint8, len(after))
	for i, hit := range after {
		t, ok := team[hit.ID]
		if !ok || hit.Sponsored {
			t = impressions.NoTeam
		}
		out[i] = t
	}
	return out
}

func hitIDs(hs []search.Hit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}

package experiment

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/impressions"
)

// Challenges of the search ranker (search/ranking's online promotion
// check, decision 0073) are decided from the interleaved answers of every
// replica. Each replica's impression log holds the answers it served and,
// since every replica hears every event, the clicks on them; so each
// counts its own (impressions.Log.Duels) and, on a shared store, shares
// the counts beside its position counts (store.Experiments
// PutPositionCounts, under its replica name with duelRowSuffix; a row the
// fit reads as a surface without explored answers, and skips). A replica
// shares them at every hourly fit and whenever it is asked (Duel): the
// replica that decides sees the others' answers up to an hour late.

// duelRowSuffix names a replica's row of challenge counts in the shared
// position counts.
const duelRowSuffix = "/duels"

// Duel counts the interleaved answers of challenge duel shown from since
// on: this replica's, and on a shared store every replica's that shared
// its counts within the last sharedFitWindow (this one's now).
func (m *Manager) Duel(ctx context.Context, duel string, since time.Time) (impressions.DuelTally, error) {
	own, err := m.imp.Duel(ctx, duel, since)
	if err != nil || m.shared == nil {
		return own, err
	}
	all, err := m.shareDuels(ctx, map[string]impressions.DuelTally{duel: own})
	if err != nil {
		m.log.Warn("sharing the challenge counts with the other replicas failed; this replica's own answers decide", "duel", duel, "error", err)
		return own, nil
	}
	return all[duel], nil
}

// shareDuels writes this replica's counts of the challenges in its log
// (own, merged into those it shared last) to the shared store and returns
// every replica's summed by challenge.
func (m *Manager) shareDuels(ctx context.Context, own map[string]impressions.DuelTally) (map[string]impressions.DuelTally, error) {
	m.mu.Lock()
	if m.duels == nil {
		m.duels = map[string]impressions.DuelTally{}
	}
	for k, v := range own {
		m.duels[k] = v
	}
	b, err := json.Marshal(m.duels)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	now := m.now()
	if err := m.shared.PutPositionCounts(ctx, m.replica+duelRowSuffix, b, now); err != nil {
		return nil, err
	}
	raw, err := m.shared.PositionCounts(ctx, now.Add(-sharedFitWindow))
	if err != nil {
		return nil, err
	}
	sum := map[string]impressions.DuelTally{}
	for _, r := range raw {
		var row map[string]impressions.DuelTally
		if json.Unmarshal(r, &row) != nil {
			continue // a replica's position counts of another shape
		}
		for k, v := range row {
			if strings.HasPrefix(k, impressions.DuelPrefix) {
				sum[k] = sum[k].Add(v)
			}
		}
	}
	return sum, nil
}

// shareAllDuels shares the counts of every challenge in this replica's
// log (FitPositions, hourly).
func (m *Manager) shareAllDuels(ctx context.Context) error {
	own, err := m.imp.Duels(ctx, time.Time{})
	if err != nil || len(own) == 0 {
		return err
	}
	m.mu.Lock()
	m.duels = map[string]impressions.DuelTally{} // challenges no longer in the log drop out
	m.mu.Unlock()
	_, err = m.shareDuels(ctx, own)
	return err
}

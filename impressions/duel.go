package impressions

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Interleaved answers of a ranker on trial (search/ranking's online
// promotion check, decision 0073): the answer mixes the serving version's
// list (team 0) and the challenger's (team 1) by team draft, its
// impression carries the challenge's name as its experiment and each
// item's team, and the clicked positions noted beside it (Click) are
// credited to the teams. Items no ranker placed (sponsored) carry NoTeam.

// NoTeam marks an item of an interleaved answer that neither team placed.
const NoTeam = 2

// Interleaves reports whether the answer requestID is one of the share
// (0 … 1) of answers interleaved with a challenger. Like Explores it is a
// pure function of the request id, with its own salt, so the two shares
// are drawn independently (the caller serves an explored answer as
// explored, never interleaved).
func Interleaves(requestID string, share float64) bool {
	if share <= 0 {
		return false
	}
	return unit(requestID, "interleave") < share
}

// DuelTally counts the interleaved answers of one challenge by their
// credited clicks: Wins favour team 1 (the challenger), Losses team 0
// (the serving version), Ties credit both alike; Answers counts them all,
// clicked or not.
type DuelTally struct {
	Answers int `json:"answers"`
	Wins    int `json:"wins"`
	Losses  int `json:"losses"`
	Ties    int `json:"ties"`
}

// DuelPrefix begins the experiment name of every interleaved answer of a
// challenge (search/ranking.DuelName).
const DuelPrefix = "duel:"

// Duel counts the written answers whose experiment is duel, shown from
// from on (by their request id's second), crediting each position clicked
// in them (once, however often it was clicked) to the team that placed
// its item. It reads this log only: the answers this replica served.
func (l *Log) Duel(ctx context.Context, duel string, from time.Time) (DuelTally, error) {
	all, err := l.duels(ctx, from, duel)
	return all[duel], err
}

// Duels counts, as Duel does, every challenge in the log (experiment
// names beginning with DuelPrefix), by name.
func (l *Log) Duels(ctx context.Context, from time.Time) (map[string]DuelTally, error) {
	return l.duels(ctx, from, "")
}

// duels counts the challenges of the log, or only the one named only.
func (l *Log) duels(ctx context.Context, from time.Time, only string) (map[string]DuelTally, error) {
	out := map[string]DuelTally{}
	err := l.view(func(tx *bolt.Tx) error {
		cc := tx.Bucket(clickBucket).Cursor()
		return scanTx(ctx, tx, from, func(k []byte, imp Impression) error {
			if len(imp.Teams) == 0 || !strings.HasPrefix(imp.Experiment, DuelPrefix) || (only != "" && imp.Experiment != only) {
				return nil
			}
			t := out[imp.Experiment]
			t.Answers++
			var credit [2]int
			for ck, _ := cc.Seek(k); ck != nil && bytes.HasPrefix(ck, k); ck, _ = cc.Next() {
				if len(ck) != len(k)+2 {
					continue
				}
				p := int(binary.BigEndian.Uint16(ck[len(k):])) - 1
				if p >= 0 && p < len(imp.Teams) && imp.Teams[p] < NoTeam {
					credit[imp.Teams[p]]++
				}
			}
			switch {
			case credit[1] > credit[0]:
				t.Wins++
			case credit[0] > credit[1]:
				t.Losses++
			case credit[0] > 0:
				t.Ties++
			}
			out[imp.Experiment] = t
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("count the interleaved answers of challenges: %w", err)
	}
	return out, nil
}

// Add sums two tallies.
func (t DuelTally) Add(o DuelTally) DuelTally {
	return DuelTally{Answers: t.Answers + o.Answers, Wins: t.Wins + o.Wins, Losses: t.Losses + o.Losses, Ties: t.Ties + o.Ties}
}

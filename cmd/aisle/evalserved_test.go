package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestServedS3RecPlumbing checks how `aisle eval served` reads an s3rec
// file: the test split with its published cut-offs, and the events it
// posts — every item of a line but the last (the validation item as
// history), one minute apart in line order since the file has no clock,
// never a test target.
func TestServedS3RecPlumbing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "Tiny.txt")
	if err := os.WriteFile(p, []byte("1 10 11 12 13\n2 20 21\n3 10 20 30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		opt     servedOptions
		wantKs  []int
		wantErr string
	}{
		{name: "published cut-offs", opt: servedOptions{Format: "s3rec", Path: p}, wantKs: []int{5, 10, 20}},
		{name: "cut-offs asked for", opt: servedOptions{Format: "s3rec", Path: p, Ks: []int{3}}, wantKs: []int{3}},
		{name: "named split", opt: servedOptions{Format: "s3rec", Path: p, Fold: "test"}, wantKs: []int{5, 10, 20}},
		{name: "unknown split", opt: servedOptions{Format: "s3rec", Path: p, Fold: "u1"}, wantErr: `no split "u1"`},
		{name: "folder instead of file", opt: servedOptions{Format: "s3rec", Path: filepath.Dir(p)}, wantErr: "is a folder"},
		{name: "unsupported format", opt: servedOptions{Format: "s3", Path: p}, wantErr: "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp, ks, err := servedSplit(context.Background(), tc.opt)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sp.Name != "test" || !slices.Equal(ks, tc.wantKs) || len(sp.Cases) != 3 {
				t.Fatalf("split %q, ks %v, %d cases; want test, %v, 3", sp.Name, ks, len(sp.Cases), tc.wantKs)
			}
			if servedClock(tc.opt.Format) {
				t.Fatal("s3rec times are positions in a line, not a clock")
			}
			evs, seen := servedEvents(sp, "purchase", servedClock(tc.opt.Format))
			got := map[string][]string{}
			for _, e := range evs {
				if e.Type != "purchase" {
					t.Errorf("event type %q", e.Type)
				}
				want := base.Add(time.Duration(len(got[e.UserID])) * time.Minute)
				if !e.Timestamp.Equal(want) {
					t.Errorf("user %s item %s at %s, want %s (one a minute)", e.UserID, e.ItemID, e.Timestamp, want)
				}
				got[e.UserID] = append(got[e.UserID], e.ItemID)
			}
			want := map[string][]string{"1": {"10", "11", "12"}, "2": {"20"}, "3": {"10", "20"}}
			for u, items := range want {
				if !slices.Equal(got[u], items) {
					t.Errorf("user %s posted %v, want %v", u, got[u], items)
				}
			}
			if len(got) != len(want) {
				t.Errorf("posted for %d users, want %d", len(got), len(want))
			}
			for _, cs := range sp.Cases {
				if n := len(seen[cs.User]); n != len(want[sp.Train.UserIDs[cs.User]]) {
					t.Errorf("user %s: %d items seen", sp.Train.UserIDs[cs.User], n)
				}
				for _, tg := range cs.Targets {
					if seen[cs.User][tg] {
						t.Errorf("user %s: test target %s was posted", sp.Train.UserIDs[cs.User], sp.Train.ItemIDs[tg])
					}
				}
			}
		})
	}
}

// TestMetricLine checks the one-line rendering logged before the offline
// fit: the table's order (by cut-off, NDCG first), four decimals.
func TestMetricLine(t *testing.T) {
	tests := []struct {
		in   map[string]float64
		want string
	}{
		{map[string]float64{}, ""},
		{map[string]float64{"NDCG@10": 0.05, "HR@10": 0.1, "HR@5": 0.07, "NDCG@5": 0.04},
			"NDCG@5 0.0400, HR@5 0.0700, NDCG@10 0.0500, HR@10 0.1000"},
	}
	for _, tc := range tests {
		if got := metricLine(tc.in); got != tc.want {
			t.Errorf("metricLine(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

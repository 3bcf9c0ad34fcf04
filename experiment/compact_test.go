package experiment

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/internal/reqid"
)

// A forgotten shopper's outcomes leave experiments.db within CompactAfter:
// the units were deleted, but bbolt kept them in its free pages, under a
// pseudonym whose key is in the same file (issue 12: "their bytes are gone
// from disk"). The others' outcomes survive the rewrite.
func TestForgottenUnitsLeaveTheFile(t *testing.T) {
	dir := t.TempDir()
	imp, err := impressions.Open(filepath.Join(dir, "imp.db"), impressions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer imp.Close()
	path := filepath.Join(dir, "exp.db")
	m, err := Open(Options{Path: path, Impressions: imp, FlushEvery: 20 * time.Millisecond, CompactAfter: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	e, err := m.Create(contract())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"carol", "dave"} {
		as, _ := m.Serve("recommend", u)
		m.Shown(impressions.Impression{RequestID: reqid.New(), Surface: "recommend", UserID: u, Experiment: e.ID, Variant: as.Variant, Items: []string{"i1"}}, u)
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	carol := []byte(m.ps.Of("carol"))
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, carol) {
		t.Fatal("carol's unit is not in the file before forgetting: the test shows nothing")
	}
	m.UserDeleted("carol")
	deadline := time.Now().Add(10 * time.Second)
	for m.Compactions() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if m.Compactions() == 0 {
		t.Fatal("no rewrite within 10 s of the forget")
	}
	if raw, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, carol) {
		t.Fatal("the file still holds the forgotten shopper's unit")
	}
	r, err := m.Results(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Variants[0].Users + r.Variants[1].Users; n != 1 {
		t.Fatalf("%d users in the results after the rewrite, want dave alone", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2, err := Open(Options{Path: path, Impressions: imp})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if r, err := m2.Results(e.ID); err != nil || r.Variants[0].Users+r.Variants[1].Users != 1 {
		t.Fatalf("reopened after the rewrite: %+v, %v; want dave alone", r.Variants, err)
	}
}

// A forget that comes just before a shutdown still rewrites the file
// before Run returns: the rewrite due is in memory only, and a next start
// would leave the forgotten shopper's units in bbolt's free pages.
func TestForgetJustBeforeShutdownLeavesTheFile(t *testing.T) {
	dir := t.TempDir()
	imp, err := impressions.Open(filepath.Join(dir, "imp.db"), impressions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer imp.Close()
	path := filepath.Join(dir, "exp.db")
	m, err := Open(Options{Path: path, Impressions: imp, FlushEvery: 20 * time.Millisecond, CompactAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	e, err := m.Create(contract())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"carol", "dave"} {
		as, _ := m.Serve("recommend", u)
		m.Shown(impressions.Impression{RequestID: reqid.New(), Surface: "recommend", UserID: u, Experiment: e.ID, Variant: as.Variant, Items: []string{"i1"}}, u)
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	carol := []byte(m.ps.Of("carol"))
	m.UserDeleted("carol")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, carol) {
		t.Fatal("after the shutdown the file still holds the forgotten shopper's unit")
	}
}

package api

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/store"
)

// experimentsFor opens an impression log and an experiment manager in a
// temporary directory, runs their writers until the test ends and adds
// the experiment routes to srv.
func experimentsFor(t testing.TB, srv *Server, st store.Store) *experiment.Manager {
	t.Helper()
	dir := t.TempDir()
	imp, err := impressions.Open(filepath.Join(dir, "impressions.db"), impressions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := experiment.Open(experiment.Options{Path: filepath.Join(dir, "experiments.db"), Impressions: imp,
		Price: func(ctx context.Context, id string) (float64, bool) {
			it, err := st.GetItem(ctx, id)
			if err != nil || it.Price == nil {
				return 0, false
			}
			return *it.Price, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- imp.Run(ctx) }()
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		m.Close()
		imp.Close()
	})
	srv.AddExperimentRoutes(m)
	return m
}

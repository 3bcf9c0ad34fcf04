package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// failingModels is the bolt store whose n-th status update (from 1) fails,
// like a full disk would.
type failingModels struct {
	store.Models
	failAt, calls int
}

var errDisk = errors.New("disk full")

func (f *failingModels) UpdateModelMeta(ctx context.Context, m store.ModelMeta) error {
	f.calls++
	if f.calls == f.failAt {
		return errDisk
	}
	return f.Models.UpdateModelMeta(ctx, m)
}

// statuses returns the stored status of each version, oldest first.
func statuses(t *testing.T, m store.Models) []store.ModelStatus {
	t.Helper()
	metas, err := m.ListModels(context.Background(), "m")
	if err != nil {
		t.Fatal(err)
	}
	var out []store.ModelStatus
	for _, mm := range metas {
		out = append(out, mm.Status)
	}
	return out
}

func equal(a, b []store.ModelStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// When a status update fails after the new version was activated, what
// serves must still match the store: the previous version is activated
// again, or (when only the old version's status failed) the store's
// newest serving version is the one in use.
func TestPromoteAndRollbackWhenTheStoreFails(t *testing.T) {
	ctx := context.Background()
	accept := func(store.ModelMeta, *store.ModelMeta) (bool, string) { return true, "" }
	for _, tc := range []struct {
		name   string
		failAt int
		// promote version 2 over serving version 1
		wantOK      bool
		wantActive  int
		wantStatus  []store.ModelStatus
		rollback    bool // then roll back instead of promoting
		rollbackErr bool
	}{
		{name: "promote, all writes succeed", failAt: 0, wantOK: true, wantActive: 2,
			wantStatus: []store.ModelStatus{store.StatusRetired, store.StatusServing}},
		{name: "promote, the candidate's write fails", failAt: 1, wantOK: false, wantActive: 1,
			wantStatus: []store.ModelStatus{store.StatusServing, store.StatusCandidate}},
		{name: "promote, retiring the old version fails", failAt: 2, wantOK: true, wantActive: 2,
			wantStatus: []store.ModelStatus{store.StatusServing, store.StatusServing}},
		{name: "rollback, marking the earlier version fails", failAt: 1, rollback: true, rollbackErr: true, wantActive: 2,
			wantStatus: []store.ModelStatus{store.StatusRetired, store.StatusServing}},
		{name: "rollback, all writes succeed", failAt: 0, rollback: true, wantActive: 1,
			wantStatus: []store.ModelStatus{store.StatusServing, store.StatusRolledBack}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bs, err := boltstore.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer bs.Close()
			for _, st := range []store.ModelStatus{store.StatusServing, store.StatusCandidate} {
				if _, err := bs.SaveModel(ctx, store.ModelMeta{Name: "m", Status: st, CreatedAt: time.Now()}, []byte("x")); err != nil {
					t.Fatal(err)
				}
			}
			active := 1
			activate := func(m store.ModelMeta) error { active = m.Version; return nil }
			if tc.rollback { // version 2 serves, 1 is retired
				if ok, err := store.PromoteVersion(ctx, bs, "m", 2, accept, activate); !ok || err != nil {
					t.Fatal(ok, err)
				}
			}
			fm := &failingModels{Models: bs, failAt: tc.failAt}
			if tc.rollback {
				_, err := store.RollbackVersion(ctx, fm, "m", activate)
				if (err != nil) != tc.rollbackErr {
					t.Fatalf("rollback error %v", err)
				}
			} else {
				ok, err := store.PromoteVersion(ctx, fm, "m", 2, accept, activate)
				if ok != tc.wantOK || (err != nil) != (tc.failAt > 0) {
					t.Fatalf("promote: %v %v", ok, err)
				}
			}
			if got := statuses(t, bs); active != tc.wantActive || !equal(got, tc.wantStatus) {
				t.Fatalf("version %d active, stored %v; want %d and %v", active, got, tc.wantActive, tc.wantStatus)
			}
		})
	}
}

package store

import (
	"context"
	"errors"
	"fmt"
)

// ModelStatus is where a stored model version is in its life.
type ModelStatus string

// Model version statuses, shared by every kind of stored model
// (recommendation models, the search ranker).
const (
	StatusServing    ModelStatus = "serving"
	StatusCandidate  ModelStatus = "candidate"
	StatusRetired    ModelStatus = "retired"     // served before, replaced by a newer version
	StatusRejected   ModelStatus = "rejected"    // retrained but worse than the serving version
	StatusRolledBack ModelStatus = "rolled_back" // served, then rolled back
)

// ErrNoRollback is returned when a model has no earlier version to go back to.
var ErrNoRollback = errors.New("no earlier version to roll back to")

// PromoteVersion makes stored version `version` of model `name` serve,
// unless accept (given the candidate and the serving version, nil when
// none) refuses it: then the candidate is marked rejected with accept's
// reason as its note. activate loads the candidate and swaps it in; it
// runs before any status is rewritten, so a version that cannot load
// changes nothing. It reports whether the version now serves.
//
// If the candidate cannot be marked serving, the previous version is
// activated again, so what serves matches the store. The candidate is
// marked before the previous version is retired: should that second write
// fail, the newest serving version (the one in use) is what loads after a
// restart, and PromoteVersion reports true with the error.
func PromoteVersion(ctx context.Context, m Models, name string, version int,
	accept func(cand ModelMeta, cur *ModelMeta) (bool, string), activate func(ModelMeta) error) (bool, error) {
	metas, err := m.ListModels(ctx, name)
	if err != nil {
		return false, err
	}
	var cand, cur *ModelMeta
	for i := range metas {
		if metas[i].Version == version {
			cand = &metas[i]
		}
		if metas[i].Status == StatusServing {
			cur = &metas[i]
		}
	}
	if cand == nil {
		return false, fmt.Errorf("model %s version %d: %w", name, version, ErrNotFound)
	}
	if cur != nil && cur.Version == version {
		cur = nil
	}
	if ok, why := accept(*cand, cur); !ok {
		cand.Status = StatusRejected
		cand.Note = why
		return false, m.UpdateModelMeta(ctx, *cand)
	}
	cand.Status = StatusServing
	if err := activate(*cand); err != nil {
		return false, err
	}
	if err := m.UpdateModelMeta(ctx, *cand); err != nil {
		err = fmt.Errorf("mark %s@%d serving: %w", name, version, err)
		if cur != nil {
			if uerr := activate(*cur); uerr != nil {
				err = errors.Join(err, fmt.Errorf("serve %s@%d again: %w", name, cur.Version, uerr))
			}
		}
		return false, err
	}
	if cur != nil {
		cur.Status = StatusRetired
		if err := m.UpdateModelMeta(ctx, *cur); err != nil {
			return true, fmt.Errorf("%s@%d serves, but version %d cannot be marked retired: %w", name, version, cur.Version, err)
		}
	}
	return true, nil
}

// RollbackVersion makes the version of model `name` that served before
// the current one serve again (through activate, before any status is
// rewritten) and marks the current one rolled back. It returns the
// version now serving. If the earlier version cannot be marked serving,
// the current one is activated again, so what serves matches the store.
func RollbackVersion(ctx context.Context, m Models, name string, activate func(ModelMeta) error) (ModelMeta, error) {
	metas, err := m.ListModels(ctx, name)
	if err != nil {
		return ModelMeta{}, err
	}
	cur := -1
	for i, mm := range metas {
		if mm.Status == StatusServing {
			cur = i
		}
	}
	if cur < 0 {
		if len(metas) == 0 {
			return ModelMeta{}, fmt.Errorf("model %q: %w", name, ErrNotFound)
		}
		return ModelMeta{}, fmt.Errorf("model %q has no serving version: %w", name, ErrNoRollback)
	}
	prev := -1
	for i := cur - 1; i >= 0; i-- {
		if metas[i].Status == StatusRetired {
			prev = i
			break
		}
	}
	if prev < 0 {
		return ModelMeta{}, fmt.Errorf("model %q version %d: %w", name, metas[cur].Version, ErrNoRollback)
	}
	serving := metas[cur]
	metas[cur].Status = StatusRolledBack
	metas[cur].Note = fmt.Sprintf("rolled back to version %d", metas[prev].Version)
	metas[prev].Status = StatusServing
	if err := activate(metas[prev]); err != nil {
		return ModelMeta{}, err
	}
	if err := m.UpdateModelMeta(ctx, metas[prev]); err != nil {
		err = fmt.Errorf("mark %s@%d serving: %w", name, metas[prev].Version, err)
		if uerr := activate(serving); uerr != nil {
			err = errors.Join(err, fmt.Errorf("serve %s@%d again: %w", name, serving.Version, uerr))
		}
		return ModelMeta{}, err
	}
	// Were this write to fail, two versions would be marked serving and
	// the newer one, rolled back from, would load after a restart.
	if err := m.UpdateModelMeta(ctx, metas[cur]); err != nil {
		return metas[prev], fmt.Errorf("%s@%d serves, but version %d cannot be marked rolled back: %w", name, metas[prev].Version, serving.Version, err)
	}
	return metas[prev], nil
}

package store

import (
	"context"
	"time"
)

// ExperimentOutcome is what one shopper (a unit: a keyed pseudonym of a
// user or session id) did inside one experiment, summed over every
// replica that served them.
type ExperimentOutcome struct {
	Experiment string
	Unit       string
	Variant    int       // index of the variant; -1 in an interleaving experiment
	First      time.Time // first exposure
	Exposures  float64
	Clicks     float64
	Carts      float64
	Orders     float64
	Revenue    float64
	// CreditA and CreditB: clicks and purchases on items each team of an
	// interleaving experiment placed
	CreditA, CreditB float64
}

// ExperimentDelta adds its counts to one unit's outcome. Key, when set,
// names what it counts (an attributed event): a delta whose Key was
// already added for the experiment, by any replica, is skipped, so an
// event every replica sees counts once.
type ExperimentDelta struct {
	ExperimentOutcome
	Key string
}

// Experiments is a store that the experiment definitions and outcomes of
// several replicas share (the PostgreSQL store), so results count every
// replica's traffic. The embedded store does not implement it: a single
// server keeps them in its own experiments.db.
type Experiments interface {
	// PutExperiment stores an experiment's definition (JSON) under its id.
	PutExperiment(ctx context.Context, id string, def []byte) error
	// ExperimentDefs returns every stored definition by id.
	ExperimentDefs(ctx context.Context) (map[string][]byte, error)
	// AddExperimentOutcomes adds the deltas in one transaction. A unit's
	// Variant is the one of its first delta and First the earliest.
	AddExperimentOutcomes(ctx context.Context, deltas []ExperimentDelta) error
	// ExperimentUnits returns the outcomes of the named units in one
	// experiment (those it has).
	ExperimentUnits(ctx context.Context, experiment string, units []string) ([]ExperimentOutcome, error)
	// ExperimentOutcomes returns every unit's outcome in one experiment.
	ExperimentOutcomes(ctx context.Context, experiment string) ([]ExperimentOutcome, error)
	// ForgetExperimentUnits deletes the outcomes of units in every
	// experiment (a deleted shopper).
	ForgetExperimentUnits(ctx context.Context, units []string) error
	// ExperimentKey returns the 32-byte key that pseudonymises units, the
	// same for every replica (the first to ask creates it).
	ExperimentKey(ctx context.Context) ([]byte, error)
	// LowerPValues lowers each named running minimum of an experiment's
	// always-valid p-values to the given value when that is lower (a
	// minimum never rises) and returns every stored minimum of the
	// experiment afterwards: the minimum over every replica's looks.
	LowerPValues(ctx context.Context, experiment string, ps map[string]float64) (map[string]float64, error)
	// PutExperimentPoint stores one day's results of an experiment (JSON;
	// day is YYYY-MM-DD), replacing that day's earlier point.
	PutExperimentPoint(ctx context.Context, experiment, day string, point []byte) error
	// ExperimentSeries returns an experiment's daily points, oldest first.
	ExperimentSeries(ctx context.Context, experiment string) ([][]byte, error)
	// TrimExperimentCounted deletes the keys of counted events (see
	// ExperimentDelta.Key) added before t, and returns how many it
	// deleted. The caller no longer counts events older than t, so their
	// keys are not needed.
	TrimExperimentCounted(ctx context.Context, before time.Time) (int64, error)
	// PutPositionCounts stores one replica's counts of the positions of
	// its explored answers (JSON), replacing its earlier ones.
	PutPositionCounts(ctx context.Context, replica string, counts []byte, fitted time.Time) error
	// PositionCounts returns every replica's counts fitted since t.
	PositionCounts(ctx context.Context, since time.Time) ([][]byte, error)
}

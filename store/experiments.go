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
	// ExperimentOutcomes returns every unit's outcome in one experiment.
	ExperimentOutcomes(ctx context.Context, experiment string) ([]ExperimentOutcome, error)
	// ForgetExperimentUnits deletes the outcomes of units in every
	// experiment (a deleted shopper).
	ForgetExperimentUnits(ctx context.Context, units []string) error
	// ExperimentKey returns the 32-byte key that pseudonymises units, the
	// same for every replica (the first to ask creates it).
	ExperimentKey(ctx context.Context) ([]byte, error)
}

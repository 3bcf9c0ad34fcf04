package pgstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aisle-dev/aisle/store"
)

// Experiments shared by the replicas (store.Experiments, issue 15):
// migration 0005. See docs/experiments.md, "Several replicas".

var _ store.Experiments = (*Store)(nil)

// PutExperiment implements store.Experiments.
func (s *Store) PutExperiment(ctx context.Context, id string, def []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO experiments (shop, id, def) VALUES ($1, $2, $3)
		ON CONFLICT (shop, id) DO UPDATE SET def = EXCLUDED.def`, s.shop, id, string(def))
	if err != nil {
		return fmt.Errorf("store experiment %s: %w", id, err)
	}
	return nil
}

// ExperimentDefs implements store.Experiments.
func (s *Store) ExperimentDefs(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, def::text FROM experiments WHERE shop = $1`, s.shop)
	if err != nil {
		return nil, fmt.Errorf("read the experiments: %w", err)
	}
	out := map[string][]byte{}
	for rows.Next() {
		var id, def string
		if err := rows.Scan(&id, &def); err != nil {
			rows.Close()
			return nil, err
		}
		out[id] = []byte(def)
	}
	return out, rows.Err()
}

// outcomeUpsert adds a delta to a unit's row: the first delta's variant,
// the earliest first exposure, summed counts.
const outcomeUpsert = `INSERT INTO experiment_outcomes AS o
	(shop, experiment, unit, variant, first_at, exposures, clicks, carts, orders, revenue, credit_a, credit_b)
	%s
	ON CONFLICT (shop, experiment, unit) DO UPDATE SET
		first_at = LEAST(o.first_at, EXCLUDED.first_at),
		exposures = o.exposures + EXCLUDED.exposures, clicks = o.clicks + EXCLUDED.clicks,
		carts = o.carts + EXCLUDED.carts, orders = o.orders + EXCLUDED.orders,
		revenue = o.revenue + EXCLUDED.revenue,
		credit_a = o.credit_a + EXCLUDED.credit_a, credit_b = o.credit_b + EXCLUDED.credit_b`

var (
	plainOutcome = fmt.Sprintf(outcomeUpsert, `VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`)
	// keyedOutcome adds the delta only when its key was not counted yet
	keyedOutcome = `WITH counted AS (
		INSERT INTO experiment_counted (shop, experiment, key) VALUES ($1, $2, $13)
		ON CONFLICT DO NOTHING RETURNING 1)
	` + fmt.Sprintf(outcomeUpsert, `SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 WHERE EXISTS (SELECT 1 FROM counted)`)
)

// AddExperimentOutcomes implements store.Experiments. The deltas are
// applied in (experiment, unit, key) order, so two replicas adding at once
// take their row locks in the same order and never deadlock.
func (s *Store) AddExperimentOutcomes(ctx context.Context, deltas []store.ExperimentDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	ds := slices.Clone(deltas)
	slices.SortFunc(ds, func(a, b store.ExperimentDelta) int {
		return cmp.Or(cmp.Compare(a.Experiment, b.Experiment), cmp.Compare(a.Unit, b.Unit), cmp.Compare(a.Key, b.Key))
	})
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, d := range ds {
			args := []any{s.shop, d.Experiment, d.Unit, d.Variant, d.First.UTC(), d.Exposures, d.Clicks, d.Carts, d.Orders, d.Revenue, d.CreditA, d.CreditB}
			if d.Key == "" {
				b.Queue(plainOutcome, args...)
			} else {
				b.Queue(keyedOutcome, append(args, d.Key)...)
			}
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("add %d experiment outcomes: %w", len(ds), err)
	}
	return nil
}

// ExperimentOutcomes implements store.Experiments.
func (s *Store) ExperimentOutcomes(ctx context.Context, experiment string) ([]store.ExperimentOutcome, error) {
	return s.outcomes(ctx, experiment, nil)
}

// ExperimentUnits implements store.Experiments.
func (s *Store) ExperimentUnits(ctx context.Context, experiment string, units []string) ([]store.ExperimentOutcome, error) {
	if len(units) == 0 {
		return nil, nil
	}
	return s.outcomes(ctx, experiment, units)
}

// outcomes reads an experiment's outcomes: of every unit (units nil) or
// of the named ones.
func (s *Store) outcomes(ctx context.Context, experiment string, units []string) ([]store.ExperimentOutcome, error) {
	rows, err := s.pool.Query(ctx, `SELECT unit, variant, first_at, exposures, clicks, carts, orders, revenue, credit_a, credit_b
		FROM experiment_outcomes WHERE shop = $1 AND experiment = $2 AND ($3::text[] IS NULL OR unit = ANY($3))`, s.shop, experiment, units)
	if err != nil {
		return nil, fmt.Errorf("read the outcomes of experiment %s: %w", experiment, err)
	}
	var out []store.ExperimentOutcome
	for rows.Next() {
		o := store.ExperimentOutcome{Experiment: experiment}
		if err := rows.Scan(&o.Unit, &o.Variant, &o.First, &o.Exposures, &o.Clicks, &o.Carts, &o.Orders, &o.Revenue, &o.CreditA, &o.CreditB); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// ForgetExperimentUnits implements store.Experiments.
func (s *Store) ForgetExperimentUnits(ctx context.Context, units []string) error {
	if len(units) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM experiment_outcomes WHERE shop = $1 AND unit = ANY($2)`, s.shop, units); err != nil {
		return fmt.Errorf("forget %d shoppers' experiment outcomes: %w", len(units), err)
	}
	return nil
}

// ExperimentKey implements store.Experiments.
func (s *Store) ExperimentKey(ctx context.Context) ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO experiment_keys (shop, key) VALUES ($1, $2) ON CONFLICT DO NOTHING`, s.shop, k); err != nil {
		return nil, fmt.Errorf("store the experiment key: %w", err)
	}
	var key []byte
	if err := s.pool.QueryRow(ctx, `SELECT key FROM experiment_keys WHERE shop = $1`, s.shop).Scan(&key); err != nil {
		return nil, fmt.Errorf("read the experiment key: %w", err)
	}
	if len(key) != 32 {
		return nil, errors.New("the stored experiment key is not 32 bytes")
	}
	return key, nil
}

// LowerPValues implements store.Experiments.
func (s *Store) LowerPValues(ctx context.Context, experiment string, ps map[string]float64) (map[string]float64, error) {
	names := make([]string, 0, len(ps))
	for n := range ps {
		names = append(names, n)
	}
	slices.Sort(names) // one lock order for every replica
	out := map[string]float64{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, n := range names {
			b.Queue(`INSERT INTO experiment_pmin AS m (shop, experiment, name, p) VALUES ($1, $2, $3, $4)
				ON CONFLICT (shop, experiment, name) DO UPDATE SET p = LEAST(m.p, EXCLUDED.p)`, s.shop, experiment, n, ps[n])
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT name, p FROM experiment_pmin WHERE shop = $1 AND experiment = $2`, s.shop, experiment)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n string
			var p float64
			if err := rows.Scan(&n, &p); err != nil {
				rows.Close()
				return err
			}
			out[n] = p
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("running p-values of experiment %s: %w", experiment, err)
	}
	return out, nil
}

// PutExperimentPoint implements store.Experiments.
func (s *Store) PutExperimentPoint(ctx context.Context, experiment, day string, point []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO experiment_series (shop, experiment, day, point) VALUES ($1, $2, $3, $4)
		ON CONFLICT (shop, experiment, day) DO UPDATE SET point = EXCLUDED.point`, s.shop, experiment, day, string(point))
	if err != nil {
		return fmt.Errorf("store the %s point of experiment %s: %w", day, experiment, err)
	}
	return nil
}

// ExperimentSeries implements store.Experiments.
func (s *Store) ExperimentSeries(ctx context.Context, experiment string) ([][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT point::text FROM experiment_series WHERE shop = $1 AND experiment = $2 ORDER BY day`, s.shop, experiment)
	if err != nil {
		return nil, fmt.Errorf("read the series of experiment %s: %w", experiment, err)
	}
	var out [][]byte
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, []byte(p))
	}
	return out, rows.Err()
}

// TrimExperimentCounted implements store.Experiments.
func (s *Store) TrimExperimentCounted(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM experiment_counted WHERE shop = $1 AND counted_at < $2`, s.shop, before.UTC())
	if err != nil {
		return 0, fmt.Errorf("trim the counted experiment events: %w", err)
	}
	return tag.RowsAffected(), nil
}

// PutPositionCounts implements store.Experiments.
func (s *Store) PutPositionCounts(ctx context.Context, replica string, counts []byte, fitted time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO experiment_positions (shop, replica, counts, fitted_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (shop, replica) DO UPDATE SET counts = EXCLUDED.counts, fitted_at = EXCLUDED.fitted_at`, s.shop, replica, string(counts), fitted.UTC())
	if err != nil {
		return fmt.Errorf("store the position counts of replica %s: %w", replica, err)
	}
	return nil
}

// PositionCounts implements store.Experiments.
func (s *Store) PositionCounts(ctx context.Context, since time.Time) ([][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT counts::text FROM experiment_positions WHERE shop = $1 AND fitted_at >= $2 ORDER BY replica`, s.shop, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("read the replicas' position counts: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("read the replicas' position counts: %w", err)
	}
	return out, nil
}

package pgstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

var _ store.Snapshotter = (*Store)(nil)

// SnapshotCounts are what a snapshot holds.
type SnapshotCounts struct {
	Items, Users, Events, Models, Vectors, Merch int
}

// WriteSnapshot implements store.Snapshotter: it writes the shop as one
// embedded data file (the format of the embedded store's backups, which
// `aisle restore` puts in place and `aisle migrate --from DIR --to
// postgres://…` copies back), as of one moment. Everything is read in one
// REPEATABLE READ, read-only transaction, so writes go on meanwhile and
// none made after it started is in the copy. The copy is built in a
// temporary data directory (os.TempDir, or TMPDIR: it needs about the
// size of the shop's data) and streamed from there; events are
// renumbered from 1 in sequence order (gaps left by deleted events
// close), idempotency keys and the receipts of forgotten users are not
// copied (see docs/postgres.md).
func (s *Store) WriteSnapshot(ctx context.Context, w io.Writer) (int64, error) {
	dir, err := os.MkdirTemp("", "aisle-pg-snapshot-")
	if err != nil {
		return 0, fmt.Errorf("snapshot: a temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	dst, err := boltstore.Open(dir)
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	defer dst.Close()
	if _, err := s.SnapshotTo(ctx, dst); err != nil {
		return 0, err
	}
	return dst.WriteSnapshot(ctx, w)
}

// SnapshotTo copies the shop, as of one moment (one REPEATABLE READ
// transaction), into dst, an empty embedded store, and returns what it
// copied.
func (s *Store) SnapshotTo(ctx context.Context, dst *boltstore.Store) (SnapshotCounts, error) {
	var n SnapshotCounts
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		const batch = 1000
		// items and users: JSON records
		var items []catalog.Item
		if err := eachDoc(ctx, tx, `SELECT doc FROM items WHERE shop = $1 ORDER BY id`, s.shop, func(it catalog.Item) error {
			items = append(items, it)
			if len(items) < batch {
				return nil
			}
			err := dst.PutItems(ctx, items)
			n.Items += len(items)
			items = items[:0]
			return err
		}); err != nil {
			return fmt.Errorf("snapshot items: %w", err)
		}
		if err := dst.PutItems(ctx, items); err != nil {
			return fmt.Errorf("snapshot items: %w", err)
		}
		n.Items += len(items)
		var users []catalog.User
		if err := eachDoc(ctx, tx, `SELECT doc FROM users WHERE shop = $1 ORDER BY id`, s.shop, func(u catalog.User) error {
			users = append(users, u)
			if len(users) < batch {
				return nil
			}
			err := dst.PutUsers(ctx, users)
			n.Users += len(users)
			users = users[:0]
			return err
		}); err != nil {
			return fmt.Errorf("snapshot users: %w", err)
		}
		if err := dst.PutUsers(ctx, users); err != nil {
			return fmt.Errorf("snapshot users: %w", err)
		}
		n.Users += len(users)

		// events, in sequence order, 10,000 per write
		rows, err := tx.Query(ctx, `SELECT `+eventCols+` FROM events WHERE shop = $1 ORDER BY seq`, s.shop)
		if err != nil {
			return fmt.Errorf("snapshot events: %w", err)
		}
		evs := make([]events.Event, 0, 10*batch)
		flush := func() error {
			err := dst.AppendEvents(ctx, evs)
			n.Events += len(evs)
			evs = evs[:0]
			return err
		}
		for rows.Next() {
			var e events.Event
			if _, err := scanEvent(rows, &e); err != nil {
				rows.Close()
				return err
			}
			e.Seq = 0
			if evs = append(evs, e); len(evs) == cap(evs) {
				if err := flush(); err != nil {
					rows.Close()
					return fmt.Errorf("snapshot events: %w", err)
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("snapshot events: %w", err)
		}
		if err := flush(); err != nil {
			return fmt.Errorf("snapshot events: %w", err)
		}

		// models: every version with its metadata; one artefact in memory at a time
		var metas []store.ModelMeta
		if err := eachDoc(ctx, tx, `SELECT meta FROM models WHERE shop = $1 ORDER BY name, version`, s.shop, func(m store.ModelMeta) error {
			metas = append(metas, m)
			return nil
		}); err != nil {
			return fmt.Errorf("snapshot models: %w", err)
		}
		for _, m := range metas {
			blob := make([]byte, 0, max(m.Size, 0))
			rows, err := tx.Query(ctx, `SELECT data FROM model_chunks WHERE shop = $1 AND name = $2 AND version = $3 ORDER BY n`, s.shop, m.Name, m.Version)
			if err != nil {
				return fmt.Errorf("snapshot model %s@%d: %w", m.Name, m.Version, err)
			}
			for rows.Next() {
				blob = append(blob, rows.RawValues()[0]...)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("snapshot model %s@%d: %w", m.Name, m.Version, err)
			}
			v, err := dst.SaveModel(ctx, m, blob)
			if err != nil {
				return fmt.Errorf("snapshot model %s@%d: %w", m.Name, m.Version, err)
			}
			if v != m.Version {
				return fmt.Errorf("snapshot model %s: version %d became %d in the embedded format (its versions are not numbered 1, 2, …)", m.Name, m.Version, v)
			}
			if err := dst.UpdateModelMeta(ctx, m); err != nil {
				return fmt.Errorf("snapshot model %s@%d metadata: %w", m.Name, m.Version, err)
			}
			n.Models++
		}

		// item vectors, by space
		rows, err = tx.Query(ctx, `SELECT space, item_id, hash, vec FROM vectors WHERE shop = $1 ORDER BY space, item_id`, s.shop)
		if err != nil {
			return fmt.Errorf("snapshot vectors: %w", err)
		}
		space := ""
		var vecs []store.ItemVector
		flushVecs := func() error {
			if len(vecs) == 0 {
				return nil
			}
			err := dst.PutVectors(ctx, space, vecs)
			n.Vectors += len(vecs)
			vecs = vecs[:0]
			return err
		}
		for rows.Next() {
			raw := rows.RawValues()
			if string(raw[0]) != space || len(vecs) == batch {
				if err := flushVecs(); err != nil {
					rows.Close()
					return fmt.Errorf("snapshot vectors: %w", err)
				}
				space = string(raw[0])
			}
			if len(raw[2]) != hashLen || len(raw[3])%4 != 0 {
				rows.Close()
				return fmt.Errorf("snapshot: space %q: stored vector of item %q is corrupt", raw[0], raw[1])
			}
			v := store.ItemVector{ItemID: string(raw[1]), Vec: make([]float32, len(raw[3])/4)}
			copy(v.TextHash[:], raw[2])
			for i := range v.Vec {
				v.Vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[3][4*i:]))
			}
			vecs = append(vecs, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("snapshot vectors: %w", err)
		}
		if err := flushVecs(); err != nil {
			return fmt.Errorf("snapshot vectors: %w", err)
		}

		// merchandising records (rules, campaigns, the spend ledger)
		type kv struct {
			bucket, key string
			value       []byte
		}
		var recs []kv
		rows, err = tx.Query(ctx, `SELECT bucket, key, value FROM merch WHERE shop = $1 ORDER BY bucket, key`, s.shop)
		if err != nil {
			return fmt.Errorf("snapshot merchandising records: %w", err)
		}
		for rows.Next() {
			raw := rows.RawValues()
			recs = append(recs, kv{string(raw[0]), string(raw[1]), append([]byte(nil), raw[2]...)})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("snapshot merchandising records: %w", err)
		}
		if len(recs) > 0 {
			if err := dst.MerchUpdate(ctx, func(m store.MerchTx) error {
				for _, r := range recs {
					if err := m.Put(r.bucket, r.key, r.value); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return fmt.Errorf("snapshot merchandising records: %w", err)
			}
		}
		n.Merch = len(recs)
		return nil
	})
	return n, err
}

// eachDoc calls fn with each row's JSON document (the first column)
// decoded as T.
func eachDoc[T any](ctx context.Context, tx pgx.Tx, sql, shop string, fn func(T) error) error {
	rows, err := tx.Query(ctx, sql, shop)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var rec T
		if err := json.Unmarshal(rows.RawValues()[0], &rec); err != nil {
			return fmt.Errorf("decode stored record: %w", err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return rows.Err()
}

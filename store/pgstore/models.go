package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aisle-dev/aisle/store"
)

// chunkSize is the size of the rows a model artefact is stored in.
const chunkSize = 1 << 20

// writeLate runs fn in a transaction and only then locks the shop's row
// to write the outbox rows it emitted: a long upload (a model artefact of
// hundreds of MB) does not hold up the shop's other writes.
func (s *Store) writeLate(ctx context.Context, fn func(tx pgx.Tx, emit func(kind string, payload []byte)) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var out []outboxRow
		if err := fn(tx, func(kind string, p []byte) { out = append(out, outboxRow{kind, p}) }); err != nil {
			return err
		}
		last, err := s.lockShop(ctx, tx)
		if err != nil {
			return err
		}
		for _, o := range out {
			last++
			if _, err := tx.Exec(ctx, `INSERT INTO outbox (shop, id, kind, payload) VALUES ($1, $2, $3, $4::json)`, s.shop, last, o.kind, string(o.payload)); err != nil {
				return fmt.Errorf("write outbox: %w", err)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE shop_state SET last_outbox = $2 WHERE shop = $1`, s.shop, last)
		return err
	})
}

// lockModel serialises the versions of one model name.
func (s *Store) lockModel(ctx context.Context, tx pgx.Tx, name string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('aisle.model:' || current_schema() || ':' || $1 || ':' || $2, 0))`, s.shop, name)
	return err
}

// copyChunks writes blob as chunk rows of one version.
func (s *Store) copyChunks(ctx context.Context, tx pgx.Tx, name string, version int, blob []byte) error {
	n := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if n*chunkSize >= len(blob) {
			return nil, nil
		}
		part := blob[n*chunkSize : min(len(blob), (n+1)*chunkSize)]
		n++
		return []any{s.shop, name, int32(version), int32(n - 1), part}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"model_chunks"}, []string{"shop", "name", "version", "n", "data"}, src); err != nil {
		return fmt.Errorf("store model %s@%d: %w", name, version, err)
	}
	return nil
}

// SaveModel stores a new version of meta.Name, with a "model.meta" outbox row.
func (s *Store) SaveModel(ctx context.Context, meta store.ModelMeta, blob []byte) (int, error) {
	if meta.Name == "" {
		return 0, errors.New("save model: empty name")
	}
	err := s.writeLate(ctx, func(tx pgx.Tx, emit func(string, []byte)) error {
		if err := s.lockModel(ctx, tx, meta.Name); err != nil {
			return err
		}
		var last int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM models WHERE shop = $1 AND name = $2`, s.shop, meta.Name).Scan(&last); err != nil {
			return err
		}
		meta.Version = last + 1
		meta.Size = int64(len(blob))
		if meta.CreatedAt.IsZero() {
			meta.CreatedAt = time.Now().UTC()
		}
		v, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO models (shop, name, version, meta) VALUES ($1, $2, $3, $4::json)`, s.shop, meta.Name, meta.Version, string(v)); err != nil {
			return fmt.Errorf("store model %s@%d: %w", meta.Name, meta.Version, err)
		}
		if err := s.copyChunks(ctx, tx, meta.Name, meta.Version, blob); err != nil {
			return err
		}
		emit(KindModelMeta, v)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return meta.Version, nil
}

// ListModels lists model versions, by name then version.
func (s *Store) ListModels(ctx context.Context, name string) ([]store.ModelMeta, error) {
	rows, err := s.pool.Query(ctx, `SELECT meta FROM models WHERE shop = $1 AND ($2 = '' OR name = $2) ORDER BY name, version`, s.shop, name)
	if err != nil {
		return nil, err
	}
	return collectDocs[store.ModelMeta](rows)
}

// LoadModel returns one stored version and a copy of its artefact.
func (s *Store) LoadModel(ctx context.Context, name string, version int) (store.ModelMeta, []byte, error) {
	var meta store.ModelMeta
	var buf bytes.Buffer
	err := s.ReadModel(ctx, name, version, func(m store.ModelMeta, r io.Reader) error {
		meta = m
		buf.Grow(int(m.Size))
		_, err := buf.ReadFrom(r)
		return err
	})
	if err != nil {
		return store.ModelMeta{}, nil, err
	}
	return meta, buf.Bytes(), nil
}

// ReadModel streams a stored version to fn one chunk (1 MiB) at a time,
// from one snapshot of the database.
func (s *Store) ReadModel(ctx context.Context, name string, version int, fn func(store.ModelMeta, io.Reader) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var doc []byte
		err := tx.QueryRow(ctx, `SELECT meta FROM models WHERE shop = $1 AND name = $2 AND version = $3`, s.shop, name, version).Scan(&doc)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		var meta store.ModelMeta
		if err := json.Unmarshal(doc, &meta); err != nil {
			return fmt.Errorf("decode model meta %s@%d: %w", name, version, err)
		}
		rows, err := tx.Query(ctx, `SELECT data FROM model_chunks WHERE shop = $1 AND name = $2 AND version = $3 ORDER BY n`, s.shop, name, version)
		if err != nil {
			return err
		}
		defer rows.Close()
		if err := fn(meta, &chunkReader{rows: rows}); err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	})
}

// chunkReader reads the chunk rows of a query as one stream, holding one
// chunk (pgx's receive buffer) at a time.
type chunkReader struct {
	rows pgx.Rows
	cur  []byte
	done bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.done || !r.rows.Next() {
			r.done = true
			if err := r.rows.Err(); err != nil {
				return 0, fmt.Errorf("read model artefact: %w", err)
			}
			return 0, io.EOF
		}
		r.cur = r.rows.RawValues()[0]
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// UpdateModelMeta rewrites a stored version's metadata, with a "model.meta"
// outbox row.
func (s *Store) UpdateModelMeta(ctx context.Context, meta store.ModelMeta) error {
	v, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx, st *state) error {
		tag, err := tx.Exec(ctx, `UPDATE models SET meta = $4::json WHERE shop = $1 AND name = $2 AND version = $3`, s.shop, meta.Name, meta.Version, string(v))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		st.emit(KindModelMeta, v)
		return nil
	})
}

// RewriteModel implements store.ModelRewriter: it replaces the bytes of a
// stored version (its metadata keeps every field but the size).
func (s *Store) RewriteModel(ctx context.Context, name string, version int, blob []byte) error {
	return s.writeLate(ctx, func(tx pgx.Tx, emit func(string, []byte)) error {
		var doc []byte
		err := tx.QueryRow(ctx, `SELECT meta FROM models WHERE shop = $1 AND name = $2 AND version = $3 FOR UPDATE`, s.shop, name, version).Scan(&doc)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		var meta store.ModelMeta
		if err := json.Unmarshal(doc, &meta); err != nil {
			return err
		}
		meta.Size = int64(len(blob))
		v, _ := json.Marshal(meta)
		if _, err := tx.Exec(ctx, `UPDATE models SET meta = $4::json WHERE shop = $1 AND name = $2 AND version = $3`, s.shop, name, version, string(v)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM model_chunks WHERE shop = $1 AND name = $2 AND version = $3`, s.shop, name, version); err != nil {
			return err
		}
		if err := s.copyChunks(ctx, tx, name, version, blob); err != nil {
			return err
		}
		emit(KindModelMeta, v)
		return nil
	})
}

package pgstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/aisle-dev/aisle/store"
)

const hashLen = 32

func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// PutVectors stores vectors of space in one transaction. Vectors of items
// not in the catalogue are skipped; a foreign key removes an item's
// vectors with it. Vectors are derived data: no outbox row is written.
func (s *Store) PutVectors(ctx context.Context, space string, vecs []store.ItemVector) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if space == "" {
		return fmt.Errorf("put vectors: empty vector space name")
	}
	at := map[string]int{}
	var ids []string
	var hashes, data [][]byte
	for i := range vecs {
		v := &vecs[i]
		if v.ItemID == "" {
			continue
		}
		h := append([]byte(nil), v.TextHash[:]...)
		if j, ok := at[v.ItemID]; ok {
			hashes[j], data[j] = h, encodeVector(v.Vec)
			continue
		}
		at[v.ItemID] = len(ids)
		ids = append(ids, v.ItemID)
		hashes = append(hashes, h)
		data = append(data, encodeVector(v.Vec))
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO vectors (shop, space, item_id, hash, vec)
		SELECT $1, $2, t.i, t.h, t.v FROM unnest($3::text[], $4::bytea[], $5::bytea[]) AS t(i, h, v)
		WHERE EXISTS (SELECT 1 FROM items WHERE items.shop = $1 AND items.id = t.i)
		ON CONFLICT (shop, space, item_id) DO UPDATE SET hash = excluded.hash, vec = excluded.vec`, s.shop, space, ids, hashes, data)
	if err != nil {
		return fmt.Errorf("put vectors of space %q: %w", space, err)
	}
	return nil
}

// GetVectors returns the stored vectors of ids in space (nil Vec where none).
func (s *Store) GetVectors(ctx context.Context, space string, ids []string) ([]store.ItemVector, error) {
	out := make([]store.ItemVector, len(ids))
	pos := make(map[string][]int, len(ids))
	for i, id := range ids {
		out[i].ItemID = id
		pos[id] = append(pos[id], i)
	}
	rows, err := s.pool.Query(ctx, `SELECT item_id, hash, vec FROM vectors WHERE shop = $1 AND space = $2 AND item_id = ANY($3::text[])`, s.shop, space, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		raw := rows.RawValues()
		id, h, b := string(raw[0]), raw[1], raw[2]
		if len(h) != hashLen || len(b)%4 != 0 {
			return nil, fmt.Errorf("space %q: stored vector of item %q is corrupt", space, id)
		}
		vec := make([]float32, len(b)/4)
		for i := range vec {
			vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		for _, i := range pos[id] {
			copy(out[i].TextHash[:], h)
			out[i].Vec = vec
		}
	}
	return out, rows.Err()
}

// DeleteVectors removes the vectors of ids in every space.
func (s *Store) DeleteVectors(ctx context.Context, ids []string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM vectors WHERE shop = $1 AND item_id = ANY($2::text[])`, s.shop, ids)
	return err
}

// ScanVectors calls fn for every stored vector, by space then item id (for
// `aisle migrate`), a page at a time.
func (s *Store) ScanVectors(ctx context.Context, fn func(space string, v store.ItemVector) error) error {
	space, id := "", ""
	for {
		rows, err := s.pool.Query(ctx, `SELECT space, item_id, hash, vec FROM vectors WHERE shop = $1 AND (space, item_id) > ($2, $3)
			ORDER BY space, item_id LIMIT 1000`, s.shop, space, id)
		if err != nil {
			return err
		}
		type rec struct {
			space string
			v     store.ItemVector
		}
		var page []rec
		for rows.Next() {
			raw := rows.RawValues()
			r := rec{space: string(raw[0]), v: store.ItemVector{ItemID: string(raw[1])}}
			if len(raw[2]) != hashLen || len(raw[3])%4 != 0 {
				rows.Close()
				return fmt.Errorf("space %q: stored vector of item %q is corrupt", r.space, r.v.ItemID)
			}
			copy(r.v.TextHash[:], raw[2])
			r.v.Vec = make([]float32, len(raw[3])/4)
			for i := range r.v.Vec {
				r.v.Vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[3][4*i:]))
			}
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r.space, r.v); err != nil {
				return err
			}
		}
		if len(page) < 1000 {
			return nil
		}
		space, id = page[len(page)-1].space, page[len(page)-1].v.ItemID
	}
}

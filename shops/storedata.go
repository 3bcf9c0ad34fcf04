package shops

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aisle-dev/aisle/store/pgstore"
)

// removeData removes what a deleted shop leaves behind: its rows in a
// store shared by the shops (PostgreSQL), then its directory; then it
// clears the registry's mark. It is safe to repeat.
func (h *Host) removeData(ctx context.Context, id string) error {
	if h.cfg.Store != "" {
		if err := dropStoredShop(ctx, h.cfg.Store, h.pool, id); err != nil {
			return fmt.Errorf("remove the rows of shop %q from the store: %w", id, err)
		}
	}
	if err := os.RemoveAll(Dir(h.cfg.Data, id)); err != nil {
		return fmt.Errorf("remove the data of shop %q: %w", id, err)
	}
	return h.reg.Removed(id)
}

// dropStoredShop deletes every row of shop from the PostgreSQL store at
// url, in one transaction: from each table of the store's schema that has
// a shop column (partitions go with their table, rows that reference
// others go by their ON DELETE CASCADE), so that a table added by a later
// migration is covered too; the registry's mark of a deletion under way
// stays until Removed. The shop must not be open anywhere. pool, when
// set, is the process's shared pool (else one is opened for this).
func dropStoredShop(ctx context.Context, url string, pool *pgxpool.Pool, shop string) error {
	// the pool, not a store of the shop: opening a store registers the
	// shop (its shop_state row), which a delete that then fails (a
	// replica stopping while it deletes) left behind
	if pool == nil {
		p, err := pgstore.OpenPool(ctx, url, 2)
		if err != nil {
			return err
		}
		defer p.Close()
		pool = p
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT c.relname FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'shop' AND NOT a.attisdropped
			WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
				AND c.relname <> 'registry_deleting'
			ORDER BY c.relname`)
		if err != nil {
			return fmt.Errorf("list the store's tables: %w", err)
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("list the store's tables: %w", err)
		}
		if len(tables) == 0 {
			return fmt.Errorf("no table with a shop column in the store's schema: is %s the store?", pgstore.Redact(url))
		}
		for _, t := range tables {
			if _, err := tx.Exec(ctx, "DELETE FROM "+pgx.Identifier{t}.Sanitize()+" WHERE shop = $1", shop); err != nil {
				return fmt.Errorf("delete from %s: %w", t, err)
			}
		}
		return nil
	})
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
	"github.com/aisle-dev/aisle/store/pgstore"
)

func newMigrateCmd() *cobra.Command {
	var storeURL, from, to string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the PostgreSQL schema, or copy a shop between the data directory and PostgreSQL",
		Long: `With --store, apply the PostgreSQL schema migrations not yet applied (the
server also applies them when it starts, under a lock) and print them.

With --from and --to, copy everything from one store to another: items,
users, events (in their order; sequence numbers are given afresh by the
destination), every version of every model with its metadata, and the
item vectors. Each of --from and --to is a data directory or a
postgres:// URL. The destination must be empty and no server may be
writing to the source. Counts are checked at the end.`,
		Example: `  aisle migrate --store postgres://aisle@db:5432/aisle
  aisle migrate --from ./aisle-data --to postgres://aisle@db:5432/aisle
  aisle migrate --from postgres://aisle@db:5432/aisle --to ./aisle-data-copy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			ctx := cmd.Context()
			switch {
			case storeURL != "" && from == "" && to == "":
				if !pgstore.IsURL(storeURL) {
					return fmt.Errorf("--store %q: want a postgres:// URL", storeURL)
				}
				applied, err := pgstore.Migrate(ctx, storeURL)
				if err != nil {
					return err
				}
				if len(applied) == 0 {
					fmt.Fprintf(out, "the schema at %s is up to date\n", pgstore.Redact(storeURL))
				}
				for _, m := range applied {
					fmt.Fprintf(out, "applied %s\n", m)
				}
				return nil
			case from != "" && to != "" && storeURL == "":
				return copyStore(ctx, out, from, to)
			default:
				return errors.New("pass --store URL to apply the schema, or --from and --to to copy a shop")
			}
		},
	}
	cmd.Flags().StringVar(&storeURL, "store", "", "PostgreSQL URL whose schema to bring up to date")
	cmd.Flags().StringVar(&from, "from", "", "source: a data directory or a postgres:// URL")
	cmd.Flags().StringVar(&to, "to", "", "destination (empty): a data directory or a postgres:// URL")
	return cmd
}

// migratable is what a store offers to be copied.
type migratable interface {
	store.Store
	store.Vectors
	ScanVectors(ctx context.Context, fn func(space string, v store.ItemVector) error) error
}

func openMigratable(ctx context.Context, where string, mustExist bool) (migratable, error) {
	if pgstore.IsURL(where) {
		return pgstore.Open(ctx, where, pgstore.Options{})
	}
	if mustExist {
		if _, err := os.Stat(where + "/" + boltstore.FileName); err != nil {
			return nil, fmt.Errorf("%s holds no Aisle data (%s): pass the data directory or a postgres:// URL", where, boltstore.FileName)
		}
	}
	st, err := boltstore.Open(where)
	if errors.Is(err, boltstore.ErrInUse) {
		return nil, fmt.Errorf("%s is in use (a server is running on it): stop it first: %w", where, err)
	}
	return st, err
}

// copyCounts are what was copied.
type copyCounts struct{ items, users, events, models, vectors int }

func countsOf(ctx context.Context, s migratable) (copyCounts, error) {
	var c copyCounts
	var err error
	if c.items, err = s.CountItems(ctx); err != nil {
		return c, err
	}
	if c.users, err = s.CountUsers(ctx); err != nil {
		return c, err
	}
	if c.events, err = s.CountEvents(ctx); err != nil {
		return c, err
	}
	ms, err := s.ListModels(ctx, "")
	c.models = len(ms)
	return c, err
}

// copyStore copies everything from src to dst (see newMigrateCmd).
func copyStore(ctx context.Context, out io.Writer, from, to string) error {
	src, err := openMigratable(ctx, from, true)
	if err != nil {
		return fmt.Errorf("open the source: %w", err)
	}
	defer src.Close()
	dst, err := openMigratable(ctx, to, false)
	if err != nil {
		return fmt.Errorf("open the destination: %w", err)
	}
	defer dst.Close()
	have, err := countsOf(ctx, dst)
	if err != nil {
		return fmt.Errorf("read the destination: %w", err)
	}
	if have != (copyCounts{}) {
		return fmt.Errorf("the destination %s already holds data (%d items, %d users, %d events, %d model versions): copy into an empty store", pgstore.Redact(to), have.items, have.users, have.events, have.models)
	}
	want, err := countsOf(ctx, src)
	if err != nil {
		return fmt.Errorf("read the source: %w", err)
	}
	start := time.Now()
	var got copyCounts
	const batch = 1000

	p := newProgress("items", want.items)
	var items []catalog.Item
	flushItems := func() error {
		if err := dst.PutItems(ctx, items); err != nil {
			return fmt.Errorf("copy items: %w", err)
		}
		got.items += len(items)
		p.add(len(items))
		items = items[:0]
		return nil
	}
	err = src.ScanItems(ctx, func(it catalog.Item) error {
		if items = append(items, it); len(items) == batch {
			return flushItems()
		}
		return nil
	})
	if err == nil {
		err = flushItems()
	}
	p.done()
	if err != nil {
		return err
	}

	p = newProgress("users", want.users)
	for cursor := ""; ; {
		page, next, err := src.ListUsers(ctx, cursor, batch)
		if err != nil {
			return fmt.Errorf("read users: %w", err)
		}
		if err := dst.PutUsers(ctx, page); err != nil {
			return fmt.Errorf("copy users: %w", err)
		}
		got.users += len(page)
		p.add(len(page))
		if next == "" {
			break
		}
		cursor = next
	}
	p.done()

	p = newProgress("events", want.events)
	var evs []events.Event
	flushEvents := func() error {
		if err := dst.AppendEvents(ctx, evs); err != nil {
			return fmt.Errorf("copy events: %w", err)
		}
		got.events += len(evs)
		p.add(len(evs))
		evs = evs[:0]
		return nil
	}
	err = src.ScanEvents(ctx, 0, func(e events.Event) error {
		e.Seq = 0
		if evs = append(evs, e); len(evs) == 10*batch {
			return flushEvents()
		}
		return nil
	})
	if err == nil {
		err = flushEvents()
	}
	p.done()
	if err != nil {
		return err
	}

	metas, err := src.ListModels(ctx, "")
	if err != nil {
		return fmt.Errorf("list models: %w", err)
	}
	p = newProgress("models", len(metas))
	for _, m := range metas {
		meta, blob, err := src.LoadModel(ctx, m.Name, m.Version)
		if err != nil {
			return fmt.Errorf("read model %s@%d: %w", m.Name, m.Version, err)
		}
		v, err := dst.SaveModel(ctx, meta, blob)
		if err != nil {
			return fmt.Errorf("copy model %s@%d: %w", m.Name, m.Version, err)
		}
		if v != m.Version {
			return fmt.Errorf("copy model %s: version %d became %d (the source's versions are not numbered 1, 2, …)", m.Name, m.Version, v)
		}
		meta.Version = v
		if err := dst.UpdateModelMeta(ctx, meta); err != nil {
			return fmt.Errorf("copy model %s@%d metadata: %w", m.Name, m.Version, err)
		}
		got.models++
		p.add(1)
	}
	p.done()

	spaces := map[string][]store.ItemVector{}
	flushVecs := func(space string) error {
		if err := dst.PutVectors(ctx, space, spaces[space]); err != nil {
			return fmt.Errorf("copy vectors of space %q: %w", space, err)
		}
		got.vectors += len(spaces[space])
		spaces[space] = spaces[space][:0]
		return nil
	}
	err = src.ScanVectors(ctx, func(space string, v store.ItemVector) error {
		if spaces[space] = append(spaces[space], v); len(spaces[space]) == batch {
			return flushVecs(space)
		}
		return nil
	})
	for space := range spaces {
		if err == nil {
			err = flushVecs(space)
		}
	}
	if err != nil {
		return err
	}

	after, err := countsOf(ctx, dst)
	if err != nil {
		return fmt.Errorf("count the destination: %w", err)
	}
	want.vectors = got.vectors
	err = dst.ScanVectors(ctx, func(string, store.ItemVector) error { after.vectors++; return nil })
	if err != nil {
		return fmt.Errorf("count the destination's vectors: %w", err)
	}
	if after != want {
		return fmt.Errorf("counts differ after the copy: source %d items, %d users, %d events, %d model versions, %d vectors; destination %d, %d, %d, %d, %d (was the source written to meanwhile?)",
			want.items, want.users, want.events, want.models, want.vectors, after.items, after.users, after.events, after.models, after.vectors)
	}
	fmt.Fprintf(out, "copied %d items, %d users, %d events, %d model versions and %d vectors from %s to %s in %s; counts match\n",
		got.items, got.users, got.events, got.models, got.vectors, pgstore.Redact(from), pgstore.Redact(to), time.Since(start).Round(time.Millisecond))
	return nil
}

// progress shows a bar on a terminal and a line per tenth elsewhere.
type progress struct {
	what       string
	total, n   int
	lastTenth  int
	bar        interface{ Add(int) error }
	finishFunc func() error
}

func newProgress(what string, total int) *progress {
	p := &progress{what: what, total: total}
	if b := newBar(int64(total), "copy "+what, false); b != nil {
		p.bar, p.finishFunc = b, b.Finish
	}
	return p
}

func (p *progress) add(n int) {
	p.n += n
	if p.bar != nil {
		p.bar.Add(n)
		return
	}
	if p.total > 0 {
		if t := p.n * 10 / p.total; t > p.lastTenth {
			p.lastTenth = t
			fmt.Fprintf(os.Stderr, "copy %s: %d/%d\n", p.what, p.n, p.total)
		}
	}
}

func (p *progress) done() {
	if p.finishFunc != nil {
		p.finishFunc()
	}
}

package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// Kind is what a bulk import file holds.
type Kind string

// The kinds of import files.
const (
	KindItems  Kind = "items"
	KindUsers  Kind = "users"
	KindEvents Kind = "events"
)

// ImportReport summarises one import.
type ImportReport struct {
	Kind     Kind     `json:"kind"`
	Accepted int      `json:"accepted"`
	Rejected int      `json:"rejected"`
	Reasons  []string `json:"reasons,omitempty"` // the first few rejection reasons
	Seconds  float64  `json:"seconds"`
}

// MaxReasons is how many rejection reasons an ImportReport keeps.
const MaxReasons = 10

// ImportChunk is how many records one import transaction stores. Larger
// chunks rewrite each touched index page fewer times.
const ImportChunk = 50000

// ImportSource is a stream of records to import.
type ImportSource struct {
	R      io.Reader
	Format catalog.Format
	Sep    rune // CSV separator; 0 means ','
	// Progress, when set, is called after each stored chunk.
	Progress func(records int)
}

// Import reads a stream of items, users or events and stores every valid
// record, in chunks, so memory does not grow with the stream. Bad records
// are counted and the first few reasons kept; a fatal error (unreadable
// stream, bad CSV header) stops the import, with what was stored before it
// kept.
func (e *Engine) Import(ctx context.Context, kind Kind, src ImportSource) (ImportReport, error) {
	start := time.Now()
	rep := ImportReport{Kind: kind}
	var err error
	switch kind {
	case KindItems:
		rd := catalog.NewReader(src.R, src.Format, src.Sep, catalog.DecodeItem, catalog.ItemFromCSV)
		err = importLoop(ctx, rd, &rep, src.Progress, func(chunk []catalog.Item) ([]Rejected, error) {
			return e.AddItemsPartial(ctx, chunk)
		})
	case KindUsers:
		rd := catalog.NewReader(src.R, src.Format, src.Sep, catalog.DecodeUser, catalog.UserFromCSV)
		err = importLoop(ctx, rd, &rep, src.Progress, func(chunk []catalog.User) ([]Rejected, error) {
			return e.AddUsersPartial(ctx, chunk)
		})
	case KindEvents:
		known, kerr := e.itemSet(ctx)
		if kerr != nil {
			return rep, kerr
		}
		rd := catalog.NewReader(src.R, src.Format, src.Sep, events.Decode, events.FromCSV)
		err = importLoop(ctx, rd, &rep, src.Progress, func(chunk []events.Event) ([]Rejected, error) {
			return e.AddEventsPartial(ctx, chunk, func(id string) bool { _, ok := known[id]; return ok })
		})
	default:
		return rep, fmt.Errorf("unknown import kind %q", kind)
	}
	rep.Seconds = time.Since(start).Seconds()
	// Decoding problems are met before validation problems of the same
	// chunk: report in line order.
	slices.SortStableFunc(rep.Reasons, func(a, b string) int { return cmp.Compare(lineOf(a), lineOf(b)) })
	return rep, err
}

func lineOf(reason string) int {
	var n int
	fmt.Sscanf(reason, "line %d", &n)
	return n
}

func (e *Engine) itemSet(ctx context.Context) (map[string]struct{}, error) {
	known := map[string]struct{}{}
	if e.acceptItems {
		return known, nil
	}
	err := e.st.ScanItems(ctx, func(it catalog.Item) error {
		known[it.ID] = struct{}{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read item ids: %w", err)
	}
	return known, nil
}

func importLoop[T any](ctx context.Context, rd *catalog.Reader[T], rep *ImportReport, progress func(int), store func([]T) ([]Rejected, error)) error {
	chunk := make([]T, 0, ImportChunk)
	lines := make([]int, 0, ImportChunk)
	reject := func(msg string) {
		rep.Rejected++
		if len(rep.Reasons) < MaxReasons {
			rep.Reasons = append(rep.Reasons, msg)
		}
	}
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		bad, err := store(chunk)
		if err != nil {
			return err
		}
		for _, p := range bad {
			msg := fmt.Sprintf("line %d: %s", lines[p.Index], p.Problem)
			if p.Field != "" {
				msg = fmt.Sprintf("line %d: %s: %s", lines[p.Index], p.Field, p.Problem)
			}
			reject(msg)
		}
		rep.Accepted += len(chunk) - len(bad)
		chunk, lines = chunk[:0], lines[:0]
		if progress != nil {
			progress(rep.Accepted + rep.Rejected)
		}
		return ctx.Err()
	}
	// Decoding runs in its own goroutine, so it overlaps with storing.
	type item struct {
		rec  T
		line int
		err  error
	}
	recs := make(chan []item, 4)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(recs)
		buf := make([]item, 0, 1024)
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			buf = append(buf, item{rec, rd.Line(), err})
			var re *catalog.RowError
			fatal := err != nil && !errors.As(err, &re)
			if len(buf) == cap(buf) || fatal {
				select {
				case recs <- buf:
				case <-dctx.Done():
					return
				}
				buf = make([]item, 0, 1024)
			}
			if fatal {
				return
			}
		}
		if len(buf) > 0 {
			select {
			case recs <- buf:
			case <-dctx.Done():
			}
		}
	}()
	for batch := range recs {
		for _, it := range batch {
			var re *catalog.RowError
			if errors.As(it.err, &re) {
				reject(re.Error())
				continue
			}
			if it.err != nil {
				if ferr := flush(); ferr != nil {
					return ferr
				}
				return fmt.Errorf("line %d: %w", it.line, it.err)
			}
			chunk = append(chunk, it.rec)
			lines = append(lines, it.line)
			if len(chunk) == ImportChunk {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

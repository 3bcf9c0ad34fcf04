package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
)

func newImportCmd() *cobra.Command {
	var g globalFlags
	var items, users, evs string
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Bulk-import items, users and events from JSON Lines or CSV files",
		Long: `Bulk-import items, users and events into the data directory.

Files are JSON Lines (.jsonl, .ndjson, .json: one object per line, the same
fields as the REST API) or CSV/TSV (.csv, .tsv) with a header row; a trailing
.gz is decompressed on the fly. Items are imported first, then users, then
events, so events can name items from the same run.

CSV columns: items id,title,description,brand,categories,price,image_url,
available,created_at (categories separated by "|", attributes as attr.NAME
columns); users id,created_at,attr.NAME…; events user_id,item_id,type,value,
query,session_id,timestamp (RFC 3339 or unix seconds).

Bad rows are skipped and counted; the summary shows the first reasons. The
server must not be running on the same data directory.`,
		Example: "  aisle import --data ./aisle-data --items items.jsonl --events events.csv.gz",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if items == "" && users == "" && evs == "" {
				return fmt.Errorf("nothing to import: pass --items, --users and/or --events")
			}
			cfg, err := g.load()
			if err != nil {
				return err
			}
			eng, st, err := openEngine(cfg, newLogger(cfg))
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			for _, job := range []struct {
				kind engine.Kind
				path string
			}{{engine.KindItems, items}, {engine.KindUsers, users}, {engine.KindEvents, evs}} {
				if job.path == "" {
					continue
				}
				rep, err := importFile(cmd.Context(), eng, job.kind, job.path)
				printReport(out, job.path, rep)
				if err != nil {
					return fmt.Errorf("import %s from %s: %w", job.kind, job.path, err)
				}
			}
			return nil
		},
	}
	g.register(cmd)
	g.registerShop(true)
	cmd.Flags().StringVar(&items, "items", "", "file of items")
	cmd.Flags().StringVar(&users, "users", "", "file of users")
	cmd.Flags().StringVar(&evs, "events", "", "file of events")
	return cmd
}

// importFile imports one file with a progress bar (by bytes read) on a terminal.
func importFile(ctx context.Context, eng *engine.Engine, kind engine.Kind, path string) (engine.ImportReport, error) {
	f, err := catalog.OpenFile(path)
	if err != nil {
		return engine.ImportReport{Kind: kind}, err
	}
	defer f.Close()
	bar := newBar(f.Size, fmt.Sprintf("importing %s", kind), true)
	src := engine.ImportSource{R: f, Format: f.Format, Sep: f.Sep, Progress: func(int) {
		if bar != nil {
			bar.Set64(f.BytesRead())
		}
	}}
	rep, err := eng.Import(ctx, kind, src)
	if bar != nil {
		bar.Finish()
	}
	return rep, err
}

func printReport(w io.Writer, source string, rep engine.ImportReport) {
	rate := 0.0
	if rep.Seconds > 0 {
		rate = float64(rep.Accepted+rep.Rejected) / rep.Seconds
	}
	fmt.Fprintf(w, "%s from %s: %d accepted, %d rejected in %.1fs (%.0f rows/s)\n", rep.Kind, source, rep.Accepted, rep.Rejected, rep.Seconds, rate)
	for _, r := range rep.Reasons {
		fmt.Fprintf(w, "  rejected: %s\n", r)
	}
	if rep.Rejected > len(rep.Reasons) {
		fmt.Fprintf(w, "  … and %d more rejected rows\n", rep.Rejected-len(rep.Reasons))
	}
}

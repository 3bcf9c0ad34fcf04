package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/store/boltstore"
)

func newCheckCmd() *cobra.Command {
	var g globalFlags
	var max int
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the data file for damage without changing it",
		Long: "check reads the data file of --data (its meta pages, its length and every page reachable\n" +
			"from its newest transaction) and lists what is damaged. It never writes to the file. Stop the\n" +
			"server first: a file in use cannot be checked. Exit status 1 when damage was found.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, path, err := g.existingDataFile("check")
			if err != nil {
				return err
			}
			rep, err := boltstore.Check(cmd.Context(), path, max)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: %d bytes, page size %d, transaction %d\n", path, rep.Size, rep.PageSize, rep.TxID)
			if len(rep.Problems) == 0 {
				fmt.Fprintln(out, "ok: no damage found")
				return nil
			}
			for _, p := range rep.Problems {
				fmt.Fprintln(out, "  damaged:", p)
			}
			return fmt.Errorf("%s is damaged (%d problems listed above). Restore it from a backup, or salvage what can be read with `aisle recover --data %s --to NEWDIR`", path, len(rep.Problems), cfg.Data)
		},
	}
	g.register(cmd)
	cmd.Flags().IntVar(&max, "max-problems", 100, "stop listing after this many problems")
	return cmd
}

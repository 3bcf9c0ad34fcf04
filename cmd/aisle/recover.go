package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/store/boltstore"
)

func newRecoverCmd() *cobra.Command {
	var g globalFlags
	var to string
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Salvage what a damaged data file still holds into a new data directory",
		Long: "recover reads the data file of --data (never writing to it) and copies every item, user,\n" +
			"event and model that can still be read into a new data directory --to, rebuilding its indexes\n" +
			"and counts. Records on damaged pages are lost; the report says where reading stopped.\n" +
			"Then start the server with --data pointing at the new directory.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return errors.New("--to is required: the new data directory to write the salvaged data to")
			}
			_, src, err := g.existingDataFile("recover")
			if err != nil {
				return err
			}
			last := time.Now()
			progress := func(bucket string, n int) {
				if time.Since(last) > time.Second || isTerminal(os.Stderr) {
					fmt.Fprintf(os.Stderr, "\rrecover: %s: %d records copied   ", bucket, n)
					last = time.Now()
				}
			}
			rep, err := boltstore.Recover(cmd.Context(), src, to, progress)
			fmt.Fprintln(os.Stderr)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			names := make([]string, 0, len(rep.Copied))
			for b := range rep.Copied {
				names = append(names, b)
			}
			sort.Strings(names)
			for _, b := range names {
				fmt.Fprintf(out, "copied %-32s %d\n", b, rep.Copied[b])
			}
			for _, p := range rep.Problems {
				fmt.Fprintln(out, "damage:", p)
			}
			fmt.Fprintf(out, "recovered into %s: %d items, %d users, %d events. Start the server with --data %s\n", filepath.Join(to, boltstore.FileName), rep.Items, rep.Users, rep.Events, to)
			return nil
		},
	}
	g.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", "new data directory to write the salvaged data to (must not hold a data file)")
	return cmd
}

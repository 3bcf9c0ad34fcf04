// Command aisle is the Aisle search and recommendation engine: one binary
// with subcommands to serve the API, import data, train and evaluate models,
// benchmark and run a demo.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/internal/buildinfo"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "aisle",
		Short:         "Aisle: search and recommendations for online shops",
		Long:          "Aisle learns from what shoppers do (views, clicks, purchases, searches) and answers\nwhat each shopper should see next, what is similar to a product, and which products match a query.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Get().String(), // --version
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(
		newVersionCmd(),
		newServeCmd(),
		newImportCmd(),
		newDemoCmd(),
		newTrainCmd(),
		newBenchCmd(),
		newEvalCmd(),
		newCheckCmd(),
		newRecoverCmd(),
		newBackupCmd(),
		newRestoreCmd(),
		newMigrateCmd(),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and build date of aisle",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), buildinfo.Get())
		},
	}
}

package main

import "github.com/spf13/cobra"

// newEvalCmd groups the offline evaluations: `aisle eval recommend` and
// `aisle eval search`. Each subcommand lives in its own file.
func newEvalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate recommendation or search quality offline on a data set",
	}
	// Subcommands are added here, one line each.
	cmd.AddCommand(newEvalRecommendCmd())
	cmd.AddCommand(newEvalSearchCmd())
	cmd.AddCommand(newEvalRowsCmd())
	cmd.AddCommand(newEvalServedCmd())
	cmd.AddCommand(newEvalSimilarCmd())
	cmd.AddCommand(newEvalAssistantCmd())
	return cmd
}

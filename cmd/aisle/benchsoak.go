package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/bench/soak"
)

func newBenchSoakCmd() *cobra.Command {
	var cfg soak.Config
	var jsonOut, server string
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Soak test: mixed load while the server is killed, its disk filled and its file damaged",
		Long: `Run this binary as a server over a fresh data directory under --dir and load it
from concurrent readers and writers for --duration, while it is killed with
SIGKILL and restarted --kills times, its disk is filled once (a tmpfs mounted
under --dir: needs root; skipped otherwise) and its data file is truncated
once (it must refuse to start and leave the file untouched; the copy taken
before is put back). Every acknowledged event is read back at the end.

It prints requests served, errors by kind, acknowledged events lost (must be
0), p50/p99 latency before, during and after the faults, restart times with
the events stored at each (and one more at the end, without load), and the
server's memory sampled 20 times over the run. --server soaks another aisle
binary with this one's load, to compare versions. Exit status 1 when an acknowledged event was lost or
a fault was mishandled.`,
		Example: "  nice -n 10 aisle bench soak --dir /tmp/aisle-soak --duration 10m --kills 20 --full-disk",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find this binary: %w", err)
			}
			if server != "" {
				if _, err := os.Stat(server); err != nil {
					return fmt.Errorf("--server: %w", err)
				}
				bin = server
			}
			cfg.Binary, cfg.Log, cfg.DamageFile = bin, cmd.ErrOrStderr(), true
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := soak.Run(ctx, cfg)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), rep.Markdown())
			if jsonOut != "" {
				b, _ := json.MarshalIndent(rep, "", "  ")
				if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
					return err
				}
			}
			if rep.EventsLost > 0 || rep.EventsUnverified > 0 {
				return fmt.Errorf("%d acknowledged events lost, %d could not be read back", rep.EventsLost, rep.EventsUnverified)
			}
			if rep.ServerCrashes > 0 {
				return fmt.Errorf("the server exited %d times on its own (see %s/server.log)", rep.ServerCrashes, cfg.Dir)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dir, "dir", "", "work directory (created; holds the data, keys and server.log)")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Minute, "whole run; faults from 10% to 70% of it")
	f.IntVar(&cfg.Kills, "kills", 20, "kill -9 and restart cycles (-1: none)")
	f.IntVar(&cfg.Writers, "writers", 4, "concurrent writers (POST /api/events)")
	f.IntVar(&cfg.Readers, "readers", 8, "concurrent readers (recommend, search, popular, similar, user events)")
	f.IntVar(&cfg.Batch, "batch", 20, "events per write")
	f.IntVar(&cfg.Items, "items", 1000, "catalogue size")
	f.BoolVar(&cfg.FullDisk, "full-disk", false, "mount a tmpfs for the data and fill it once (root only)")
	f.Int64Var(&cfg.TmpfsBytes, "tmpfs-bytes", 2<<30, "size of that tmpfs")
	f.StringVar(&jsonOut, "json", "", "also write the figures as JSON to this file")
	f.StringVar(&server, "server", "", "the aisle binary to run as the server (default: this one)")
	cmd.MarkFlagRequired("dir")
	return cmd
}

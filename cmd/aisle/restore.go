package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/store/boltstore"
)

func newRestoreCmd() *cobra.Command {
	var g globalFlags
	var from string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Put a backup in place as the data file of --data",
		Long: `restore checks the backup --from and copies it into --data as its data file. It refuses a
data directory that already holds a data file unless --force (the file replaced is kept next to
it as aisle.db.before-restore). Stop the server first.`,
		Example: "  aisle restore --from aisle-backup.db --data ./aisle-data",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("name the backup with --from FILE")
			}
			cfg, err := g.load()
			if err != nil {
				return err
			}
			rep, err := boltstore.Check(cmd.Context(), from, 10)
			if err != nil {
				return fmt.Errorf("check the backup %s: %w", from, err)
			}
			if len(rep.Problems) > 0 {
				return fmt.Errorf("the backup %s is damaged (%s); nothing was restored", from, strings.Join(rep.Problems, "; "))
			}
			if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", cfg.Data, err)
			}
			dst := filepath.Join(cfg.Data, boltstore.FileName)
			_, statErr := os.Stat(dst)
			exists := statErr == nil
			if exists && !force {
				return fmt.Errorf("%s already holds a data file; restore into an empty directory, or pass --force to replace it (it is kept as %s.before-restore)", cfg.Data, boltstore.FileName)
			}
			if exists {
				// refuse to pull the file from under a running server
				st, err := boltstore.Open(cfg.Data)
				if err != nil && errors.Is(err, boltstore.ErrInUse) {
					return fmt.Errorf("%w: stop the server before restoring", err)
				}
				if err == nil {
					st.Close()
				}
			}
			tmp, err := os.CreateTemp(cfg.Data, ".restore-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			src, err := os.Open(from)
			if err != nil {
				tmp.Close()
				return err
			}
			n, err := io.Copy(tmp, src)
			src.Close()
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("copy the backup into %s: %w", cfg.Data, err)
			}
			if exists {
				if err := os.Rename(dst, dst+".before-restore"); err != nil {
					return fmt.Errorf("set the current data file aside: %w", err)
				}
			}
			if err := os.Rename(tmp.Name(), dst); err != nil {
				return fmt.Errorf("put the backup in place: %w", err)
			}
			if err := syncDirPath(cfg.Data); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s (%d bytes) into %s\n", from, n, cfg.Data)
			return nil
		},
	}
	g.register(cmd)
	cmd.Flags().StringVar(&from, "from", "", "backup file written by aisle backup")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing data file (kept as aisle.db.before-restore)")
	return cmd
}

func syncDirPath(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/shops"
	"github.com/aisle-dev/aisle/store"
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
it as aisle.db.before-restore). The impression log and experiment store written next to the
backup by aisle backup (FILE.impressions.db, FILE.experiments.db), and the shop registry and shop
stores (FILE.shops.db, FILE.shop.ID.db) are put back too (the files replaced kept as
NAME.before-restore). Stop the server first.`,
		Example: "  aisle restore --from aisle-backup.db --data ./aisle-data",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("name the backup with --from FILE")
			}
			cfg, err := g.loadEmbedded("restore")
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
			var forgotten map[[32]byte]time.Time
			if exists {
				// refuse to pull the file from under a running server
				st, err := boltstore.Open(cfg.Data)
				if err != nil && errors.Is(err, boltstore.ErrInUse) {
					return fmt.Errorf("%w: stop the server before restoring", err)
				}
				if err == nil {
					// users forgotten in the data being replaced stay forgotten
					forgotten, err = st.ForgottenUsers(cmd.Context())
					st.Close()
					if err != nil {
						return fmt.Errorf("read who was forgotten in %s: %w", cfg.Data, err)
					}
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
			sides, err := restoreSideFiles(from, cfg.Data)
			for _, name := range sides {
				fmt.Fprintf(cmd.OutOrStdout(), "restored %s into %s\n", sidePath(from, name), filepath.Join(cfg.Data, name))
			}
			if err != nil {
				return fmt.Errorf("the store is restored, but: %w", err)
			}
			if len(forgotten) > 0 && len(sides) > 0 {
				if err := forgetInSideFiles(cmd.Context(), cfg.Data, forgotten); err != nil {
					return fmt.Errorf("the backup is restored, but forgetting again in its impression log and experiments the users forgotten since it was taken failed: %w (run aisle restore again)", err)
				}
			}
			if g.shop == "" || g.shop == shops.DefaultID { // a deployment: its shops and keys too
				rs, err := restoreShops(cmd.Context(), from, cfg.Data)
				if err != nil {
					return fmt.Errorf("the default shop's store is restored, but: %w", err)
				}
				if rs.registry {
					fmt.Fprintf(cmd.OutOrStdout(), "restored the shop registry (%d keys) and the stores of %d shops (with %d side files) into %s\n", rs.keys, len(rs.shops), rs.sides, cfg.Data)
				}
				if rs.forgot > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "forgot again %d users the replaced shops had forgotten\n", rs.forgot)
				}
				if len(rs.unlisted) > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "note: the restored registry does not list the shops %s, whose directories are under %s: they are kept but not served (create them again with POST /api/shops to serve them)\n",
						strings.Join(rs.unlisted, ", "), filepath.Join(cfg.Data, "shops"))
				}
			}
			if len(forgotten) > 0 {
				k, err := forgetAgain(cmd.Context(), cfg.Data, forgotten)
				if err != nil {
					return fmt.Errorf("the backup is restored, but forgetting again the users forgotten since it was taken failed: %w (run aisle restore again, or delete them through the API)", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "forgot again %d users the replaced data had forgotten (the backup still held them); the file is compacted\n", k)
			}
			return nil
		},
	}
	g.register(cmd)
	cmd.Flags().StringVar(&from, "from", "", "backup file written by aisle backup")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing data file (kept as aisle.db.before-restore)")
	return cmd
}

// forgetAgain forgets, in the restored store of dir, every user whose
// hash is in forgotten (with their original time) and compacts the file,
// so restoring an older backup does not bring them back.
func forgetAgain(ctx context.Context, dir string, forgotten map[[32]byte]time.Time) (int, error) {
	st, err := boltstore.Open(dir)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	var doomed []string
	cursor := ""
	for {
		page, next, err := st.ListUsers(ctx, cursor, 10000)
		if err != nil {
			return 0, err
		}
		for _, u := range page {
			if _, ok := forgotten[store.UserHash(u.ID)]; ok {
				doomed = append(doomed, u.ID)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	for _, id := range doomed {
		if _, _, err := st.ForgetUser(ctx, id, forgotten[store.UserHash(id)]); err != nil {
			return 0, fmt.Errorf("forget a user again: %w", err)
		}
	}
	if len(doomed) > 0 {
		// their ids in the stored model versions too
		metas, err := st.ListModels(ctx, "")
		if err != nil {
			return len(doomed), err
		}
		forgot := func(id string) bool { _, ok := forgotten[store.UserHash(id)]; return ok }
		for _, m := range metas {
			_, blob, err := st.LoadModel(ctx, m.Name, m.Version)
			if err != nil {
				return len(doomed), err
			}
			out, k, err := pipeline.ScrubUsers(blob, forgot)
			if errors.Is(err, pipeline.ErrNotArtifact) || k == 0 {
				continue
			}
			if err != nil {
				return len(doomed), fmt.Errorf("scrub %s@%d: %w", m.Name, m.Version, err)
			}
			if err := st.RewriteModel(ctx, m.Name, m.Version, out); err != nil {
				return len(doomed), err
			}
		}
		if _, err := st.Compact(ctx); err != nil {
			return len(doomed), err
		}
	}
	return len(doomed), nil
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

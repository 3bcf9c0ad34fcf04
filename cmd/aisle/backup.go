package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/shops"
	"github.com/aisle-dev/aisle/store/boltstore"
	"github.com/aisle-dev/aisle/store/pgstore"
)

func newBackupCmd() *cobra.Command {
	var g globalFlags
	var to, url, key string
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Write a consistent copy of the data file, from a stopped or a running server",
		Long: `backup writes the whole store as of one moment (one read transaction: writes go on
meanwhile and are not in the copy) to --to. With --url it asks a running server
(GET /api/admin/backup, admin key from --admin-key or AISLE_ADMIN_KEY); without it, it opens
--data itself, which must not be in use by a server. With --store postgres://… it reads the shop
from PostgreSQL in one transaction while the replicas go on serving, and writes it in the same
format (an embedded data file). The copy is checked before it is kept. Offline, the shop registry
(shops.db: the shops, their settings and key hashes) goes beside it as FILE.shops.db, and the
store of every other shop as FILE.shop.ID.db with its impression log and experiments as
FILE.shop.ID.impressions.db and FILE.shop.ID.experiments.db (not with --shop, which backs up that
one shop's store). Put them back with aisle restore.`,
		Example: "  aisle backup --data ./aisle-data --to aisle-backup.db\n  aisle backup --url http://127.0.0.1:8080 --admin-key secret --to aisle-backup.db",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return errors.New("say where the copy goes with --to FILE")
			}
			if key == "" {
				key = os.Getenv("AISLE_ADMIN_KEY")
			}
			var src func(ctx context.Context, w io.Writer) (int64, error)
			var shopsSrc shopsSource // where the other shops are read
			if url != "" {
				src = func(ctx context.Context, w io.Writer) (int64, error) { return backupFromServer(ctx, url, key, w) }
				shopsSrc = shopsSource{url: url, key: key}
			} else if cfg, err := g.load(); err == nil && pgstore.IsURL(cfg.Store) {
				// a PostgreSQL shop: a snapshot in the embedded format,
				// read in one transaction while the replicas serve
				pool, err := pgstore.OpenPool(cmd.Context(), cfg.Store, 4)
				if err != nil {
					return err
				}
				defer pool.Close()
				st, err := pgstore.OpenShared(cmd.Context(), pool, pgstore.Options{Shop: pgstore.DefaultShop})
				if err != nil {
					return err
				}
				defer st.Close()
				src = st.WriteSnapshot
				// every shop's store is in the database; their side
				// files are in this replica's data directory, if given
				shopsSrc = shopsSource{pool: pool, dir: cfg.Data}
			} else {
				cfg, err := g.loadEmbedded("backup")
				if err != nil {
					return err
				}
				st, err := boltstore.Open(cfg.Data)
				if err != nil {
					if errors.Is(err, boltstore.ErrInUse) {
						return fmt.Errorf("%w: a server is using it; back it up through the server with --url", err)
					}
					return err
				}
				defer st.Close()
				src, shopsSrc = st.WriteSnapshot, shopsSource{dir: cfg.Data}
			}
			start := time.Now()
			n, err := writeBackup(cmd.Context(), to, src)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup written to %s: %d bytes in %.1fs, checked\n", to, n, time.Since(start).Seconds())
			if err := backupSideFilesTo(cmd.Context(), &g, url, key, to, cmd.OutOrStdout()); err != nil {
				return err
			}
			if g.shop == "" || g.shop == shops.DefaultID { // a deployment: its shops and keys too
				ok, ids, sides, err := backupShops(cmd.Context(), shopsSrc, to)
				if err != nil {
					return err
				}
				if ok {
					fmt.Fprintf(cmd.OutOrStdout(), "shop registry written to %s, and the stores of %d shops beside it (%s) with %d side files (%s), checked\n",
						registryBackupPath(to), len(ids), shopBackupPath(to, "ID"), sides, sidePath(shopSideBase(to, "ID"), "NAME"))
				}
			}
			return nil
		},
	}
	g.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", "file to write the copy to (replaced only once the copy is complete and checked)")
	cmd.Flags().StringVar(&url, "url", "", "URL of a running server to back up (instead of --data)")
	cmd.Flags().StringVar(&key, "admin-key", "", "admin key of the server at --url (or env AISLE_ADMIN_KEY)")
	return cmd
}

// writeBackup writes src to a temporary file next to to, checks it as a
// store file, and renames it over to: a broken copy never replaces a good one.
func writeBackup(ctx context.Context, to string, src func(context.Context, io.Writer) (int64, error)) (int64, error) {
	return writeChecked(ctx, to, src, checkStoreFile)
}

// backupFromServer streams GET /api/admin/backup into w; a stream that
// broke off (no byte-count trailer, or a different count) is an error.
func backupFromServer(ctx context.Context, url, key string, w io.Writer) (int64, error) {
	return fetchStream(ctx, strings.TrimRight(url, "/")+"/api/admin/backup", key, w)
}

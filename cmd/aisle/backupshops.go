package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aisle-dev/aisle/shops"
	"github.com/aisle-dev/aisle/store/boltstore"
	"github.com/aisle-dev/aisle/store/pgstore"
)

// A backup of a deployment holds, beside the default shop's store FILE,
// the shop registry (shops.db: the shops, their settings and the hashes of
// their keys) as FILE.shops.db, each other shop's store as
// FILE.shop.<id>.db and its side files (impression log, experiments) as
// FILE.shop.<id>.<name>; aisle restore puts them all back.

// registryBackupPath is where the registry's copy goes beside backup.
func registryBackupPath(backup string) string { return backup + "." + shops.RegistryFile }

// shopBackupPath is where shop id's store goes beside backup.
func shopBackupPath(backup, id string) string { return backup + ".shop." + id + ".db" }

// shopSideBase is the name shop id's side files go beside backup under
// (sidePath(shopSideBase(backup, id), name)): FILE.shop.<id>.<name>.
func shopSideBase(backup, id string) string { return backup + ".shop." + id }

// backupShopSideFiles writes the side files of shop id beside the backup
// to: from the server at url (those it has), else from the shop's
// directory under dir. It returns the names written.
func backupShopSideFiles(ctx context.Context, dir, url, key, to, id string) ([]string, error) {
	base := shopSideBase(to, id)
	if url == "" {
		return backupSideFiles(ctx, shops.Dir(dir, id), base)
	}
	var done []string
	for _, name := range sideFiles {
		_, err := writeChecked(ctx, sidePath(base, name), func(ctx context.Context, w io.Writer) (int64, error) {
			return fetchStream(ctx, strings.TrimRight(url, "/")+"/api/shops/"+id+"/admin/backup?file="+neturl.QueryEscape(name), key, w)
		}, checkBolt)
		if errors.Is(err, errNoSuchFile) {
			continue // an older server, or a file the shop does not have yet
		}
		if err != nil {
			return done, err
		}
		done = append(done, name)
	}
	return done, nil
}

// shopsSource is where backupShops reads a deployment's registry and the
// stores of its shops: a running server (url), a data directory (dir), or
// PostgreSQL (pool) with the replica-local side files under dir.
type shopsSource struct {
	dir, url, key string
	pool          *pgxpool.Pool
}

// registry returns the reader of the registry's copy, or nil when there is
// no registry (a data directory that never had a second shop).
func (src shopsSource) registry(ctx context.Context) (func(context.Context, io.Writer) (int64, error), func(), error) {
	switch {
	case src.url != "":
		return func(ctx context.Context, w io.Writer) (int64, error) {
			return fetchStream(ctx, strings.TrimRight(src.url, "/")+"/api/admin/backup?file="+shops.RegistryFile, src.key, w)
		}, func() {}, nil
	case src.pool != nil:
		reg, err := shops.OpenPostgresRegistry(ctx, src.pool)
		if err != nil {
			return nil, nil, err
		}
		return reg.WriteSnapshot, func() { reg.Close() }, nil
	}
	path := filepath.Join(src.dir, shops.RegistryFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, func() {}, nil
	}
	reg, err := shops.OpenRegistry(path)
	if err != nil {
		return nil, nil, err
	}
	return reg.WriteSnapshot, func() { reg.Close() }, nil
}

// store returns the reader of shop id's store, or nil when the shop has
// stored nothing yet (a data directory's shop never loaded).
func (src shopsSource) store(ctx context.Context, id string) (func(context.Context, io.Writer) (int64, error), error) {
	switch {
	case src.url != "":
		return func(ctx context.Context, w io.Writer) (int64, error) {
			return fetchStream(ctx, strings.TrimRight(src.url, "/")+"/api/shops/"+id+"/admin/backup", src.key, w)
		}, nil
	case src.pool != nil:
		st, err := pgstore.OpenShared(ctx, src.pool, pgstore.Options{Shop: id})
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, w io.Writer) (int64, error) {
			defer st.Close()
			return st.WriteSnapshot(ctx, w)
		}, nil
	}
	sd := shops.Dir(src.dir, id)
	if _, err := os.Stat(filepath.Join(sd, boltstore.FileName)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	st, err := boltstore.Open(sd)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, w io.Writer) (int64, error) {
		defer st.Close()
		return st.WriteSnapshot(ctx, w)
	}, nil
}

// backupShops writes the registry of src beside the backup to, then the
// store and the side files of every shop it lists. It returns the shops
// whose stores it wrote, and false when there is no registry (a
// deployment that never had a second shop). sides counts the side files
// written.
func backupShops(ctx context.Context, src shopsSource, to string) (_ bool, _ []string, sides int, _ error) {
	reg, closeReg, err := src.registry(ctx)
	if err != nil {
		return false, nil, 0, fmt.Errorf("the shop registry: %w", err)
	}
	defer closeReg()
	if reg == nil {
		return false, nil, 0, nil
	}
	var ids []string
	if _, err := writeChecked(ctx, registryBackupPath(to), reg, func(path string) (err error) {
		ids, _, err = shops.CheckRegistryFile(path)
		return err
	}); err != nil {
		return false, nil, 0, fmt.Errorf("the shop registry's backup: %w", err)
	}
	var done []string
	for _, id := range ids {
		if id == shops.DefaultID {
			continue
		}
		read, err := src.store(ctx, id)
		if err != nil {
			return true, done, sides, fmt.Errorf("shop %q: %w", id, err)
		}
		if read == nil {
			continue // never loaded: nothing stored yet
		}
		if _, err := writeChecked(ctx, shopBackupPath(to, id), read, checkStoreFile); err != nil {
			return true, done, sides, fmt.Errorf("shop %q: %w", id, err)
		}
		done = append(done, id)
		if src.url == "" && src.dir == "" {
			continue // no data directory: the side files stay with the replicas
		}
		names, err := backupShopSideFiles(ctx, src.dir, src.url, src.key, to, id)
		sides += len(names)
		if err != nil {
			return true, done, sides, fmt.Errorf("shop %q's side files: %w", id, err)
		}
	}
	return true, done, sides, nil
}

// checkStoreFile checks a copy of a store's data file.
func checkStoreFile(path string) error {
	rep, err := boltstore.Check(context.Background(), path, 10)
	if err != nil {
		return err
	}
	if len(rep.Problems) > 0 {
		return errors.New(strings.Join(rep.Problems, "; "))
	}
	return nil
}

// fetchStream streams a backup route of a server into w, checking the
// byte-count trailer (without it the stream broke off).
func fetchStream(ctx context.Context, u, key string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("--url: %w", err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("ask for %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		err := fmt.Errorf("%s answered %s: %s", u, resp.Status, strings.TrimSpace(string(msg)))
		if resp.StatusCode == http.StatusNotFound {
			err = fmt.Errorf("%w: %w", errNoSuchFile, err)
		}
		return 0, err
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("the stream of %s broke off after %d bytes: %w", u, n, err)
	}
	if want := resp.Trailer.Get("X-Aisle-Backup-Bytes"); want != fmt.Sprint(n) {
		return n, fmt.Errorf("the stream of %s broke off: got %d bytes, the server sent %q", u, n, want)
	}
	return n, nil
}

// restoredShops is what restoreShops put back.
type restoredShops struct {
	registry bool
	shops    []string // ids of the shops whose stores were restored
	sides    int      // side files of those shops restored
	keys     int
	forgot   int      // users forgotten again in the shops' stores
	unlisted []string // shop directories the restored registry does not list
}

// restoreShops puts the registry's copy beside the backup from (if there
// is one) into dir, then the store of each shop it lists that the backup
// holds, with its side files (impression log, experiments), each checked
// first; a file it replaces is kept as NAME.before-restore, and users
// forgotten in a shop store it replaces stay forgotten (in the store and
// in the side files).
func restoreShops(ctx context.Context, from, dir string) (restoredShops, error) {
	var out restoredShops
	src := registryBackupPath(from)
	if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	ids, keys, err := shops.CheckRegistryFile(src)
	if err != nil {
		return out, fmt.Errorf("the backup's shop registry is damaged (%w); it was not restored", err)
	}
	if err := putFile(src, filepath.Join(dir, shops.RegistryFile)); err != nil {
		return out, err
	}
	out.registry, out.keys = true, keys
	for _, id := range ids {
		src := shopBackupPath(from, id)
		if _, err := os.Stat(src); id == shops.DefaultID || errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := checkStoreFile(src); err != nil {
			return out, fmt.Errorf("the backup's store of shop %q is damaged (%w); it was not restored", id, err)
		}
		sd := shops.Dir(dir, id)
		if err := os.MkdirAll(sd, 0o755); err != nil {
			return out, err
		}
		var forgotten map[[32]byte]time.Time
		if _, err := os.Stat(filepath.Join(sd, boltstore.FileName)); err == nil {
			st, err := boltstore.Open(sd)
			if err != nil {
				return out, fmt.Errorf("shop %q: %w", id, err)
			}
			forgotten, err = st.ForgottenUsers(ctx)
			st.Close()
			if err != nil {
				return out, fmt.Errorf("read who was forgotten in shop %q: %w", id, err)
			}
		}
		if err := putFile(src, filepath.Join(sd, boltstore.FileName)); err != nil {
			return out, fmt.Errorf("shop %q: %w", id, err)
		}
		out.shops = append(out.shops, id)
		sides, err := restoreSideFiles(shopSideBase(from, id), sd)
		out.sides += len(sides)
		if err != nil {
			return out, fmt.Errorf("shop %q's store is restored, but: %w", id, err)
		}
		if len(forgotten) > 0 && len(sides) > 0 {
			// before the store forgets them: the side files' users are
			// found by the ids the restored store still holds
			if err := forgetInSideFiles(ctx, sd, forgotten); err != nil {
				return out, fmt.Errorf("shop %q is restored, but forgetting again in its impression log and experiments the users forgotten since the backup failed: %w", id, err)
			}
		}
		if len(forgotten) > 0 {
			k, err := forgetAgain(ctx, sd, forgotten)
			if err != nil {
				return out, fmt.Errorf("shop %q is restored, but forgetting again the users forgotten since the backup failed: %w", id, err)
			}
			out.forgot += k
		}
	}
	reg, err := shops.OpenRegistry(filepath.Join(dir, shops.RegistryFile))
	if err != nil {
		return out, err
	}
	defer reg.Close()
	ents, _ := os.ReadDir(filepath.Join(dir, "shops"))
	for _, e := range ents {
		if _, ok := reg.Get(e.Name()); !ok {
			out.unlisted = append(out.unlisted, e.Name())
		}
	}
	return out, nil
}

// putFile copies src over dst through a synced temporary file; a dst it
// replaces is kept as dst.before-restore.
func putFile(src, dst string) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".restore-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	f, err := os.Open(src)
	if err != nil {
		tmp.Close()
		return err
	}
	_, err = io.Copy(tmp, f)
	f.Close()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s into %s: %w", src, filepath.Dir(dst), err)
	}
	if _, err := os.Stat(dst); err == nil {
		if err := os.Rename(dst, dst+".before-restore"); err != nil {
			return fmt.Errorf("set %s aside: %w", dst, err)
		}
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("put %s in place: %w", dst, err)
	}
	return syncDirPath(filepath.Dir(dst))
}

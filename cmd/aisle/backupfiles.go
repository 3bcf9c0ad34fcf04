package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// sideFiles are the files of a data directory besides the store that a
// backup holds: each is written next to the backup FILE as FILE.<name> and
// put back by aisle restore.
var sideFiles = []string{"impressions.db", "experiments.db"}

// sidePath is where the copy of the side file name goes next to backup.
func sidePath(backup, name string) string { return backup + "." + name }

// checkBolt checks a bbolt file: it opens read-only and every page is
// consistent.
func checkBolt(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
			if len(errs) == 10 {
				break
			}
		}
		return errors.Join(errs...)
	})
}

// writeChecked writes src to a temporary file next to to, checks it with
// check, and renames it over to: a broken copy never replaces a good one.
func writeChecked(ctx context.Context, to string, src func(context.Context, io.Writer) (int64, error), check func(path string) error) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(to), ".aisle-backup-*")
	if err != nil {
		return 0, fmt.Errorf("create the backup next to %s: %w", to, err)
	}
	defer os.Remove(tmp.Name())
	n, err := src(ctx, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("write the backup %s: %w", to, err)
	}
	if err := check(tmp.Name()); err != nil {
		return n, fmt.Errorf("the backup %s is damaged (%w); nothing was written", to, err)
	}
	if err := os.Rename(tmp.Name(), to); err != nil {
		return n, fmt.Errorf("put the backup in place: %w", err)
	}
	return n, nil
}

// backupSideFiles copies the side files of the data directory dir (those
// it has; none is in use: the store's own lock was taken) next to to.
func backupSideFiles(ctx context.Context, dir, to string) ([]string, error) {
	var done []string
	for _, name := range sideFiles {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			return done, fmt.Errorf("open %s for the backup: %w (is a server using it?)", path, err)
		}
		_, err = writeChecked(ctx, sidePath(to, name), func(ctx context.Context, w io.Writer) (int64, error) {
			var n int64
			err := db.View(func(tx *bolt.Tx) error {
				var err error
				n, err = tx.WriteTo(w)
				return err
			})
			return n, err
		}, checkBolt)
		db.Close()
		if err != nil {
			return done, err
		}
		done = append(done, name)
	}
	return done, nil
}

// backupSideFilesTo writes the side files next to the backup to: from
// the server at url (those it has), or from the data directory. A
// PostgreSQL deployment keeps them in each replica's data directory: back
// those up with --url, one replica at a time.
func backupSideFilesTo(ctx context.Context, g *globalFlags, url, key, to string, out io.Writer) error {
	var done []string
	if url != "" {
		for _, name := range sideFiles {
			_, err := writeChecked(ctx, sidePath(to, name), func(ctx context.Context, w io.Writer) (int64, error) {
				return fetchBackup(ctx, url, key, name, w)
			}, checkBolt)
			if errors.Is(err, errNoSuchFile) {
				continue // an older server, or a file it does not have
			}
			if err != nil {
				return err
			}
			done = append(done, name)
		}
	} else {
		cfg, err := g.load()
		if err != nil {
			return err
		}
		if cfg.Store != "" {
			return nil
		}
		if done, err = backupSideFiles(ctx, cfg.Data, to); err != nil {
			return err
		}
	}
	for _, name := range done {
		fmt.Fprintf(out, "%s written to %s, checked\n", name, sidePath(to, name))
	}
	return nil
}

// errNoSuchFile: the server has no such file to back up.
var errNoSuchFile = errors.New("the server has no such file")

// fetchBackup streams GET /api/admin/backup?file=name (a side file) into
// w, as backupFromServer does the store; a stream that broke off (no
// byte-count trailer, or a different count) is an error.
func fetchBackup(ctx context.Context, url, key, name string, w io.Writer) (int64, error) {
	return fetchStream(ctx, strings.TrimRight(url, "/")+"/api/admin/backup?file="+neturl.QueryEscape(name), key, w)
}

// restoreSideFiles puts the side files found next to the backup from into
// dir (each checked first; a file replaced is kept as NAME.before-restore).
// A side file the backup lacks (an older backup) is left as it is.
func restoreSideFiles(from, dir string) ([]string, error) {
	var done []string
	for _, name := range sideFiles {
		src := sidePath(from, name)
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := checkBolt(src); err != nil {
			return done, fmt.Errorf("the backup's %s is damaged (%w); %s was not restored", src, err, name)
		}
		dst := filepath.Join(dir, name)
		if _, err := writeChecked(context.Background(), dst+".restoring", func(_ context.Context, w io.Writer) (int64, error) {
			f, err := os.Open(src)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			return io.Copy(w, f)
		}, checkBolt); err != nil {
			return done, err
		}
		if _, err := os.Stat(dst); err == nil {
			if err := os.Rename(dst, dst+".before-restore"); err != nil {
				return done, fmt.Errorf("set the current %s aside: %w", name, err)
			}
		}
		if err := os.Rename(dst+".restoring", dst); err != nil {
			return done, fmt.Errorf("put %s in place: %w", name, err)
		}
		done = append(done, name)
	}
	return done, nil
}

// forgetInSideFiles forgets, in the restored impression log and experiment
// store of dir, the users of the restored store whose hash is in forgotten
// (users forgotten since the backup was taken): their impressions and
// experiment outcomes do not come back with it.
func forgetInSideFiles(ctx context.Context, dir string, forgotten map[[32]byte]time.Time) error {
	st, err := boltstore.Open(dir)
	if err != nil {
		return err
	}
	var doomed []string
	cursor := ""
	for {
		page, next, err := st.ListUsers(ctx, cursor, 10000)
		if err != nil {
			st.Close()
			return err
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
	st.Close()
	if len(doomed) == 0 {
		return nil
	}
	imp, err := impressions.Open(filepath.Join(dir, "impressions.db"), impressions.Options{})
	if err != nil {
		return err
	}
	m, err := experiment.Open(experiment.Options{Path: filepath.Join(dir, "experiments.db"), Impressions: imp})
	if err != nil {
		imp.Close()
		return err
	}
	for _, id := range doomed {
		m.UserDeleted(id) // outcomes, and the impressions through the log
	}
	// deleted units and impressions leave the restored files too
	return errors.Join(imp.FlushForgotten(ctx), m.Compact(), m.Close(), imp.Close())
}

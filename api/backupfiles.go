package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// backupFile is a file of the data directory besides the store that a
// backup holds (the impression log, the experiment store).
type backupFile struct {
	name string
	snap func(ctx context.Context, w io.Writer) (int64, error)
}

// AddBackupFile makes GET /api/admin/backup?file=NAME stream a consistent
// copy of the data directory's file NAME written by snap, and lists NAME in
// the X-Aisle-Backup-Files header of the store's backup, so aisle backup
// --url fetches it too. Call it before serving.
func (s *Server) AddBackupFile(name string, snap func(ctx context.Context, w io.Writer) (int64, error)) {
	s.backupFiles = append(s.backupFiles, backupFile{name, snap})
}

// listBackupFiles names the files besides the store a backup holds.
func (s *Server) listBackupFiles(w http.ResponseWriter) {
	names := make([]string, len(s.backupFiles))
	for i, f := range s.backupFiles {
		names[i] = f.name
	}
	w.Header().Set("X-Aisle-Backup-Files", strings.Join(names, ","))
}

// backupFile streams the copy of one file besides the store, with the same
// byte-count trailer as the store's backup.
func (s *Server) backupFile(w http.ResponseWriter, r *http.Request, name string) {
	i := slices.IndexFunc(s.backupFiles, func(f backupFile) bool { return f.name == name })
	if i < 0 {
		var names []string
		for _, f := range s.backupFiles {
			names = append(names, f.name)
		}
		list := "nothing else"
		if len(names) > 0 {
			list = strings.Join(names, ", ")
		}
		WriteError(w, http.StatusNotFound, fmt.Sprintf("file=%q: a backup holds the store and %s", name, list), nil)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="aisle-%s-%s"`, time.Now().UTC().Format("20060102T150405Z"), name))
	w.Header().Set("Trailer", "X-Aisle-Backup-Bytes")
	n, err := s.backupFiles[i].snap(r.Context(), w)
	if err != nil {
		s.log.Error("backup stream broke off", "file", name, "bytes", n, "err", err)
		return
	}
	w.Header().Set("X-Aisle-Backup-Bytes", strconv.FormatInt(n, 10))
}

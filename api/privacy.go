package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/store"
)

// AddPrivacyRoutes registers the privacy routes: what was forgotten about
// a user, the export of everything held about one, the retention and
// compaction status, and the online backup. All are admin-only: they
// concern one person's data or the whole store. It also adds the
// retention job's progress to /metrics.
func (s *Server) AddPrivacyRoutes() {
	s.Handle(Route{"GET", "/api/users/{id}/forgotten", Admin, s.JSON(s.forgotten)})
	s.Handle(Route{"GET", "/api/users/{id}/export", Admin, s.exportUser})
	s.Handle(Route{"GET", "/api/admin/privacy", Admin, s.JSON(s.privacyStatus)})
	s.Handle(Route{"GET", "/api/admin/backup", Admin, s.backup})
	s.registerPrivacyMetrics()
}

func (s *Server) registerPrivacyMetrics() {
	for _, g := range []struct {
		name, help string
		f          func() float64
	}{
		{"aisle_retention_position", "Sequence number the current (or last) retention pass reached.", func() float64 { return float64(s.eng.RetentionStatus().Position) }},
		{"aisle_retention_last", "Newest sequence number when the current (or last) retention pass began.", func() float64 { return float64(s.eng.RetentionStatus().Last) }},
		{"aisle_retention_progress", "Fraction of the current (or last) retention pass done.", func() float64 { return s.eng.RetentionStatus().Progress() }},
		{"aisle_retention_running", "1 while a retention pass runs.", func() float64 {
			if s.eng.RetentionStatus().Running {
				return 1
			}
			return 0
		}},
		{"aisle_retention_deleted_events", "Events deleted by retention since the server started.", func() float64 { return float64(s.eng.RetentionStatus().DeletedTotal) }},
	} {
		// a second registration (tests building two servers over one
		// registry) keeps the first
		_ = s.registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: g.name, Help: g.help}, g.f))
	}
}

// forgotten answers what was removed about a forgotten user and what is
// still pending (compaction, relearning, retraining).
func (s *Server) forgotten(r *http.Request) (any, error) {
	rep, err := s.eng.Forgotten(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, NotFound(fmt.Sprintf("no record of forgetting user %q: delete them with DELETE /api/users/{id} first", r.PathValue("id")))
	}
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// exportLine is one line of an export.
type exportLine struct {
	Kind   string `json:"kind"`
	Record any    `json:"record,omitempty"`
	// on the last line
	Records int    `json:"records,omitempty"`
	Error   string `json:"error,omitempty"`
}

// exportUser streams everything held about a user as JSON Lines: the
// user record, each event (searches, which are the search log, as kind
// "search"), the receipt of a past forgetting, and a last line of kind
// "end" with the count (kind "error" when the export broke off).
func (s *Server) exportUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	started := false
	n := 0
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	fl, _ := w.(http.Flusher)
	err := s.eng.ExportUser(r.Context(), id, func(kind string, v any) error {
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Content-Disposition", `attachment; filename="user-export.jsonl"`)
			w.WriteHeader(http.StatusOK)
		}
		n++
		if err := enc.Encode(exportLine{Kind: kind, Record: v}); err != nil {
			return err
		}
		if fl != nil && n%1000 == 0 {
			fl.Flush()
		}
		return nil
	})
	if !started {
		if errors.Is(err, store.ErrNotFound) {
			err = NotFound(fmt.Sprintf("nothing is stored about user %q", id))
		}
		s.Error(w, r, err)
		return
	}
	if err != nil {
		enc.Encode(exportLine{Kind: "error", Error: err.Error() + " (the export is incomplete: ask again)"})
		return
	}
	enc.Encode(exportLine{Kind: "end", Records: n})
}

// PrivacyStatus answers GET /api/admin/privacy: the retention job's
// progress and the last compaction.
type PrivacyStatus struct {
	Retention       engine.RetentionStatus `json:"retention"`
	LastCompaction  *store.CompactReport   `json:"last_compaction,omitempty"`
	CompactionError string                 `json:"compaction_error,omitempty"`
}

// privacyStatus answers the retention job's progress and the last
// compaction.
func (s *Server) privacyStatus(r *http.Request) (any, error) {
	out := PrivacyStatus{Retention: s.eng.RetentionStatus()}
	out.LastCompaction, out.CompactionError = s.eng.LastCompaction()
	return out, nil
}

// backup streams a consistent snapshot of the data file (one read
// transaction: writes go on meanwhile and are not in it). aisle backup
// --url saves it; aisle restore puts it in place.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	if name := r.URL.Query().Get("file"); name != "" {
		s.backupFile(w, r, name)
		return
	}
	snap, ok := s.eng.Store().(store.Snapshotter)
	if !ok {
		WriteError(w, http.StatusNotImplemented, "this store cannot write a snapshot", nil)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="aisle-%s.db"`, time.Now().UTC().Format("20060102T150405Z")))
	w.Header().Set("Trailer", "X-Aisle-Backup-Bytes")
	s.listBackupFiles(w)
	n, err := snap.WriteSnapshot(r.Context(), w)
	if err != nil {
		// the status is sent: the missing trailer tells the client
		s.log.Error("backup stream broke off", "bytes", n, "err", err)
		return
	}
	w.Header().Set("X-Aisle-Backup-Bytes", strconv.FormatInt(n, 10))
}

package web

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store"
)

type modelRow struct {
	recommend.ModelInfo
	Metrics []metric
	// Adjusted are the version's query-time settings, "name value, …"
	// (empty when the fitted ones serve).
	Adjusted string
	Created  string
	CanRoll  bool
}

type metric struct {
	Name  string
	Value float64
}

type namedCount struct {
	ID, Title string
	Count     int
}

type adminData struct {
	Counts   engine.Counts
	Log      logSnapshot
	TopItems []namedCount
	Models   []modelRow
	Eval     evalTable
	Training trainingState
	Live     liveData
	// Retention is the progress of the event retention job (web/privacy.go).
	Retention retentionView
	Message   string
	Problem   string
}

// evalTable compares the serving version of every model on the metrics
// of its hold-out validation, one column per metric.
type evalTable struct {
	Metrics []string
	Rows    []evalRow
}

type evalRow struct {
	Name    string
	Version int
	Primary bool
	Values  []string // one per Metrics entry, "–" when missing
	Best    []bool   // the best value of its column
	Secs    float64
}

func evalTableOf(models []recommend.ModelInfo) evalTable {
	var t evalTable
	seen := map[string]bool{}
	var serving []recommend.ModelInfo
	for _, m := range models {
		if m.Serving && len(m.Metrics) > 0 {
			serving = append(serving, m)
			for k := range m.Metrics {
				if !seen[k] {
					seen[k] = true
					t.Metrics = append(t.Metrics, k)
				}
			}
		}
	}
	slices.Sort(t.Metrics)
	best := make([]float64, len(t.Metrics))
	for _, m := range serving {
		for j, k := range t.Metrics {
			if v, ok := m.Metrics[k]; ok && v > best[j] {
				best[j] = v
			}
		}
	}
	for _, m := range serving {
		r := evalRow{Name: m.Name, Version: m.Version, Primary: m.Primary, Secs: m.TrainSecs}
		for j, k := range t.Metrics {
			v, ok := m.Metrics[k]
			if !ok {
				r.Values, r.Best = append(r.Values, "–"), append(r.Best, false)
				continue
			}
			r.Values = append(r.Values, fmt.Sprintf("%.4f", v))
			r.Best = append(r.Best, v == best[j] && v > 0)
		}
		t.Rows = append(t.Rows, r)
	}
	return t
}

type trainingState struct {
	Configured bool
	Running    bool
	LastRun    string
	LastError  string
	Results    []string
}

// adminMessages are the fixed notices a redirect may ask for (the page
// never echoes free text from the URL).
var adminMessages = map[string]string{
	"retrain":     "Retraining started: the models table updates when it ends (reload the page).",
	"busy":        "A retraining run is already under way.",
	"rolledback":  "Rolled back: the earlier version serves again.",
	"norollback":  "There is no earlier version to roll back to.",
	"noretrainer": "Retraining is not configured on this server.",
}

func (u *UI) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var d adminData
	var err error
	if d.Counts, err = u.eng.Counts(ctx); err != nil {
		u.fail(w, r, err)
		return
	}
	if err := u.stats.refresh(ctx, u.eng.Store()); err != nil {
		u.fail(w, r, err)
		return
	}
	d.Log = u.stats.snapshot(10)
	d.Retention = retentionViewOf(u.eng.RetentionStatus())
	for _, c := range d.Log.Items {
		title := c.Key
		if it, err := u.eng.GetItem(ctx, c.Key); err == nil && it.Title != "" {
			title = it.Title
		}
		d.TopItems = append(d.TopItems, namedCount{ID: c.Key, Title: title, Count: c.Count})
	}
	models, err := u.svc.Models(ctx)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	for _, m := range models {
		mr := modelRow{ModelInfo: m, Created: m.CreatedAt.UTC().Format("2006-01-02 15:04"), CanRoll: m.Serving}
		for k, v := range m.Metrics {
			mr.Metrics = append(mr.Metrics, metric{k, v})
		}
		slices.SortFunc(mr.Metrics, func(a, b metric) int { return cmp.Compare(a.Name, b.Name) })
		mr.Adjusted = settingsText(m.ModelMeta.Adjusted)
		d.Models = append(d.Models, mr)
	}
	d.Eval = evalTableOf(models)
	if u.rt != nil {
		d.Training.Configured = true
		d.Training.Running = u.rt.Busy()
		last, lerr, at := u.rt.Last()
		if !at.IsZero() {
			d.Training.LastRun = at.UTC().Format(time.RFC3339)
			if lerr != nil {
				d.Training.LastError = lerr.Error()
			}
			for _, res := range last {
				name := res.Model
				if res.Phase != "" { // trained after the fast models, or tuned
					name += " (" + res.Phase + ")"
				}
				s := fmt.Sprintf("%s: %s", name, res.Reason)
				if res.Trained {
					s = fmt.Sprintf("%s: version %d in %.1f s", name, res.Version, res.TrainSeconds)
					if res.Phase != "" {
						s += "; " + res.Reason
					}
				}
				if a := settingsText(res.Adjusted); a != "" {
					s += "; query-time settings " + a
				}
				if res.Error != "" {
					s += " (" + res.Error + ")"
				}
				d.Training.Results = append(d.Training.Results, s)
			}
		}
	}
	if d.Live, err = u.liveData(); err != nil {
		u.fail(w, r, err)
		return
	}
	d.Message = adminMessages[r.URL.Query().Get("msg")]
	u.render(w, r, http.StatusOK, "admin.html", pageData{Title: "Dashboard", Visitor: u.visitorOf(w, r), Body: d})
}

func (u *UI) liveData() (liveData, error) {
	routes, dt, err := u.live.read()
	if err != nil {
		return liveData{}, err
	}
	return liveData{Routes: routes, Window: dt.Round(time.Second).String(), CTR: u.ctr.rates()}, nil
}

// liveFragment serves the live table alone; the dashboard's script swaps
// it in every few seconds.
func (u *UI) liveFragment(w http.ResponseWriter, r *http.Request) {
	d, err := u.liveData()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, http.StatusOK, "live.html", pageData{Body: adminData{Live: d}})
}

func (u *UI) retrain(w http.ResponseWriter, r *http.Request) {
	msg := "retrain"
	switch {
	case u.rt == nil:
		msg = "noretrainer"
	case u.rt.Busy():
		msg = "busy"
	default:
		// The run outlives the request; the server's owner joins it.
		if !u.srv.Go(func() { u.rt.RunOnce(u.rt.Context()) }) {
			msg = "busy"
		}
	}
	http.Redirect(w, r, "/admin?msg="+msg, http.StatusSeeOther)
}

func (u *UI) rollback(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	_, err := u.svc.Rollback(r.Context(), name)
	switch {
	case errors.Is(err, recommend.ErrNoRollback), errors.Is(err, store.ErrNotFound):
		http.Redirect(w, r, "/admin?msg=norollback&model="+url.QueryEscape(name), http.StatusSeeOther)
	case err != nil:
		u.fail(w, r, err)
	default:
		u.log.Info("rolled back from the dashboard", "model", name)
		http.Redirect(w, r, "/admin?msg=rolledback&model="+url.QueryEscape(name), http.StatusSeeOther)
	}
}

// settingsText writes settings by name, sorted: "ials_weight 0.3, recency 64".
func settingsText(p map[string]float64) string {
	parts := make([]string, 0, len(p))
	for _, k := range slices.Sorted(maps.Keys(p)) {
		parts = append(parts, fmt.Sprintf("%s %g", k, p[k]))
	}
	return strings.Join(parts, ", ")
}

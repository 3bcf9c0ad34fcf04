package shops

import (
	"bytes"
	"net/http"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// serveMetrics answers /metrics: the default shop's metrics as they
// always were, and every loaded shop's own metrics (requests, latency,
// events ingested, models, …) in the same families with a shop label.
// Process-wide families (go_*, process_*) come once, from the default
// shop.
func (h *Host) serveMetrics(w http.ResponseWriter, r *http.Request) {
	// the default shop decides who may read /metrics: its own answer,
	// when not a 200, is the answer (a key it asks for, say)
	probe := &bufferedAnswer{header: http.Header{}, code: http.StatusOK}
	h.def.Handler().ServeHTTP(probe, r)
	if probe.code != http.StatusOK {
		for k, v := range probe.header {
			w.Header()[k] = v
		}
		w.WriteHeader(probe.code)
		w.Write(probe.body.Bytes())
		return
	}
	fams := map[string]*dto.MetricFamily{}
	var order []string
	add := func(mfs []*dto.MetricFamily, shop string) {
		for _, mf := range mfs {
			name := mf.GetName()
			if shop != "" && (strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "aisle_shop_") || name == "aisle_build_info") {
				continue
			}
			f, ok := fams[name]
			if !ok {
				f = &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit}
				fams[name] = f
				order = append(order, name)
			} else if f.GetType() != mf.GetType() {
				continue
			}
			for _, m := range mf.Metric {
				if shop != "" {
					m = proto.Clone(m).(*dto.Metric)
					m.Label = append(m.Label, &dto.LabelPair{Name: proto.String("shop"), Value: proto.String(shop)})
					sort.Slice(m.Label, func(i, j int) bool { return m.Label[i].GetName() < m.Label[j].GetName() })
				}
				f.Metric = append(f.Metric, m)
			}
		}
	}
	mfs, err := h.def.Registry().Gather()
	if err != nil {
		h.log.Error("gathering metrics", "error", err)
	}
	add(mfs, "")
	h.mu.Lock()
	var loaded []*shop
	for _, s := range h.live {
		select {
		case <-s.ready:
			if s.a != nil {
				s.inflight++ // not unloaded while read
				loaded = append(loaded, s)
			}
		default:
		}
	}
	h.mu.Unlock()
	sort.Slice(loaded, func(i, j int) bool { return loaded[i].id < loaded[j].id })
	for _, s := range loaded {
		if mfs, err := s.a.Registry().Gather(); err == nil {
			add(mfs, s.id)
		}
		h.mu.Lock()
		s.inflight--
		h.gone.Broadcast()
		h.mu.Unlock()
	}
	format := expfmt.NegotiateIncludingOpenMetrics(r.Header)
	w.Header().Set("Content-Type", string(format))
	enc := expfmt.NewEncoder(w, format)
	for _, name := range order {
		if err := enc.Encode(fams[name]); err != nil {
			h.log.Error("writing metrics", "error", err)
			return
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		c.Close()
	}
}

// bufferedAnswer keeps an answer instead of sending it.
type bufferedAnswer struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedAnswer) Header() http.Header         { return b.header }
func (b *bufferedAnswer) WriteHeader(code int)        { b.code = code }
func (b *bufferedAnswer) Write(p []byte) (int, error) { return b.body.Write(p) }

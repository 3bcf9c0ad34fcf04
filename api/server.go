// Package api is Aisle's HTTP layer: it translates JSON requests under /api
// into calls on an engine.Engine and its answers back to JSON. It holds no
// domain logic of its own: authentication, limits, metrics and error
// formatting only.
//
// # Writing a handler
//
// A handler is a Func: it reads the request and returns the answer (a
// named type from types.go, described under the same name in
// openapi.json) or an error. It never writes to the ResponseWriter. Wrap
// it with Server.JSON, the one place that decides statuses:
//
//	s.Handle(Route{"GET", "/api/rows/{user_id}", Read, s.JSON(h.rows)})
//
//	func (h *rowHandlers) rows(r *http.Request) (any, error) {
//		req, err := RecommendRequest(r) // n, filters, diversity: 400 when bad
//		if err != nil {
//			return nil, err
//		}
//		rows, err := h.svc.Rows(r.Context(), r.PathValue("user_id"), req)
//		if err != nil {
//			return nil, err // ErrorOf picks the status
//		}
//		return Rows{Rows: rows}, nil
//	}
//
// Errors: return BadRequest, NotFound, Conflict or Unavailable (503 with
// Retry-After) when the handler knows the answer; otherwise return the
// engine's error and ErrorOf maps it (invalid batches 400 with details,
// store.ErrNotFound 404, a body over the limit 413, …). Anything it does
// not know is a 500 whose detail goes only to the log. WithStatus sends a
// value with another status (202). The answer is encoded before a byte is
// sent, and every JSON answer carries X-Content-Type-Options: nosniff.
package api

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/internal/buildinfo"
	"github.com/aisle-dev/aisle/internal/ratelimit"
	"github.com/aisle-dev/aisle/internal/secret"
)

// Access is who may call a route.
type Access int

// Access levels of routes.
const (
	Public Access = iota // anyone (health, metrics, docs)
	Read                 // the read key or the admin key, when a read key is set
	Admin                // the admin key, when one is set
)

// Options configure a Server.
type Options struct {
	Engine   *engine.Engine
	Logger   *slog.Logger
	AdminKey string // required for writes and deletes when set
	ReadKey  string // required for reads when set (the admin key also works)
	// MaxBodyBytes is the largest request body accepted (default 16 MiB);
	// larger ones get 413.
	MaxBodyBytes int64
	// Go, when set, runs work that outlives a request (a retraining run
	// started by POST /api/models/retrain) under the owner's lifecycle, so
	// that shutting down waits for it; it reports false when the owner is
	// shutting down and the work was not started. Nil runs it in a plain
	// goroutine.
	Go func(func()) bool
	// ForwardRetrain, when set, is asked first by POST
	// /api/models/retrain: in a cluster, a replica that does not hold the
	// training lease forwards the request to the one that does
	// (forwarded true, replica naming it, or an error naming why not, a
	// 409). Nil: train here.
	ForwardRetrain func(ctx context.Context) (forwarded bool, replica string, err error)
	// AccessLog logs one line per request (route, status, duration) at
	// info level.
	AccessLog bool
	// RateLimit, when > 0, is the requests per second allowed to each
	// client: a request with the read key counts against that key, any
	// other against its client IP; requests with the admin key and the
	// health, readiness and metrics routes are never limited. Over the
	// limit the answer is 429 with Retry-After. RateBurst is how many may
	// come at once (0: RateLimit rounded up). TrustProxy takes the client
	// IP from X-Forwarded-For (see ratelimit.ClientIP), for the rate limit
	// and for the client networks suggestions count (decision 0061).
	RateLimit  float64
	RateBurst  int
	TrustProxy bool
	// Secret keys the pseudonyms under which searches made with only the
	// read key are logged (see AddSearchRoutes); keep it across restarts
	// (internal/secret). Empty: a random one for this process.
	Secret []byte
}

// Route is one HTTP route of the API.
type Route struct {
	Method  string
	Pattern string // net/http pattern, e.g. "/api/items/{id}"
	Access  Access
	Handler http.HandlerFunc
}

// Server serves the Aisle REST API.
type Server struct {
	eng     *engine.Engine
	log     *slog.Logger
	keys    Keys
	maxBody int64
	goFn    func(func()) bool
	access  bool
	limiter *ratelimit.Limiter // nil: no rate limit
	proxy   bool               // trust X-Forwarded-For
	secret  []byte             // keys pseudonyms of read-key searchers
	ready   atomic.Bool
	mux     *http.ServeMux
	routes  []Route
	merch   *merch          // rules and ads (AddMerchRoutes); nil: none
	search  *searchHandlers // set by AddSearchRoutes
	// fwd forwards retrain requests (Options.ForwardRetrain)
	fwd func(ctx context.Context) (bool, string, error)

	// backupFiles are the data directory's files besides the store that a
	// backup holds (AddBackupFile)
	backupFiles []backupFile

	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ingested *prometheus.CounterVec

	searchLogDropped prometheus.Counter

	exp *experiment.Manager // nil: no experiments, no impression log
	// duel interleaves a share of search answers with a challenger ranker
	// (SetSearchChallenge); nil: none
	duel duelHold
}

// New returns a Server with the foundation routes registered. It is not
// ready (GET /api/ready answers 503) until SetReady(true).
func New(opts Options) (*Server, error) {
	if opts.Engine == nil {
		return nil, errors.New("api: no engine")
	}
	s := &Server{
		eng:     opts.Engine,
		log:     opts.Logger,
		keys:    Keys{Admin: opts.AdminKey, Read: opts.ReadKey},
		maxBody: opts.MaxBodyBytes,
		goFn:    opts.Go,
		access:  opts.AccessLog,
		mux:     http.NewServeMux(),
		secret:  opts.Secret,
		fwd:     opts.ForwardRetrain,
	}
	if len(s.secret) == 0 {
		s.secret = secret.New()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = 16 << 20
	}
	if opts.RateLimit > 0 {
		burst := opts.RateBurst
		if burst <= 0 {
			burst = max(1, int(math.Ceil(opts.RateLimit)))
		}
		l, err := ratelimit.New(ratelimit.Config{Rate: opts.RateLimit, Burst: burst})
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		s.limiter = l
	} else if opts.RateLimit < 0 || math.IsNaN(opts.RateLimit) {
		return nil, fmt.Errorf("api: rate limit %v must be ≥ 0 requests per second (0: none)", opts.RateLimit)
	}
	s.proxy = opts.TrustProxy // the rate limit's and the suggestions' client address
	s.registry = prometheus.NewRegistry()
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aisle_http_requests_total", Help: "HTTP requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "aisle_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"route", "method"})
	s.ingested = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aisle_events_ingested_total", Help: "Events stored, by type (from the API, the storefront, the search log and imports).",
	}, []string{"type"})
	s.searchLogDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "aisle_search_log_dropped_total", Help: "Searches not written to the event log because its queue was full or the server was stopping.",
	})
	bi := buildinfo.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "aisle_build_info", Help: "Always 1; the labels tell which build runs.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "revision": bi.Revision, "build_date": bi.BuildDate, "goversion": bi.GoVersion},
	})
	build.Set(1)
	s.registry.MustRegister(s.requests, s.latency, s.ingested, s.searchLogDropped, build)
	for _, t := range s.eng.Types().Names() {
		s.ingested.WithLabelValues(t) // export every type from the start, at 0
	}
	// counted at the engine: events of the API, the storefront, the search
	// log and imports alike
	s.eng.Subscribe(ingestCounter{s.ingested})

	s.Handle(Route{"GET", "/api/health", Public, s.JSON(s.health)})
	s.Handle(Route{"GET", "/api/ready", Public, s.JSON(s.readyz)})
	s.Handle(Route{"GET", "/metrics", Public, promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}).ServeHTTP})
	s.Handle(Route{"GET", "/api/openapi.json", Public, s.openapi})
	s.Handle(Route{"GET", "/api/stats", Read, s.JSON(s.stats)})
	s.Handle(Route{"POST", "/api/items", Admin, s.JSON(s.postItems)})
	s.Handle(Route{"GET", "/api/items", Read, s.JSON(s.listItems)})
	s.Handle(Route{"GET", "/api/items/{id}", Read, s.JSON(s.getItem)})
	s.Handle(Route{"PATCH", "/api/items/{id}", Admin, s.JSON(s.patchItem)})
	s.Handle(Route{"DELETE", "/api/items/{id}", Admin, s.JSON(s.deleteItem)})
	s.Handle(Route{"POST", "/api/users", Admin, s.JSON(s.postUsers)})
	s.Handle(Route{"GET", "/api/users", Read, s.JSON(s.listUsers)})
	s.Handle(Route{"GET", "/api/users/{id}", Read, s.JSON(s.getUser)})
	s.Handle(Route{"DELETE", "/api/users/{id}", Admin, s.JSON(s.deleteUser)})
	s.Handle(Route{"GET", "/api/users/{id}/events", Read, s.JSON(s.userEvents)})
	s.Handle(Route{"POST", "/api/events", Admin, s.JSON(s.postEvents)})
	// Profiling for operators, behind the admin key (not listed in the API).
	s.mux.Handle("/debug/pprof/", s.adminOnly(http.HandlerFunc(pprof.Index)))
	s.mux.Handle("/debug/pprof/profile", s.adminOnly(http.HandlerFunc(pprof.Profile)))
	s.mux.Handle("/debug/pprof/trace", s.adminOnly(http.HandlerFunc(pprof.Trace)))
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, fmt.Sprintf("no route %s %s: see GET /api/openapi.json", r.Method, r.URL.Path), nil)
	})
	return s, nil
}

// Handle registers a route with authentication, metrics and body limits.
// Other packages (recommendations, search, the web UI) add their routes here.
func (s *Server) Handle(rt Route) {
	s.routes = append(s.routes, rt)
	label := rt.Pattern
	h := rt.Handler
	s.mux.Handle(rt.Method+" "+rt.Pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// every answer, not only JSON: /metrics, pages and files too
		w.Header().Set("X-Content-Type-Options", "nosniff")
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic serving request", "route", label, "panic", v)
				if !rec.wrote {
					WriteError(rec, http.StatusInternalServerError, "internal error", nil)
				}
			}
			took := time.Since(start)
			s.requests.WithLabelValues(label, r.Method, strconv.Itoa(rec.code)).Inc()
			s.latency.WithLabelValues(label, r.Method).Observe(took.Seconds())
			if s.access {
				s.log.Info("http request", "method", r.Method, "path", r.URL.Path, "route", label, "status", rec.code, "duration_ms", float64(took.Microseconds())/1000, "remote", r.RemoteAddr)
			}
		}()
		if rt.Access != Public && !s.ready.Load() {
			w.Header().Set("Retry-After", "2")
			WriteError(rec, http.StatusServiceUnavailable, "starting: loading data and models; retry when GET /api/ready answers 200", nil)
			return
		}
		if s.limiter != nil && !unlimited[label] {
			if err := s.limit(r); err != nil {
				s.Error(rec, r, err)
				return
			}
		}
		if !s.allowed(rt.Access, r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="aisle"`)
			WriteError(rec, http.StatusUnauthorized, "missing or wrong API key: send it as \"Authorization: Bearer KEY\" or \"X-API-Key: KEY\"", nil)
			return
		}
		if !unlimited[label] {
			if msg := checkURLText(r); msg != "" {
				WriteError(rec, http.StatusBadRequest, msg, nil)
				return
			}
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(rec, r.Body, s.maxBody)
		}
		h(rec, r)
	}))
}

// checkURLText reports what is wrong with the text of r's path and query
// parameters, or "" when it is fine: like every text in a body, it must be
// valid UTF-8 without control characters other than tab, newline and
// carriage return. Go decodes %FF into a byte that the JSON answer would
// silently turn into U+FFFD, so /api/recommend/%FF answered for the user
// "\ufffd" (issue 12 item 9); it is refused instead, naming the parameter.
func checkURLText(r *http.Request) string {
	if p := catalog.CheckText(r.URL.Path); p != "" {
		return "the path " + p + ": send ids as percent-encoded UTF-8"
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return fmt.Sprintf("the query string cannot be read: %v", err)
	}
	for k, vs := range q {
		if p := catalog.CheckText(k); p != "" {
			return fmt.Sprintf("a query parameter name %s: send it as percent-encoded UTF-8", p)
		}
		for _, v := range vs {
			if p := catalog.CheckText(v); p != "" {
				return fmt.Sprintf("query parameter %s %s: send it as percent-encoded UTF-8", k, p)
			}
		}
	}
	return ""
}

// unlimited are the routes the rate limit never applies to: probes and
// monitoring must see the server as it is.
var unlimited = map[string]bool{"/api/health": true, "/api/ready": true, "/metrics": true}

// limit charges a request to its client's token bucket: the read key's
// when it sends that key, else its client IP's (a wrong key counts
// against the IP, so guessing keys is limited too). The admin key is
// never limited. Over the limit it is a 429 with Retry-After.
func (s *Server) limit(r *http.Request) error {
	sent := RequestKey(r)
	if KeyMatches(sent, s.keys.Admin) {
		return nil
	}
	bucket, who := "ip\x00"+ratelimit.ClientIP(r, s.proxy), "this client IP"
	if KeyMatches(sent, s.keys.Read) {
		bucket, who = "key\x00"+sent, "this API key"
	}
	if ok, wait := s.limiter.Allow(bucket); !ok {
		return &Error{Status: http.StatusTooManyRequests, RetryAfter: wait,
			Msg: fmt.Sprintf("too many requests from %s: retry after the time in Retry-After (the server allows a steady rate set by server.rate_limit)", who)}
	}
	return nil
}

// ingestCounter counts the events the engine stored, by type.
type ingestCounter struct{ c *prometheus.CounterVec }

func (ic ingestCounter) EventsAppended(evs []events.Event) {
	for _, e := range evs {
		ic.c.WithLabelValues(string(e.Type)).Inc()
	}
}
func (ingestCounter) ItemsUpserted([]catalog.Item) {}
func (ingestCounter) ItemsDeleted([]string)        {}
func (ingestCounter) UserDeleted(string)           {}

// adminOnly guards an operator handler with the admin key.
func (s *Server) adminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.allowed(Admin, r) {
			WriteError(w, http.StatusUnauthorized, "missing or wrong admin key", nil)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Go runs f as background work of the server's owner (see Options.Go);
// false means the owner is shutting down and f was not started.
func (s *Server) Go(f func()) bool {
	if s.goFn == nil {
		go f()
		return true
	}
	return s.goFn(f)
}

// Routes lists the registered routes.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// Engine returns the engine the server translates to.
func (s *Server) Engine() *engine.Engine { return s.eng }

// Registry returns the Prometheus registry, for other packages' metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// SetReady marks the server able (or not) to serve answers.
func (s *Server) SetReady(ok bool) { s.ready.Store(ok) }

// Ready reports whether the server can serve answers (Public routes, such
// as the web UI's pages, check it themselves).
func (s *Server) Ready() bool { return s.ready.Load() }

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// CanWrite reports whether r holds write access (the admin key, or no
// admin key is set): only such a request may attribute what it does to a
// user it names.
func (s *Server) CanWrite(r *http.Request) bool { return s.allowed(Admin, r) }

func (s *Server) allowed(a Access, r *http.Request) bool {
	return s.keys.Allows(a, RequestKey(r))
}

type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.code = code
		r.wrote = true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

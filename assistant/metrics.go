package assistant

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the assistant's Prometheus metrics.
type Metrics struct {
	Turns      *prometheus.CounterVec   // by mode and intent
	Latency    *prometheus.HistogramVec // seconds per turn, by mode
	Fallbacks  *prometheus.CounterVec   // model turns answered built-in, by reason
	Tokens     *prometheus.CounterVec   // model tokens, by kind (prompt, completion)
	Ungrounded *prometheus.CounterVec   // what the grounding checker removed or corrected, by kind
	LLMLatency prometheus.Histogram     // seconds per model call
}

// NewMetrics returns unregistered metrics (see Register).
func NewMetrics() *Metrics {
	return &Metrics{
		Turns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aisle_assistant_turns_total",
			Help: "Shopping assistant turns answered, by mode (builtin, llm) and intent."}, []string{"mode", "intent"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "aisle_assistant_turn_duration_seconds",
			Help:    "Shopping assistant latency per turn, by mode.",
			Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"mode"}),
		Fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aisle_assistant_llm_fallbacks_total",
			Help: "Turns the language model failed and the built-in understanding answered, by reason (timeout, rate_limited, error, malformed_tool_call)."}, []string{"reason"}),
		Tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aisle_assistant_llm_tokens_total",
			Help: "Tokens the language model reported using, by kind (prompt, completion)."}, []string{"kind"}),
		Ungrounded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aisle_assistant_ungrounded_total",
			Help: "Products, prices and attributes in model replies that no tool result gave, removed or corrected by the grounding checker, by kind."}, []string{"kind"}),
		LLMLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "aisle_assistant_llm_call_duration_seconds",
			Help: "Latency of one language model call.", Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}),
	}
}

// Register adds the metrics to a registry.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.Turns, m.Latency, m.Fallbacks, m.Tokens, m.Ungrounded, m.LLMLatency} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

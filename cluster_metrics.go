package aisle

import (
	"github.com/prometheus/client_golang/prometheus"
)

// clusterCollector exports the change feed, the lease and stream
// ingestion (issue 13; docs/cluster.md).
type clusterCollector struct {
	a                                                    *Aisle
	position, applied, failed, reloads, leaseOn, relayOn *prometheus.Desc
	ingested, ingestEvents                               *prometheus.Desc
}

func newClusterCollector(a *Aisle) *clusterCollector {
	return &clusterCollector{
		a:        a,
		position: prometheus.NewDesc("aisle_feed_position", "Last change feed position this replica applied.", nil, nil),
		applied:  prometheus.NewDesc("aisle_feed_applied_total", "Changes from the feed applied to this replica's listeners.", nil, nil),
		failed:   prometheus.NewDesc("aisle_feed_failed_total", "Changes from the feed that could not be applied (logged and skipped; a restart loads them from the store).", nil, nil),
		reloads:  prometheus.NewDesc("aisle_feed_reloads_total", "Reloads from the store because the feed no longer held this replica's position.", nil, nil),
		leaseOn:  prometheus.NewDesc("aisle_lease_held", "1 when this replica holds the lease of the background work (training, ranker, retention).", nil, nil),
		relayOn:  prometheus.NewDesc("aisle_relay_lease_held", "1 when this replica holds the lease of the outbox relay (publishes committed changes to the feed).", nil, nil),
		ingested: prometheus.NewDesc("aisle_ingest_messages_total", "Messages from the ingest subject, by result (stored, dead_letter, retried).",
			[]string{"result"}, nil),
		ingestEvents: prometheus.NewDesc("aisle_ingest_events_total", "Events stored from the ingest subject.", nil, nil),
	}
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.position, c.applied, c.failed, c.reloads, c.leaseOn, c.relayOn, c.ingested, c.ingestEvents} {
		ch <- d
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.a.follower.Stats()
	ch <- prometheus.MustNewConstMetric(c.position, prometheus.GaugeValue, float64(st.Position))
	ch <- prometheus.MustNewConstMetric(c.applied, prometheus.CounterValue, float64(st.Applied))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(st.Failed))
	ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(st.Reloads))
	held := 0.0
	if c.a.cluster.Lease.Held() {
		held = 1
	}
	ch <- prometheus.MustNewConstMetric(c.leaseOn, prometheus.GaugeValue, held)
	relay := 0.0
	if c.a.cluster.RelayLease.Held() {
		relay = 1
	}
	ch <- prometheus.MustNewConstMetric(c.relayOn, prometheus.GaugeValue, relay)
	if in := c.a.cluster.Ingest; in != nil {
		s := in.Stats()
		ch <- prometheus.MustNewConstMetric(c.ingested, prometheus.CounterValue, float64(s.Messages-s.Dead), "stored")
		ch <- prometheus.MustNewConstMetric(c.ingested, prometheus.CounterValue, float64(s.Dead), "dead_letter")
		ch <- prometheus.MustNewConstMetric(c.ingested, prometheus.CounterValue, float64(s.Retried), "retried")
		ch <- prometheus.MustNewConstMetric(c.ingestEvents, prometheus.CounterValue, float64(s.Events))
	}
}

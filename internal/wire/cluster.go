package wire

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/bus/ingest"
	"github.com/aisle-dev/aisle/bus/lease"
	"github.com/aisle-dev/aisle/bus/natsbus"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/engine"
)

// Cluster is what makes a server one replica among several: the change
// feed, the lease on background work, stream ingestion, and the relay of
// the store's outbox. Without cfg.Bus it is the single-server default:
// an in-process feed, a lease that is always held, no ingestion.
type Cluster struct {
	ReplicaID string
	Bus       bus.Bus
	// Lease guards training, the search ranker and retention; RelayLease
	// the outbox relay (one relay at a time keeps the feed in outbox order).
	Lease, RelayLease lease.Lease
	// Outbox is the store's outbox when it has one (nil: the store's
	// changes reach only this replica's listeners, as in the default).
	Outbox bus.OutboxSource
	Ingest *ingest.Consumer // nil when ingestion is off

	nc *nats.Conn
}

// OpenCluster connects to cfg.Bus (when set) and builds the parts. st is
// the engine's store, used as the outbox when it is a bus.OutboxSource.
func OpenCluster(ctx context.Context, cfg config.Config, eng *engine.Engine, log *slog.Logger) (*Cluster, error) {
	cc := cfg.Cluster
	id := cc.ReplicaID
	if id == "" {
		host, _ := os.Hostname()
		id = host + "-" + strconv.Itoa(os.Getpid())
	}
	c := &Cluster{ReplicaID: id}
	if src, ok := eng.Store().(bus.OutboxSource); ok {
		c.Outbox = src
	} else {
		c.Outbox = outboxOf(eng.Store())
	}
	if cfg.Bus == "" {
		c.Bus = &bus.Memory{Keep: 100000}
		c.Lease, c.RelayLease = lease.Local{}, lease.Local{}
		return c, nil
	}
	nc, err := natsbus.Connect(cfg.Bus, "aisle "+id, log)
	if err != nil {
		return nil, err
	}
	c.nc = nc
	fail := func(err error) (*Cluster, error) {
		nc.Close()
		return nil, err
	}
	if c.Bus, err = natsbus.New(ctx, nc, natsbus.Options{Stream: cc.Stream, Subject: cc.Subject, MaxAge: cc.KeepChanges}); err != nil {
		return fail(err)
	}
	if c.Lease, err = lease.NewKV(ctx, nc, cc.LeaseBucket, "background", id, cc.LeaseTTL); err != nil {
		return fail(err)
	}
	// The relay's lease has its own bucket, with a short TTL: while it is
	// unheld nothing leaves the outbox, and a bucket's TTL is all its keys'.
	if c.RelayLease, err = lease.NewKV(ctx, nc, RelayLeaseBucket(cc), "relay", id, cc.RelayLeaseTTL); err != nil {
		return fail(err)
	}
	if cc.IngestSubject != "-" {
		c.Ingest, err = ingest.New(ctx, nc, eng, ingest.Options{Stream: cc.IngestStream, Subject: cc.IngestSubject, DeadSubject: cc.DeadSubject}, log)
		if err != nil {
			return fail(fmt.Errorf("stream ingestion on %s: %w", cc.IngestSubject, err))
		}
	}
	log.Info("cluster replica", "replica", id, "bus", cfg.Bus, "ingest", cc.IngestSubject, "outbox", c.Outbox != nil)
	return c, nil
}

// RelayLeaseBucket is the KV bucket of the outbox relay's lease:
// cluster.relay_lease_bucket, else cluster.lease_bucket + "_relay".
func RelayLeaseBucket(cc config.Cluster) string {
	if cc.RelayLeaseBucket != "" {
		return cc.RelayLeaseBucket
	}
	return cc.LeaseBucket + "_relay"
}

// Close closes the connection to NATS (after the work using it stopped).
func (c *Cluster) Close() {
	if c != nil && c.nc != nil {
		c.nc.Close()
	}
}

package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/bus/ingest"
	"github.com/aisle-dev/aisle/bus/lease"
	"github.com/aisle-dev/aisle/bus/natsbus"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/recommend"
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

	nc      *nats.Conn
	control string // prefix of the control subjects: aisle.control.<stream>.<shop>
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
	shop := cfg.Shop
	if shop == "" {
		shop = "default"
	}
	// shop ids are [a-z0-9-]: valid subject tokens
	c.nc, c.control = nc, "aisle.control."+cc.Stream+"."+shop
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

// ErrNoTrainer is ForwardRetrain's error when no replica takes retrain
// requests at this moment (the lease holder just died, or is starting).
var ErrNoTrainer = errors.New("no replica holds the training lease at this moment")

// retrainAnswer is the reply to a forwarded retrain request.
type retrainAnswer struct {
	Replica string `json:"replica"`
	Busy    bool   `json:"busy,omitempty"`
	Error   string `json:"error,omitempty"`
}

// retrainSubject is the core NATS subject on which the holder of the
// background lease takes the shop's retrain requests from the other
// replicas (not a subject of any stream, so requests are not stored).
func (c *Cluster) retrainSubject() string { return c.control + ".retrain" }

// ServeRetrain takes the retrain requests other replicas forward, until
// ctx ends: run it under the background lease, so that only the replica
// that trains answers. start begins a run and returns at once (an error
// wrapping recommend.ErrBusy when one is going on). Without a bus it just
// waits for ctx.
func (c *Cluster) ServeRetrain(ctx context.Context, start func() error, log *slog.Logger) {
	if c.nc == nil {
		<-ctx.Done()
		return
	}
	sub, err := c.nc.Subscribe(c.retrainSubject(), func(m *nats.Msg) {
		ans := retrainAnswer{Replica: c.ReplicaID}
		if err := start(); err != nil {
			ans.Busy = errors.Is(err, recommend.ErrBusy)
			ans.Error = err.Error()
		}
		b, _ := json.Marshal(ans)
		if err := m.Respond(b); err != nil {
			log.Warn("answering a forwarded retrain request failed", "err", err)
		}
	})
	if err != nil {
		log.Error("cannot take retrain requests from other replicas: they answer 409", "err", err)
		<-ctx.Done()
		return
	}
	<-ctx.Done()
	sub.Unsubscribe()
}

// ForwardRetrain asks the replica holding the background lease to start
// a training run, when that is not this replica: forwarded is false when
// this replica holds the lease (or there is no cluster: train here), else
// replica names the one that started the run. The error wraps
// recommend.ErrBusy when that replica is already training, and is
// ErrNoTrainer (naming the last known holder) when no replica answers.
func (c *Cluster) ForwardRetrain(ctx context.Context) (forwarded bool, replica string, err error) {
	if c.nc == nil || c.Lease.Held() {
		return false, "", nil
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := c.nc.RequestWithContext(rctx, c.retrainSubject(), nil)
	if err != nil {
		holder := ""
		if h, ok := c.Lease.(interface {
			Holder(context.Context) (string, error)
		}); ok {
			holder, _ = h.Holder(ctx)
		}
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			if holder != "" {
				return true, holder, fmt.Errorf("%w: replica %s held it last and does not answer (it may have just stopped; another replica takes the lease within the lease TTL): retry then", ErrNoTrainer, holder)
			}
			return true, "", fmt.Errorf("%w (one takes it within the lease TTL): retry then", ErrNoTrainer)
		}
		return true, holder, fmt.Errorf("forward the retrain request to the training replica %s: %w", holder, err)
	}
	var ans retrainAnswer
	if err := json.Unmarshal(m.Data, &ans); err != nil {
		return true, "", fmt.Errorf("the training replica's answer to a retrain request: %w", err)
	}
	switch {
	case ans.Busy:
		return true, ans.Replica, fmt.Errorf("%w on replica %s, which holds the training lease", recommend.ErrBusy, ans.Replica)
	case ans.Error != "":
		return true, ans.Replica, fmt.Errorf("replica %s, which holds the training lease, could not start a run: %s", ans.Replica, ans.Error)
	}
	return true, ans.Replica, nil
}

// Package natsbus is the change feed (bus.Bus) on NATS JetStream: one
// stream, written with the outbox id as Nats-Msg-Id (so a republish within
// the stream's duplicate window is stored once) and read with ordered
// consumers from a stream position. It works with nats-server 2.9 (one
// filter subject per consumer).
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aisle-dev/aisle/bus"
)

// Connect opens a connection to the NATS server at url (nats://host:4222,
// several separated by commas) that reconnects forever; name shows in the
// server's connection list.
func Connect(url, name string, log *slog.Logger) (*nats.Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(500*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("reconnected to NATS", "url", c.ConnectedUrl()) }))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w (is nats-server running with -js, and is the URL right? set bus / AISLE_BUS / --bus)", url, err)
	}
	return nc, nil
}

// Options configure a Bus.
type Options struct {
	// Stream is the JetStream stream name (default AISLE_CHANGES).
	Stream string
	// Subject is the subject prefix (default aisle.changes): a change of
	// kind k is published on <Subject>.<k>.
	Subject string
	// MaxAge is how long the stream keeps changes (default 24h); a replica
	// down longer reloads from the store.
	MaxAge time.Duration
	// Duplicates is the de-duplication window (default 2m).
	Duplicates time.Duration
	// Replicas of the stream in a NATS cluster (default 1).
	Replicas int
}

// Bus is a bus.Bus on a JetStream stream.
type Bus struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	subject string
}

// New creates the stream if needed (or updates its limits) and returns a
// Bus on it.
func New(ctx context.Context, nc *nats.Conn, o Options) (*Bus, error) {
	if o.Stream == "" {
		o.Stream = "AISLE_CHANGES"
	}
	if o.Subject == "" {
		o.Subject = "aisle.changes"
	}
	if o.MaxAge == 0 {
		o.MaxAge = 24 * time.Hour
	}
	if o.Duplicates == 0 {
		o.Duplicates = 2 * time.Minute
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("natsbus: %w", err)
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: o.Stream, Subjects: []string{o.Subject + ".>"}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, MaxAge: o.MaxAge, Duplicates: o.Duplicates, Replicas: o.Replicas,
		Description: "Aisle change feed: every committed change, in commit order",
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: create stream %s: %w (does the server run with JetStream, nats-server -js?)", o.Stream, err)
	}
	return &Bus{js: js, stream: st, subject: o.Subject}, nil
}

// Headers of a change message.
const (
	hdrKind = "Aisle-Kind"
	hdrShop = "Aisle-Shop"
	hdrAt   = "Aisle-At"
	hdrID   = "Aisle-Id"
)

// Publish implements bus.Bus: every message is sent asynchronously, then
// Publish waits for all acknowledgements.
func (b *Bus) Publish(ctx context.Context, msgs ...bus.Message) error {
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		nm := nats.NewMsg(b.subject + "." + m.Kind)
		nm.Data = m.Payload
		nm.Header.Set(hdrKind, m.Kind)
		nm.Header.Set(hdrShop, m.Shop)
		if !m.At.IsZero() {
			nm.Header.Set(hdrAt, m.At.UTC().Format(time.RFC3339Nano))
		}
		var opts []jetstream.PublishOpt
		if m.ID != 0 {
			id := strconv.FormatInt(m.ID, 10)
			nm.Header.Set(hdrID, id)
			opts = append(opts, jetstream.WithMsgID(m.Shop+"/"+id))
		}
		f, err := b.js.PublishMsgAsync(nm, opts...)
		if err != nil {
			return fmt.Errorf("natsbus: publish %s %d: %w", m.Kind, m.ID, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("natsbus: publish %s %d: %w", msgs[i].Kind, msgs[i].ID, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Bounds implements bus.Bus.
func (b *Bus) Bounds(ctx context.Context) (uint64, uint64, error) {
	info, err := b.stream.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("natsbus: stream info: %w", err)
	}
	s := info.State
	if s.Msgs == 0 {
		return s.LastSeq + 1, s.LastSeq, nil
	}
	return s.FirstSeq, s.LastSeq, nil
}

// Subscribe implements bus.Bus with an ordered consumer from position
// from. A jump in positions (changes removed by the stream's limits while
// this replica was behind) ends it with bus.ErrTrimmed.
func (b *Bus) Subscribe(ctx context.Context, from uint64, fn func(bus.Delivery) error) error {
	if from == 0 {
		from = 1
	}
	first, last, err := b.Bounds(ctx)
	if err != nil {
		return err
	}
	if from < first && from <= last {
		return bus.ErrTrimmed
	}
	cons, err := b.js.OrderedConsumer(ctx, b.stream.CachedInfo().Config.Name, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return fmt.Errorf("natsbus: consumer from %d: %w", from, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(512))
	if err != nil {
		return fmt.Errorf("natsbus: consume: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	next := from
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("natsbus: next change: %w", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("natsbus: change metadata: %w", err)
		}
		seq := meta.Sequence.Stream
		if seq < next {
			continue // redelivered after a consumer reset
		}
		if seq > next {
			return bus.ErrTrimmed
		}
		if err := fn(bus.Delivery{Message: b.decode(msg), Seq: seq}); err != nil {
			return err
		}
		next = seq + 1
	}
}

func (b *Bus) decode(msg jetstream.Msg) bus.Message {
	h := msg.Headers()
	m := bus.Message{Kind: h.Get(hdrKind), Shop: h.Get(hdrShop), Payload: msg.Data()}
	if m.Kind == "" {
		m.Kind = strings.TrimPrefix(msg.Subject(), b.subject+".")
	}
	m.ID, _ = strconv.ParseInt(h.Get(hdrID), 10, 64)
	m.At, _ = time.Parse(time.RFC3339Nano, h.Get(hdrAt))
	return m
}

// Delete removes the stream (tests, and `aisle` tooling that resets a cluster).
func (b *Bus) Delete(ctx context.Context) error {
	return b.js.DeleteStream(ctx, b.stream.CachedInfo().Config.Name)
}

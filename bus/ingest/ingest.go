// Package ingest takes behaviour events from a JetStream subject — the
// path for a shop's own systems that already stream what shoppers do.
// A message is a JSON event or an array of them, in the REST format of
// POST /api/events. Each message is validated exactly like a REST batch
// (all or nothing), stored, and only then acknowledged; a message that
// cannot be stored as it is (bad JSON, an invalid event) is published to
// a dead-letter subject with the reason and acknowledged, so it never
// blocks the ones after it. The consumer is durable: after a restart it
// resumes at the first unacknowledged message, and a message stored but
// not acknowledged before a crash is stored once (its stream position is
// its idempotency key, whatever messages it was stored with).
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
)

// Sink validates and stores batches of events, each once per key, in one
// request, returning each batch's outcome (*engine.Engine).
type Sink interface {
	AddEventsOnceBatch(ctx context.Context, batches []engine.KeyedBatch) []error
}

// Options configure a Consumer.
type Options struct {
	Stream      string // default AISLE_INGEST; holds Subject and DeadSubject
	Subject     string // default aisle.ingest.events
	DeadSubject string // default aisle.ingest.dead
	Durable     string // consumer name, shared by every replica (default aisle-ingest)
	// MaxAge is how long the stream keeps messages, acknowledged or not,
	// and dead letters (default 7 days).
	MaxAge time.Duration
	// Batch is the most messages pulled and stored together (default
	// 256; 1 stores each message alone). Each message is stored under its
	// own key, the messages of a batch in one request of the Sink
	// (validated together, one durable commit on the stores that take
	// several keys at once).
	Batch int
	// InFlight is how many batches may be between being read and being
	// acknowledged at once (default 4; 1 stores one batch at a time). A
	// batch is acknowledged only after its own commit; batches in flight
	// together may commit in any order (the store groups them into one
	// transaction when they wait together).
	InFlight int
}

func (o *Options) defaults() {
	if o.Stream == "" {
		o.Stream = "AISLE_INGEST"
	}
	if o.Subject == "" {
		o.Subject = "aisle.ingest.events"
	}
	if o.DeadSubject == "" {
		o.DeadSubject = "aisle.ingest.dead"
	}
	if o.Durable == "" {
		o.Durable = "aisle-ingest"
	}
	if o.MaxAge == 0 {
		o.MaxAge = 7 * 24 * time.Hour
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.InFlight <= 0 {
		o.InFlight = 4
	}
}

// Consumer reads the ingest subject into a Sink. Several replicas may run
// one on the same durable consumer: each message goes to one of them.
type Consumer struct {
	js   jetstream.JetStream
	cons jetstream.Consumer
	sink Sink
	o    Options
	log  *slog.Logger

	messages, stored, dead, retried atomic.Int64
}

// Stats count what a Consumer did.
type Stats struct {
	Messages int64 `json:"messages"`     // acknowledged
	Events   int64 `json:"events"`       // stored
	Dead     int64 `json:"dead_letters"` // sent to the dead-letter subject
	Retried  int64 `json:"retried"`      // not stored for a passing reason (store unreachable), redelivered
}

// Stats returns the counters.
func (c *Consumer) Stats() Stats {
	return Stats{Messages: c.messages.Load(), Events: c.stored.Load(), Dead: c.dead.Load(), Retried: c.retried.Load()}
}

// New creates the stream and the durable consumer if needed.
func New(ctx context.Context, nc *nats.Conn, sink Sink, o Options, log *slog.Logger) (*Consumer, error) {
	o.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Subject == o.DeadSubject {
		return nil, fmt.Errorf("ingest: the subject and the dead-letter subject are both %q: give them different names", o.Subject)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: o.Stream, Subjects: []string{o.Subject, o.DeadSubject}, Storage: jetstream.FileStorage,
		MaxAge: o.MaxAge, Duplicates: 2 * time.Minute,
		Description: "Aisle stream ingestion: events to store, and dead letters",
	}); err != nil {
		return nil, fmt.Errorf("ingest: create stream %s for %s: %w (does the server run with JetStream, nats-server -js?)", o.Stream, o.Subject, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, o.Stream, jetstream.ConsumerConfig{
		Durable: o.Durable, FilterSubject: o.Subject, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 30 * time.Second, MaxAckPending: 1024, DeliverPolicy: jetstream.DeliverAllPolicy,
		Description: "Aisle replicas storing ingested events",
	})
	if err != nil {
		return nil, fmt.Errorf("ingest: create consumer %s: %w", o.Durable, err)
	}
	return &Consumer{js: js, cons: cons, sink: sink, o: o, log: log}, nil
}

// Run consumes until ctx ends.
func (c *Consumer) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		err := c.run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		c.log.Warn("stream ingestion stopped; restarting", "subject", c.o.Subject, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (c *Consumer) run(ctx context.Context) error {
	ch := make(chan jetstream.Msg, c.o.Batch)
	errc := make(chan error, 1)
	rctx, stopReading := context.WithCancel(ctx)
	var reading sync.WaitGroup
	reading.Go(func() {
		defer close(ch)
		if err := c.read(rctx, ch); err != nil {
			errc <- err
		}
	})
	// Batches being stored (active): each is acknowledged after its own
	// commit while the next ones are read and stored. While one is being
	// stored, the next gathers messages until it is full or one in flight
	// ends, so small messages still make large batches (a batch sent the
	// moment a slot frees would carry the few messages that arrived since).
	finished := make(chan struct{}, c.o.InFlight)
	active := 0
	var inflight sync.WaitGroup
	defer func() {
		stopReading()
		for msg := range ch { // read, not stored: redelivered at once
			_ = msg.Nak()
		}
		reading.Wait()
		inflight.Wait()
	}()
	for {
		for active >= c.o.InFlight {
			select {
			case <-ctx.Done():
				return nil
			case <-finished:
				active--
			}
		}
		var msgs []jetstream.Msg
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case <-finished:
			active--
			continue
		case msg, ok := <-ch:
			if !ok {
				return nil
			}
			msgs = append(msgs, msg)
		}
		size := len(msgs[0].Data())
		// next takes one more message: without waiting when nothing is
		// being stored, else until one in flight ends
		next := func() bool {
			var msg jetstream.Msg
			ok := false
			if active == 0 {
				select {
				case msg, ok = <-ch:
				default:
				}
			} else {
				select {
				case msg, ok = <-ch:
				case <-finished:
					active--
				case <-ctx.Done():
				}
			}
			if ok {
				msgs = append(msgs, msg)
				size += len(msg.Data())
			}
			return ok
		}
		for len(msgs) < c.o.Batch && size < maxBatchBytes && next() {
		}
		active++
		inflight.Go(func() {
			defer func() { finished <- struct{}{} }()
			c.handle(ctx, msgs)
		})
	}
}

// read sends the consumer's messages to ch until ctx ends, with one pull
// request at a time: each asks for a batch and hands its messages on as
// they arrive, and the next is sent when it ends. A request ends when its
// batch is delivered, when the server lets it expire (30 s), when its
// heartbeats stop (10 s: the server lost it), or when ctx ends (it is
// withdrawn at once, so a stopped replica takes no messages it cannot
// store). Nothing is left to a background refill: jetstream's Messages
// iterator skips one while its previous request is being sent, with
// nothing to retry it, and can sit with no request at the server until
// its missed-heartbeat check, 30 s (decision 0046).
func (c *Consumer) read(ctx context.Context, ch chan<- jetstream.Msg) error {
	for ctx.Err() == nil {
		b, err := c.cons.Fetch(c.o.Batch, jetstream.FetchContext(ctx))
		if err != nil {
			return fmt.Errorf("pull messages: %w", err)
		}
		for msg := range b.Messages() {
			if ctx.Err() != nil {
				_ = msg.Nak() // read, not stored: redelivered at once
				continue
			}
			select {
			case ch <- msg:
			case <-ctx.Done():
				_ = msg.Nak()
			}
		}
		if err := b.Error(); err != nil && ctx.Err() == nil {
			return fmt.Errorf("pull messages: %w", err)
		}
	}
	return nil
}

// maxBatchBytes bounds the messages stored in one transaction (about
// 4,000 events of the REST format).
const maxBatchBytes = 256 << 10

// Parse reads a message: a JSON event or an array of them, in the REST
// format. A message that is not that is a *catalog.BatchError saying why
// (no retry can store it).
func Parse(data []byte) ([]events.Event, *catalog.BatchError) {
	evs, err := events.DecodeBatch(data)
	if err == nil {
		return evs, nil
	}
	var bad *catalog.BatchError
	if !errors.As(err, &bad) {
		bad = &catalog.BatchError{What: "events", Problems: []catalog.Problem{{Problem: err.Error()}}}
	}
	return nil, bad
}

// MessageKey is the idempotency key a message is stored under: its
// position in the stream. Each message has its own, whichever messages
// it was read with, so a redelivery stores none of it again however the
// consumer groups the messages the second time.
func MessageKey(stream string, seq uint64) string {
	return "ingest-" + stream + "-" + strconv.FormatUint(seq, 10)
}

// ackWorkers bounds the messages of one batch being acknowledged at once.
const ackWorkers = 32

// handle stores a batch of messages and acknowledges each after the
// commit that stored it: each message under its own key (MessageKey), all
// of the batch's in one request of the sink, so a message is stored once
// whichever messages it is read with. An invalid message is
// dead-lettered alone; a passing failure (the store is down) leaves the
// message for redelivery. Neither holds up the others.
func (c *Consumer) handle(ctx context.Context, msgs []jetstream.Msg) {
	var good []jetstream.Msg
	var seqs []uint64
	var batches []engine.KeyedBatch
	for _, msg := range msgs {
		meta, err := msg.Metadata()
		if err != nil {
			c.log.Error("ingest: message without metadata; left for redelivery", "err", err)
			continue
		}
		seq := meta.Sequence.Stream
		evs, bad := Parse(msg.Data())
		if bad != nil {
			c.reject(ctx, msg, seq, bad)
			continue
		}
		good, seqs = append(good, msg), append(seqs, seq)
		batches = append(batches, engine.KeyedBatch{Key: MessageKey(c.o.Stream, seq), Body: msg.Data(), Events: evs})
	}
	if len(batches) == 0 {
		return
	}
	errs := c.sink.AddEventsOnceBatch(ctx, batches)
	sem := make(chan struct{}, ackWorkers)
	var wg sync.WaitGroup
	for i, msg := range good {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.settle(ctx, msg, seqs[i], len(batches[i].Events), errs[i])
		})
	}
	wg.Wait()
}

// settle acknowledges a stored message, or dead-letters it (err is a
// *catalog.BatchError), or leaves it for redelivery.
func (c *Consumer) settle(ctx context.Context, msg jetstream.Msg, seq uint64, n int, err error) {
	var bad *catalog.BatchError
	switch {
	case err == nil:
		if aerr := msg.DoubleAck(ctx); aerr != nil {
			c.log.Warn("ingest: acknowledging a stored message failed; when redelivered its key answers", "seq", seq, "err", aerr)
			return
		}
		c.messages.Add(1)
		c.stored.Add(int64(n))
	case errors.As(err, &bad):
		c.reject(ctx, msg, seq, bad)
	default:
		c.retry(ctx, msg, seq, err)
	}
}

// reject dead-letters a message and acknowledges it.
func (c *Consumer) reject(ctx context.Context, msg jetstream.Msg, seq uint64, bad *catalog.BatchError) {
	if err := c.deadLetter(ctx, msg, seq, bad); err != nil {
		c.retry(ctx, msg, seq, fmt.Errorf("dead-letter it: %w", err))
		return
	}
	if err := msg.DoubleAck(ctx); err != nil {
		c.log.Warn("ingest: acknowledging a dead-lettered message failed", "seq", seq, "err", err)
		return
	}
	c.messages.Add(1)
	c.dead.Add(1)
}

// retry leaves a message for redelivery after a pause.
func (c *Consumer) retry(ctx context.Context, msg jetstream.Msg, seq uint64, err error) {
	if ctx.Err() != nil {
		return // shutting down: redelivered to whoever runs next
	}
	c.log.Error("ingest: storing events failed; the message is redelivered", "seq", seq, "err", err)
	_ = msg.NakWithDelay(time.Second)
	c.retried.Add(1)
}

// DeadLetter is the JSON body of a dead-lettered message.
type DeadLetter struct {
	Reason   string            `json:"reason"`
	Problems []catalog.Problem `json:"problems,omitempty"`
	Subject  string            `json:"subject"`
	Seq      uint64            `json:"stream_seq"`
	At       time.Time         `json:"dead_at"`
	// Message is the original message (as a string: it may not be JSON).
	Message string `json:"message"`
}

// Headers of a dead letter (besides its JSON body).
const (
	HeaderReason = "Aisle-Dead-Reason"
	HeaderSeq    = "Aisle-Dead-Seq"
)

func (c *Consumer) deadLetter(ctx context.Context, msg jetstream.Msg, seq uint64, bad *catalog.BatchError) error {
	nm, err := DeadLetterMsg(c.o.DeadSubject, msg.Subject(), seq, msg.Data(), bad, time.Now())
	if err != nil {
		return err
	}
	// a redelivery of the same message is dead-lettered once
	_, err = c.js.PublishMsg(ctx, nm, jetstream.WithMsgID("dead-"+c.o.Stream+"-"+strconv.FormatUint(seq, 10)))
	return err
}

// maxReasonHeader bounds the reason header (the body has it whole).
const maxReasonHeader = 1024

// DeadLetterMsg builds the dead letter of the message data (from subject,
// at stream position seq), refused for bad.
func DeadLetterMsg(deadSubject, subject string, seq uint64, data []byte, bad *catalog.BatchError, at time.Time) (*nats.Msg, error) {
	d := DeadLetter{Reason: bad.Error(), Problems: bad.Problems, Subject: subject, Seq: seq, At: at.UTC(), Message: string(data)}
	body, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode the dead letter: %w", err)
	}
	nm := nats.NewMsg(deadSubject)
	nm.Data = body
	reason := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, d.Reason)
	if len(reason) > maxReasonHeader {
		cut := maxReasonHeader
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	nm.Header.Set(HeaderReason, reason)
	nm.Header.Set(HeaderSeq, strconv.FormatUint(seq, 10))
	return nm, nil
}

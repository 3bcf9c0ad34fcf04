package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// KV is a lease kept as one key in a JetStream key-value bucket whose TTL
// is the lease's: the holder rewrites the key (compare-and-set on its
// revision) to renew it; when the holder stops, the key expires after the
// TTL and the next Acquire by another owner creates it. With Run renewing
// every TTL/3, a dead holder's work moves within TTL + TTL/3.
type KV struct {
	kv    jetstream.KeyValue
	key   string
	owner string
	ttl   time.Duration

	mu    sync.Mutex
	rev   uint64
	until time.Time // held until then unless renewed
}

// NewKV opens (creating it if needed) the bucket and returns the lease
// key for owner (a replica id, unique per process). ttl must be ≥ 1s.
func NewKV(ctx context.Context, nc *nats.Conn, bucket, key, owner string, ttl time.Duration) (*KV, error) {
	if ttl < time.Second {
		return nil, fmt.Errorf("lease: ttl %s is too short: use 1s or more (15s is a good default)", ttl)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, TTL: ttl, History: 1,
		Description: "Aisle leases: which replica runs background work"})
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("lease: open bucket %s: %w (does the server run with JetStream?)", bucket, err)
	}
	if kv.Bucket() == "" {
		return nil, fmt.Errorf("lease: bucket %s has no name", bucket)
	}
	return &KV{kv: kv, key: key, owner: owner, ttl: ttl}, nil
}

// Acquire implements Lease.
func (l *KV) Acquire(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := time.Now()
	if l.rev != 0 {
		rev, err := l.kv.Update(ctx, l.key, []byte(l.owner), l.rev)
		if err == nil {
			l.rev, l.until = rev, start.Add(l.ttl)
			return true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyNotFound) && !errors.Is(err, jetstream.ErrKeyDeleted) {
			return time.Now().Before(l.until), fmt.Errorf("lease %s: renew: %w", l.key, err)
		}
		l.rev, l.until = 0, time.Time{} // expired and maybe taken: try afresh
	}
	rev, err := l.kv.Create(ctx, l.key, []byte(l.owner))
	if err == nil {
		l.rev, l.until = rev, start.Add(l.ttl)
		return true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return false, fmt.Errorf("lease %s: acquire: %w", l.key, err)
	}
	e, err := l.kv.Get(ctx, l.key)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return false, nil // expired just now: the next try creates it
		}
		return false, fmt.Errorf("lease %s: read holder: %w", l.key, err)
	}
	if string(e.Value()) == l.owner { // ours, from before a lost renewal
		if rev, err := l.kv.Update(ctx, l.key, []byte(l.owner), e.Revision()); err == nil {
			l.rev, l.until = rev, start.Add(l.ttl)
			return true, nil
		}
	}
	return false, nil
}

// Held implements Lease.
func (l *KV) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev != 0 && time.Now().Before(l.until)
}

// Holder returns the owner holding the lease ("" when none).
func (l *KV) Holder(ctx context.Context) (string, error) {
	e, err := l.kv.Get(ctx, l.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(e.Value()), nil
}

// Release implements Lease.
func (l *KV) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rev == 0 {
		return nil
	}
	err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
	l.rev, l.until = 0, time.Time{}
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("lease %s: release: %w", l.key, err)
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/recommend"
)

// privacyOptions turns the config's retention and compaction settings
// into the engine's, refusing retention for event types it does not
// accept.
func privacyOptions(cfg config.Config, types *events.Types) (engine.PrivacyOptions, error) {
	opts := engine.PrivacyOptions{CompactAfter: cfg.Privacy.CompactAfter, RetentionEvery: cfg.Privacy.RetentionEvery}
	names := make([]string, 0, len(cfg.Events.Retention))
	for t := range cfg.Events.Retention {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		if !types.Has(events.Type(t)) {
			return opts, fmt.Errorf("config: events.retention: unknown event type %q (add it to events.custom_types or fix the name)", t)
		}
		if opts.Retention == nil {
			opts.Retention = map[events.Type]time.Duration{}
		}
		opts.Retention[events.Type(t)] = cfg.Events.Retention[t]
	}
	return opts, nil
}

// consentFilter is the training filter of aisle train: the events of
// users whose attribute personalization is false train nothing (the
// server's retraining applies the same rule).
func consentFilter(ctx context.Context, eng *engine.Engine) (func(string) bool, error) {
	out, err := recommend.OptedOutUsers(ctx, eng.Store())
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	return func(u string) bool { return out[u] }, nil
}

package main

import (
	"fmt"
	"sort"
	"time"

	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
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

package main

import (
	"context"

	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/recommend"
)

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

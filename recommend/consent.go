package recommend

import (
	"context"
	"fmt"
	"strings"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/store"
)

// ConsentAttribute is the user attribute that, set to false, withholds
// consent to personalisation: the user then gets only non-personalised
// answers (popular, trending), their events train no model and add
// nothing to the bought-together counts others see.
const ConsentAttribute = "personalization"

// OptedOut reports whether user record u withheld consent: its attribute
// personalization is false (the JSON boolean, or the string "false" or
// "no", as a CSV import gives it).
func OptedOut(u catalog.User) bool {
	v, ok := u.Attributes[ConsentAttribute]
	if !ok {
		return false
	}
	switch x := v.(type) {
	case bool:
		return !x
	case string:
		x = strings.ToLower(strings.TrimSpace(x))
		return x == "false" || x == "no" || x == "0"
	case float64:
		return x == 0
	}
	return false
}

// OptedOutUsers pages through the stored users and returns those who
// withheld consent (see OptedOut), for training filters.
func OptedOutUsers(ctx context.Context, st store.Users) (map[string]bool, error) {
	out := map[string]bool{}
	cursor := ""
	for {
		page, next, err := st.ListUsers(ctx, cursor, 10000)
		if err != nil {
			return nil, fmt.Errorf("read users for consent: %w", err)
		}
		for _, u := range page {
			if OptedOut(u) {
				out[u.ID] = true
			}
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

var _ engine.UsersListener = (*Service)(nil)

// UsersUpserted implements engine.UsersListener: a user who withdraws
// consent is served without personalisation at once and their earlier
// purchases leave the bought-together counts; one who gives it back is
// personalised again (their past purchases count again after a restart).
func (s *Service) UsersUpserted(users []catalog.User) {
	withdrawn := false
	defer func() {
		if withdrawn && s.rel.cur.Load() != nil {
			// the item relations leave the user's events out from now on
			s.rel.mu.Lock()
			defer s.rel.mu.Unlock()
			if _, _, err := s.buildRelated(context.Background()); err != nil {
				s.log.Error("item relations: rebuilding without a user who withdrew consent failed", "error", err)
			}
		}
	}()
	for _, u := range users {
		out := OptedOut(u)
		s.priv.mu.Lock()
		was := s.priv.optedOut[u.ID]
		if out {
			if s.priv.optedOut == nil {
				s.priv.optedOut = map[string]bool{}
			}
			s.priv.optedOut[u.ID] = true
		} else {
			delete(s.priv.optedOut, u.ID)
		}
		s.priv.mu.Unlock()
		if out && !was {
			withdrawn = true
			s.ledger.mu.Lock()
			if uid, ok := s.ledger.uids[u.ID]; ok {
				s.ledger.dropBaskets(uid)
			}
			s.ledger.mu.Unlock()
			s.dropSnapshot("a user withdrew consent")
		}
	}
}

// ConsentFingerprint identifies the users who withdrew consent (a hash of
// the set), for the snapshots of other parts that leave them out (the
// search click model).
func (s *Service) ConsentFingerprint() uint64 { return s.consentHash() }

// Personalized reports whether user consented to personalisation (true
// for unknown users and anonymous requests).
func (s *Service) Personalized(user string) bool {
	s.priv.mu.RLock()
	defer s.priv.mu.RUnlock()
	return !s.priv.optedOut[user]
}

// loadConsent reads which users withheld consent, before the event log is
// replayed.
func (s *Service) loadConsent(ctx context.Context) error {
	m, err := OptedOutUsers(ctx, s.st)
	if err != nil {
		return err
	}
	s.priv.mu.Lock()
	s.priv.optedOut = m
	s.priv.mu.Unlock()
	return nil
}

// excludeFromTraining is the training filter: events of users who
// withheld consent train nothing.
func (s *Service) excludeFromTraining(user string) bool { return !s.Personalized(user) }

package recommend

import "github.com/aisle-dev/aisle/events"

// Position bias in the popularity ledger (issue 15). An item shown first
// on a recommendation surface is clicked more than the same item shown
// tenth, whatever it is worth, so summing clicks as they come teaches
// popular and trending the serving ranker's order back. With a weight set,
// every event the ledger records (what popular and trending sum) is
// multiplied by the weight of its position: the clipped inverse of the
// examination propensity of the surface that showed it, which the
// experiment manager estimates from the impression log's explored answers
// (experiment.Manager.EventPositionWeight). Users' own histories (the
// model queries, the rows) keep the plain weights: a shopper's click says
// what they looked at, whatever the position.

// SetPositionWeight sets the weight of an event's position for the
// popularity ledger (nil: 1 for every event). Set it before Load so that
// replayed events are weighted too; events recorded before keep the
// weight they were recorded with.
func (s *Service) SetPositionWeight(w func(events.Event) float64) {
	if w == nil {
		s.posWeight.Store(nil)
		return
	}
	s.posWeight.Store(&w)
}

// positionWeight is the weight of e's position: 1 without a position or
// a weight function, or when the function gives no positive finite weight.
func (s *Service) positionWeight(e events.Event) float64 {
	if e.Position < 1 || e.RequestID == "" {
		return 1
	}
	w := s.posWeight.Load()
	if w == nil {
		return 1
	}
	if x := (*w)(e); x > 0 && x <= 1e6 {
		return x
	}
	return 1
}

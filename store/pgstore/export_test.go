package pgstore

// QueuedBatches is how many AppendEvents calls wait for a group commit.
func (s *Store) QueuedBatches() int {
	s.appender.mu.Lock()
	defer s.appender.mu.Unlock()
	return len(s.appender.queue)
}

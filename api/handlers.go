package api

import (
	_ "embed"
	"net/http"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

//go:embed openapi.json
var openapiDoc []byte

func (s *Server) health(r *http.Request) (any, error) { return Status{"ok"}, nil }

func (s *Server) readyz(r *http.Request) (any, error) {
	if !s.ready.Load() {
		return WithStatus(http.StatusServiceUnavailable, Status{"starting"}), nil
	}
	return Status{"ready"}, nil
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(openapiDoc)
}

func (s *Server) stats(r *http.Request) (any, error) {
	c, err := s.eng.Counts(r.Context())
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ingest decodes a batch and stores it whole, or nothing of it.
func ingest[T any](r *http.Request, kind string, decode func([]byte) (T, error), add func([]T) error) (int, error) {
	body, err := readBody(r)
	if err != nil {
		return 0, err
	}
	recs, err := catalog.DecodeBatch(kind, body, decode)
	if err == nil {
		err = add(recs)
	}
	if err != nil {
		return 0, err
	}
	return len(recs), nil
}

func (s *Server) postItems(r *http.Request) (any, error) {
	n, err := ingest(r, "items", catalog.DecodeItem, func(its []catalog.Item) error { return s.eng.AddItems(r.Context(), its) })
	if err != nil {
		return nil, err
	}
	return Accepted{n}, nil
}

func (s *Server) postUsers(r *http.Request) (any, error) {
	n, err := ingest(r, "users", catalog.DecodeUser, func(us []catalog.User) error { return s.eng.AddUsers(r.Context(), us) })
	if err != nil {
		return nil, err
	}
	return Accepted{n}, nil
}

// postEvents stores a batch of events. A batch sent with an
// Idempotency-Key header is stored once: a retry with the same key and
// body answers as the first time and stores nothing again; the same key
// with another body is refused.
func (s *Server) postEvents(r *http.Request) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	evs, err := events.DecodeBatch(body)
	if err == nil {
		err = s.eng.AddEventsOnce(r.Context(), r.Header.Get("Idempotency-Key"), body, evs)
	}
	if err != nil {
		return nil, err
	}
	return Accepted{len(evs)}, nil // counted by type at the engine (ingestCounter)
}

func (s *Server) getItem(r *http.Request) (any, error) {
	return s.eng.GetItem(r.Context(), r.PathValue("id"))
}

func (s *Server) patchItem(r *http.Request) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return s.eng.PatchItem(r.Context(), r.PathValue("id"), body)
}

func (s *Server) deleteItem(r *http.Request) (any, error) {
	if err := s.eng.DeleteItem(r.Context(), r.PathValue("id")); err != nil {
		return nil, err
	}
	return Deleted{r.PathValue("id")}, nil
}

func (s *Server) getUser(r *http.Request) (any, error) {
	return s.eng.GetUser(r.Context(), r.PathValue("id"))
}

func (s *Server) deleteUser(r *http.Request) (any, error) {
	if s.search != nil {
		// a search logged just before the deletion is written now, not
		// after it (which would bring the forgotten user back)
		s.search.log.flush(r.Context())
	}
	if err := s.eng.DeleteUser(r.Context(), r.PathValue("id")); err != nil {
		return nil, err
	}
	return Deleted{r.PathValue("id")}, nil
}

func (s *Server) userEvents(r *http.Request) (any, error) {
	limit, err := QueryInt(r.URL.Query(), "limit", 100, 1, 10000)
	if err != nil {
		return nil, err
	}
	evs, err := s.eng.UserEvents(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		return nil, err
	}
	if evs == nil {
		evs = []events.Event{}
	}
	return UserEvents{UserID: r.PathValue("id"), Events: evs}, nil
}

func (s *Server) listItems(r *http.Request) (any, error) {
	limit, err := QueryInt(r.URL.Query(), "limit", 100, 1, 1000)
	if err != nil {
		return nil, err
	}
	items, next, err := s.eng.ListItems(r.Context(), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []catalog.Item{}
	}
	return ItemPage{Items: items, NextCursor: next}, nil
}

func (s *Server) listUsers(r *http.Request) (any, error) {
	limit, err := QueryInt(r.URL.Query(), "limit", 100, 1, 1000)
	if err != nil {
		return nil, err
	}
	users, next, err := s.eng.ListUsers(r.Context(), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return nil, err
	}
	if users == nil {
		users = []catalog.User{}
	}
	return UserPage{Users: users, NextCursor: next}, nil
}

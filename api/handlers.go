package api

import (
	_ "embed"
	"errors"
	"net/http"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

//go:embed openapi.json
var openapiDoc []byte

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiDoc)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	c, err := s.eng.Counts(r.Context())
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, c)
}

type accepted struct {
	Accepted int `json:"accepted"`
}

func (s *Server) postItems(w http.ResponseWriter, r *http.Request) {
	body, ok := ReadBody(w, r)
	if !ok {
		return
	}
	items, err := catalog.DecodeBatch("items", body, catalog.DecodeItem)
	if err == nil {
		err = s.eng.AddItems(r.Context(), items)
	}
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, accepted{len(items)})
}

func (s *Server) postUsers(w http.ResponseWriter, r *http.Request) {
	body, ok := ReadBody(w, r)
	if !ok {
		return
	}
	users, err := catalog.DecodeBatch("users", body, catalog.DecodeUser)
	if err == nil {
		err = s.eng.AddUsers(r.Context(), users)
	}
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, accepted{len(users)})
}

func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) {
	body, ok := ReadBody(w, r)
	if !ok {
		return
	}
	evs, err := catalog.DecodeBatch("events", body, events.Decode)
	if err == nil {
		err = s.eng.AddEventsOnce(r.Context(), r.Header.Get("Idempotency-Key"), body, evs)
	}
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	for _, e := range evs {
		s.ingested.WithLabelValues(string(e.Type)).Inc()
	}
	WriteJSON(w, http.StatusOK, accepted{len(evs)})
}

func (s *Server) getItem(w http.ResponseWriter, r *http.Request) {
	it, err := s.eng.GetItem(r.Context(), r.PathValue("id"))
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, it)
}

func (s *Server) patchItem(w http.ResponseWriter, r *http.Request) {
	body, ok := ReadBody(w, r)
	if !ok {
		return
	}
	it, err := s.eng.PatchItem(r.Context(), r.PathValue("id"), body)
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, it)
}

func (s *Server) deleteItem(w http.ResponseWriter, r *http.Request) {
	if err := s.eng.DeleteItem(r.Context(), r.PathValue("id")); err != nil {
		WriteEngineError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("id")})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.eng.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, u)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	if err := s.eng.DeleteUser(r.Context(), r.PathValue("id")); err != nil {
		WriteEngineError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("id")})
}

func (s *Server) userEvents(w http.ResponseWriter, r *http.Request) {
	limit, ok := IntParam(w, r, "limit", 100, 1, 10000)
	if !ok {
		return
	}
	evs, err := s.eng.UserEvents(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		WriteEngineError(w, err)
		return
	}
	if evs == nil {
		evs = []events.Event{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"user_id": r.PathValue("id"), "events": evs})
}

func (s *Server) listItems(w http.ResponseWriter, r *http.Request) {
	limit, ok := IntParam(w, r, "limit", 100, 1, 1000)
	if !ok {
		return
	}
	items, next, err := s.eng.ListItems(r.Context(), r.URL.Query().Get("cursor"), limit)
	if writeListError(w, err) {
		return
	}
	if items == nil {
		items = []catalog.Item{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	limit, ok := IntParam(w, r, "limit", 100, 1, 1000)
	if !ok {
		return
	}
	users, next, err := s.eng.ListUsers(r.Context(), r.URL.Query().Get("cursor"), limit)
	if writeListError(w, err) {
		return
	}
	if users == nil {
		users = []catalog.User{}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"users": users, "next_cursor": next})
}

func writeListError(w http.ResponseWriter, err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, store.ErrBadCursor) {
		WriteError(w, http.StatusBadRequest, err.Error(), nil)
		return true
	}
	WriteEngineError(w, err)
	return true
}

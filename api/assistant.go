package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aisle-dev/aisle/assistant"
	"github.com/aisle-dev/aisle/impressions"
)

// AddAssistantRoutes registers POST /api/assistant: one message of a
// conversation with the shopping assistant, answered as one JSON object
// (Accept: application/json, the default) or as server-sent events
// (Accept: text/event-stream: "text" events as the reply is produced,
// then "products", then "done" with the whole answer). Its metrics join
// the server's registry.
func (s *Server) AddAssistantRoutes(a *assistant.Assistant) error {
	if err := a.Metrics().Register(s.registry); err != nil {
		return fmt.Errorf("api: assistant metrics: %w", err)
	}
	h := &assistantHandler{a: a, s: s}
	s.Handle(Route{"POST", "/api/assistant", Read, h.serve})
	return nil
}

type assistantHandler struct {
	a *assistant.Assistant
	s *Server
}

// AssistantRequest is the body of POST /api/assistant.
type AssistantRequest struct {
	Message        string `json:"message"`
	ConversationID string `json:"conversation_id,omitempty"`
	UserID         string `json:"user_id,omitempty"`
	SessionID      string `json:"session_id,omitempty"`
}

func (h *assistantHandler) read(r *http.Request) (assistant.Request, error) {
	var body AssistantRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return assistant.Request{}, err
		}
		return assistant.Request{}, BadRequest("the body must be a JSON object {\"message\": \"...\", \"conversation_id\": \"...\"}: %v", err)
	}
	if strings.TrimSpace(body.Message) == "" {
		return assistant.Request{}, BadRequest("message is empty: send {\"message\": \"what you are looking for\"}")
	}
	if len(body.Message) > assistant.MaxMessageBytes {
		return assistant.Request{}, BadRequest("message is %d bytes, longer than the %d allowed: shorten it", len(body.Message), assistant.MaxMessageBytes)
	}
	if len(body.ConversationID) > 100 || len(body.UserID) > 256 || len(body.SessionID) > 256 {
		return assistant.Request{}, BadRequest("conversation_id (100 bytes), user_id and session_id (256 bytes) are too long")
	}
	return assistant.Request{Message: body.Message, ConversationID: body.ConversationID, UserID: body.UserID, SessionID: body.SessionID}, nil
}

func (h *assistantHandler) serve(w http.ResponseWriter, r *http.Request) {
	req, err := h.read(r)
	if err != nil {
		h.s.Error(w, r, err)
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		h.s.JSON(func(r *http.Request) (any, error) {
			ans, err := h.a.Turn(r.Context(), req, nil)
			if errors.Is(err, assistant.ErrBadRequest) {
				return nil, BadRequest("%v", err)
			}
			if err == nil {
				h.s.AssistantShown(ans)
			}
			return ans, err
		})(w, r)
		return
	}
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			return
		}
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		if fl != nil {
			fl.Flush()
		}
	}
	ans, err := h.a.Turn(r.Context(), req, func(kind string, v any) {
		if kind == "text" {
			v = map[string]any{"text": v}
		}
		send(kind, v)
	})
	if err != nil {
		e := ErrorOf(err)
		if errors.Is(err, assistant.ErrBadRequest) {
			e = BadRequest("%v", err)
		}
		if e.Status >= 500 {
			h.s.log.Error("assistant turn failed", "error", err)
		}
		send("error", ErrorBody{Error: e.Msg})
		return
	}
	h.s.AssistantShown(ans)
	send("done", ans)
}

// AssistantSurface names the assistant's answers in the impression log.
const AssistantSurface = "assistant"

// AssistantShown logs the products of an assistant answer as an impression
// under the answer's request id (surface "assistant"; in the background,
// never blocking), so a click, cart or purchase that carries the request
// id and the product's position (1-based, in the order of products) is
// attributed to the assistant. It is called before the answer's request id
// reaches the shopper, so no event can come back before its impression.
// The shopper is the conversation's (Answer.UserID, SessionID). An
// answer without products is not logged: nothing was shown.
func (s *Server) AssistantShown(ans *assistant.Answer) {
	if s.exp == nil || ans == nil || len(ans.Products) == 0 {
		return
	}
	ids := make([]string, len(ans.Products))
	for i, p := range ans.Products {
		ids[i] = p.ID
	}
	s.exp.Shown(impressions.Impression{RequestID: ans.RequestID, Surface: AssistantSurface, UserID: ans.UserID, SessionID: ans.SessionID, Items: ids}, "")
}

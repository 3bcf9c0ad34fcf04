package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/assistant"
	"github.com/aisle-dev/aisle/catalog"
)

// Turner answers one message of a shopping-assistant conversation
// (*assistant.Assistant).
type Turner interface {
	Turn(ctx context.Context, req assistant.Request, emit assistant.Emit) (*assistant.Answer, error)
}

// AddAssistant registers POST /ui/assistant, the storefront chat panel's
// route (static/assistant.js): the message of the visitor (user or
// anonymous session from the cookies), answered as server-sent events:
// "text" pieces, "products", then "done" with the whole answer.
func (u *UI) AddAssistant(a Turner) {
	u.assistant = true
	u.srv.Handle(api.Route{Method: "POST", Pattern: "/ui/assistant", Access: api.Public, Handler: u.post(levelRead, func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			api.WriteError(w, http.StatusUnsupportedMediaType, "send the message as application/json", nil)
			return
		}
		body, ok := api.ReadBody(w, r)
		if !ok {
			return
		}
		var in struct {
			Message        string `json:"message"`
			ConversationID string `json:"conversation_id"`
		}
		if err := catalog.StrictDecode(body, &in); err != nil || strings.TrimSpace(in.Message) == "" || len(in.Message) > assistant.MaxMessageBytes {
			api.WriteError(w, http.StatusBadRequest, fmt.Sprintf(`the body must be {"message":"…","conversation_id":"…"} with a message of 1 to %d bytes`, assistant.MaxMessageBytes), nil)
			return
		}
		v := u.visitorOf(w, r)
		req := assistant.Request{Message: in.Message, ConversationID: in.ConversationID, SessionID: v.Session}
		if !v.Anonymous {
			req.UserID = v.User
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		fl, _ := w.(http.Flusher)
		send := func(event string, val any) {
			b, err := json.Marshal(val)
			if err != nil {
				return
			}
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
			if fl != nil {
				fl.Flush()
			}
		}
		ans, err := a.Turn(r.Context(), req, func(kind string, val any) {
			if kind == "text" {
				val = map[string]any{"text": val}
			}
			send(kind, val)
		})
		if err != nil {
			msg := "the assistant could not answer: try again"
			if errors.Is(err, assistant.ErrBadRequest) {
				msg = err.Error()
			} else {
				u.log.Error("storefront assistant turn failed", "error", err)
			}
			send("error", map[string]string{"error": msg})
			return
		}
		// logged before the request id reaches the page, so the panel's click
		// or cart that carries it is attributed to the assistant
		u.srv.AssistantShown(ans)
		send("done", ans)
	})})
}

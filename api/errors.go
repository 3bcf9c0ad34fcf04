package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store"
)

// Func is an API handler: it returns the answer, encoded as JSON with
// status 200 (or the status given with WithStatus), or an error, which
// Server.JSON turns into an error answer (see Error for how the status is
// chosen). Handlers never write to the ResponseWriter themselves.
type Func func(r *http.Request) (any, error)

// Error is an answer other than success that a handler decided on: the
// status, the message the caller sees and what was wrong where. Cause,
// when set, is logged but never sent.
type Error struct {
	Status  int
	Msg     string
	Details []catalog.Problem
	// RetryAfter, when > 0, is sent as the Retry-After header (with 503
	// and 429).
	RetryAfter time.Duration
	Cause      error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Msg + ": " + e.Cause.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Cause }

// BadRequest is the caller's mistake (400); the message says what to fix.
func BadRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// NotFound is a missing resource (404).
func NotFound(msg string) *Error { return &Error{Status: http.StatusNotFound, Msg: msg} }

// Conflict is a request the current state refuses (409).
func Conflict(msg string) *Error { return &Error{Status: http.StatusConflict, Msg: msg} }

// Unavailable is a server not ready or a dependency down (503, with
// Retry-After); cause is logged.
func Unavailable(msg string, retryAfter time.Duration, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Msg: msg, RetryAfter: retryAfter, Cause: cause}
}

// withStatus is an answer with a status other than 200.
type withStatus struct {
	status int
	body   any
}

// WithStatus makes a handler's answer go out with status (such as 202).
func WithStatus(status int, body any) any { return withStatus{status, body} }

// JSON wraps a Func into the one place that decides HTTP answers: the
// value is encoded before anything is sent (an encoding failure is a 500,
// never an empty 200), errors become statuses (see ErrorOf), and the
// detail of a 500 goes only to the log.
func (s *Server) JSON(f Func) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := f(r)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		status := http.StatusOK
		if ws, ok := v.(withStatus); ok {
			status, v = ws.status, ws.body
		}
		if err := WriteJSON(w, status, v); err != nil {
			s.log.Error("encoding an answer failed", "method", r.Method, "path", r.URL.Path, "error", err)
		}
	}
}

// Error writes the answer for err (see ErrorOf), logging what the caller
// does not see.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	e := ErrorOf(err)
	if e.Status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", e.Status, "error", err)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	WriteError(w, e.Status, e.Msg, e.Details)
}

// ErrorOf decides the answer to an error: an *Error as it is; invalid
// input (catalog.BatchError, catalog.SyntaxError, store.ErrBadCursor) 400;
// store.ErrNotFound, recommend.ErrUnknownItem and recommend.ErrEmptyBasket
// 404; store.ErrNoRollback
// and recommend.ErrBusy 409; a body over the limit 413; a cancelled or
// timed-out request 503; anything else 500 with an opaque message.
func ErrorOf(err error) *Error {
	var e *Error
	var be *catalog.BatchError
	var se *catalog.SyntaxError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &be):
		return &Error{Status: http.StatusBadRequest, Msg: be.Error() + "; nothing from this request was stored", Details: be.Problems}
	case errors.As(err, &se):
		return &Error{Status: http.StatusBadRequest, Msg: se.Error()}
	case errors.As(err, &mbe):
		return &Error{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("request body is larger than %d bytes: send smaller batches", mbe.Limit)}
	case errors.Is(err, store.ErrBadCursor):
		return &Error{Status: http.StatusBadRequest, Msg: err.Error()}
	case errors.Is(err, recommend.ErrUnknownItem):
		return &Error{Status: http.StatusNotFound, Msg: err.Error()}
	case errors.Is(err, recommend.ErrEmptyBasket):
		return &Error{Status: http.StatusNotFound, Msg: err.Error() + ": none of the ids is a known item"}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Msg: "not found"}
	case errors.Is(err, store.ErrNoRollback), errors.Is(err, recommend.ErrBusy):
		return &Error{Status: http.StatusConflict, Msg: err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Msg: "request cancelled or timed out", RetryAfter: time.Second}
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		// found by the soak (issue 12): a full disk was an opaque 500
		return &Error{Status: http.StatusInsufficientStorage, RetryAfter: 30 * time.Second, Cause: err,
			Msg: "the server's data disk is full: nothing from this request was stored; free space on the server and retry"}
	}
	return &Error{Status: http.StatusInternalServerError, Msg: "internal error: the server logged the details", Cause: err}
}

// internalErrorJSON is sent when even an answer cannot be encoded.
var internalErrorJSON = []byte(`{"error":"internal error: the server logged the details"}` + "\n")

// WriteJSON writes v as JSON with the given status and
// X-Content-Type-Options: nosniff. v is encoded before anything is sent:
// when that fails the answer is a 500 and the error is returned (for the
// log).
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	if err := enc.Encode(v); err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write(internalErrorJSON)
		return fmt.Errorf("encode %T as JSON: %w", v, err)
	}
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteError writes an error answer.
func WriteError(w http.ResponseWriter, status int, msg string, details []catalog.Problem) {
	WriteJSON(w, status, ErrorBody{Error: msg, Details: details})
}

// readBody reads the request body; a body over the limit is a 413 (see
// ErrorOf).
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, BadRequest("reading the request body: %v", err)
	}
	return body, nil
}

// ReadBody reads the request body, answering 413 when it is too large.
// It returns false when it has already answered. (Handlers of the API
// return errors to Server.JSON instead; this is for the web UI's
// browser-only endpoints.)
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := readBody(r)
	if err != nil {
		e := ErrorOf(err)
		WriteError(w, e.Status, e.Msg, nil)
		return nil, false
	}
	return body, true
}

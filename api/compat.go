package api

import (
	"net/http"

	"github.com/aisle-dev/aisle/recommend"
)

// The helpers of handlers written before Server.JSON, which write their
// own answers. They remain only so that handlers still written that way
// (the rows routes of a parallel branch) build when merged; convert such a
// handler to a Func (see the package documentation) and delete this file
// once none uses them.

// IntParam reads an integer query parameter as QueryInt does, answering
// 400 itself; false means it has answered.
//
// Deprecated: return QueryInt's error from a Func.
func IntParam(w http.ResponseWriter, r *http.Request, name string, def, min, max int) (int, bool) {
	n, err := QueryInt(r.URL.Query(), name, def, min, max)
	if err != nil {
		e := ErrorOf(err)
		WriteError(w, e.Status, e.Msg, nil)
		return 0, false
	}
	return n, true
}

// WriteEngineError answers err as ErrorOf decides (a 500 without its
// detail, which is not logged here).
//
// Deprecated: return the error from a Func, so that Server.JSON logs it.
func WriteEngineError(w http.ResponseWriter, err error) {
	e := ErrorOf(err)
	WriteError(w, e.Status, e.Msg, e.Details)
}

// parseRequest reads a recommendation request as RecommendRequest does,
// answering 400 itself; false means it has answered.
//
// Deprecated: return RecommendRequest's error from a Func.
func parseRequest(w http.ResponseWriter, r *http.Request) (recommend.Request, bool) {
	req, err := RecommendRequest(r)
	if err != nil {
		e := ErrorOf(err)
		WriteError(w, e.Status, e.Msg, nil)
		return req, false
	}
	return req, true
}

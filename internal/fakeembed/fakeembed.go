// Package fakeembed is an OpenAI-compatible embeddings endpoint for tests
// of image search: POST /v1/embeddings {"model", "input": [...]} answers
// one vector per input, made from the colour words the input names (an
// image URL such as https://img.test/red-stapler.png, or a data: URI
// whose bytes hold such words), so that tests know which images are
// near. It is a real HTTP server on 127.0.0.1, not a stand-in for Aisle's
// own code.
package fakeembed

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
)

// Colours are the dimensions of the vectors, in order.
var Colours = []string{"red", "blue", "green", "black"}

// Server is a running fake endpoint.
type Server struct {
	*httptest.Server
	Calls atomic.Int64
}

// URL of the API base to configure (ends in /v1).
func (s *Server) Base() string { return s.URL + "/v1" }

// Start starts a server; Close stops it.
func Start() *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Model string   `json:"model"`
			Input []string `json:"input"`
		}
		if r.Method != "POST" || r.URL.Path != "/v1/embeddings" || json.NewDecoder(r.Body).Decode(&body) != nil || body.Model == "" {
			http.Error(w, `{"error":"bad request"}`, 400)
			return
		}
		s.Calls.Add(1)
		type datum struct {
			Embedding []float32 `json:"embedding"`
			Index     int       `json:"index"`
		}
		out := struct {
			Data []datum `json:"data"`
		}{}
		for i, in := range body.Input {
			out.Data = append(out.Data, datum{Embedding: Vector(in), Index: i})
		}
		json.NewEncoder(w).Encode(out)
	}))
	return s
}

// Vector is the vector of an input: 1 for each colour it names, a small
// constant elsewhere (so no vector is zero).
func Vector(in string) []float32 {
	text := in
	if rest, ok := strings.CutPrefix(in, "data:"); ok {
		if i := strings.Index(rest, ";base64,"); i >= 0 {
			if b, err := base64.StdEncoding.DecodeString(rest[i+8:]); err == nil {
				text = string(b)
			}
		}
	}
	text = strings.ToLower(text)
	v := make([]float32, len(Colours))
	for i, c := range Colours {
		v[i] = 0.05
		if strings.Contains(text, c) {
			v[i] = 1
		}
	}
	return v
}

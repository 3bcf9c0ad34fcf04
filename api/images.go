package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/imagesearch"
)

// ImageHits answers POST /api/search/image and GET
// /api/items/{id}/visually-similar.
type ImageHits struct {
	Items  []imagesearch.Hit `json:"items"`
	TookMS float64           `json:"took_ms"`
}

// AddImageRoutes registers search by image (POST /api/search/image: a
// JSON {"image_url"} or {"image_base64", "content_type"}, or the image
// bytes themselves with an image/* Content-Type) and the visually similar
// items of an item.
//
// ix is nil when no image embedder is configured: the routes then answer
// 501 saying so, rather than 404 as if they did not exist.
func (s *Server) AddImageRoutes(ix *imagesearch.Index) {
	h := &imageHandlers{ix: ix}
	s.Handle(Route{"POST", "/api/search/image", Read, s.JSON(h.configured(h.search))})
	s.Handle(Route{"GET", "/api/items/{id}/visually-similar", Read, s.JSON(h.configured(h.similar))})
}

// configured answers 501 when no image embedder is configured.
func (h *imageHandlers) configured(f func(*http.Request) (any, error)) func(*http.Request) (any, error) {
	return func(r *http.Request) (any, error) {
		if h.ix == nil {
			return nil, &Error{Status: http.StatusNotImplemented,
				Msg: "search by image needs an image embedder: set images.embedder_url (and images.embedder_model) to an OpenAI-compatible endpoint serving a CLIP-style model"}
		}
		return f(r)
	}
}

type imageHandlers struct{ ix *imagesearch.Index }

func (h *imageHandlers) error(err error) error {
	switch {
	case errors.Is(err, imagesearch.ErrNotBuilt):
		return Unavailable("the image index is still being built: retry shortly", 5*time.Second, err)
	case errors.Is(err, imagesearch.ErrNoImage):
		return NotFound(err.Error() + ": it has no image_url, or the embedder refused its image")
	}
	return Unavailable("the image embedder did not answer: retry later", 5*time.Second, err)
}

func (h *imageHandlers) search(r *http.Request) (any, error) {
	start := time.Now()
	n, err := QueryInt(r.URL.Query(), "n", 10, 1, MaxN)
	if err != nil {
		return nil, err
	}
	var image string
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "image/") {
		b, err := io.ReadAll(io.LimitReader(r.Body, imagesearch.MaxImageBytes+1))
		if err != nil {
			return nil, err
		}
		if len(b) == 0 || len(b) > imagesearch.MaxImageBytes {
			return nil, BadRequest("send an image of 1 byte to %d MiB as the body", imagesearch.MaxImageBytes>>20)
		}
		image = imagesearch.DataURI(ct, b)
	} else {
		var body struct {
			ImageURL    string `json:"image_url"`
			ImageBase64 string `json:"image_base64"`
			ContentType string `json:"content_type"`
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, err
			}
			return nil, BadRequest(`send {"image_url": "https://…"} or {"image_base64": "…", "content_type": "image/png"}, or the image itself with an image/* Content-Type: %v`, err)
		}
		switch {
		case body.ImageURL != "" && body.ImageBase64 == "":
			if !strings.HasPrefix(body.ImageURL, "http://") && !strings.HasPrefix(body.ImageURL, "https://") {
				return nil, BadRequest("image_url must be an http(s) URL")
			}
			image = body.ImageURL
		case body.ImageBase64 != "" && body.ImageURL == "":
			if len(body.ImageBase64) > imagesearch.MaxImageBytes*4/3+4 {
				return nil, BadRequest("the image is larger than %d MiB", imagesearch.MaxImageBytes>>20)
			}
			image = "data:" + imageType(body.ContentType) + ";base64," + body.ImageBase64
		default:
			return nil, BadRequest("give exactly one of image_url and image_base64")
		}
	}
	hits, err := h.ix.Search(r.Context(), image, n)
	if err != nil {
		return nil, h.error(err)
	}
	return ImageHits{Items: orEmpty(hits), TookMS: float64(time.Since(start).Microseconds()) / 1000}, nil
}

func imageType(ct string) string {
	if strings.HasPrefix(ct, "image/") && !strings.ContainsAny(ct, ";, ") {
		return ct
	}
	return "image/jpeg"
}

func orEmpty(h []imagesearch.Hit) []imagesearch.Hit {
	if h == nil {
		return []imagesearch.Hit{}
	}
	return h
}

func (h *imageHandlers) similar(r *http.Request) (any, error) {
	start := time.Now()
	n, err := QueryInt(r.URL.Query(), "n", 10, 1, MaxN)
	if err != nil {
		return nil, err
	}
	hits, err := h.ix.Similar(r.PathValue("id"), n)
	if err != nil {
		return nil, h.error(err)
	}
	return ImageHits{Items: orEmpty(hits), TookMS: float64(time.Since(start).Microseconds()) / 1000}, nil
}

package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store/boltstore"
)

const testAdminKey = "admin-secret-key"

// shop is a small real Aisle (bbolt store, engine, recommendations with a
// trained item-kNN model, API and UI) served by httptest.
type shop struct {
	t   testing.TB
	srv *api.Server
	ui  *UI
	eng *engine.Engine
	hs  *httptest.Server
	its []catalog.Item
	st  *boltstore.Store
}

// newShop builds 80 office items in 4 categories and 120 shoppers who buy
// within their group, from 2013 to 2014 (old data, like the demo's).
func newShop(t testing.TB, opts Options) *shop {
	t.Helper()
	ctx := context.Background()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cats := []string{"Office Products/Paper/Notebooks", "Office Products/Pens/Gel Pens", "Office Products/Ink & Toner/Toner", "Office Products/Desk/Staplers"}
	brands := []string{"Pilot", "Brother", "Fellowes"}
	var its []catalog.Item
	for i := 0; i < 80; i++ {
		it := catalog.Item{ID: fmt.Sprintf("P%03d", i), Title: fmt.Sprintf("%s item %d", strings.Split(cats[i%4], "/")[1], i),
			Brand: brands[i%3], Categories: []string{cats[i%4]}, Available: true}
		if i%2 == 0 {
			p := 1.5 + float64(i)
			it.Price = &p
		}
		its = append(its, it)
	}
	if err := st.PutItems(ctx, its); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2013, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []events.Event
	for u := 0; u < 120; u++ {
		g := u % 4
		for k := 0; k < 10; k++ {
			item := g + 4*((u*3+k*7)%20)
			evs = append(evs, events.Event{UserID: fmt.Sprintf("u%03d", u), ItemID: its[item].ID, Type: events.Purchase,
				Timestamp: t0.Add(time.Duration(u*3+k) * 24 * time.Hour), SessionID: fmt.Sprintf("s%d-%d", u, k/3)})
		}
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Options{Engine: eng, AdminKey: opts.AdminKey, ReadKey: opts.ReadKey})
	if err != nil {
		t.Fatal(err)
	}
	svc := recommend.New(st, recommend.Config{}, nil)
	popts := pipeline.Options{Preprocess: pipeline.DefaultPreprocess(), Models: []pipeline.Spec{{Name: "itemknn"}}, ValidationUsers: 30}
	data, err := popts.Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Train(ctx, st, data, popts)
	if err != nil || len(res) != 1 || !res[0].Trained {
		t.Fatalf("train: %+v %v", res, err)
	}
	rt := svc.NewRetrainer(0, 0, popts)
	srv.AddRecommendRoutes(svc, rt)
	ui, err := Register(srv, svc, rt, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	eng.Subscribe(svc)
	srv.SetReady(true)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &shop{t: t, srv: srv, ui: ui, eng: eng, hs: hs, its: its, st: st}
}

// client is a browser-like client: it keeps cookies and does not follow
// redirects (tests look at them).
func (s *shop) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (s *shop) get(c *http.Client, path string) (int, string) {
	s.t.Helper()
	resp, err := c.Get(s.hs.URL + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *shop) postForm(c *http.Client, path string, form url.Values) *http.Response {
	s.t.Helper()
	resp, err := c.PostForm(s.hs.URL+path, form)
	if err != nil {
		s.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (s *shop) postJSON(c *http.Client, path, body string) (int, string) {
	s.t.Helper()
	resp, err := c.Post(s.hs.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// userEvents reads a user's events through the API (with the admin key).
func (s *shop) userEvents(user string) []events.Event {
	s.t.Helper()
	evs, err := s.eng.UserEvents(context.Background(), user, 100)
	if err != nil {
		s.t.Fatal(err)
	}
	return evs
}

// httptestTLS serves s over TLS on 127.0.0.1.
func httptestTLS(t testing.TB, s *shop) *httptest.Server {
	hs := httptest.NewTLSServer(s.srv)
	t.Cleanup(hs.Close)
	return hs
}

package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aisle-dev/aisle/ads"
	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/rules"
	"github.com/aisle-dev/aisle/search"
)

// merchPages is the dashboard's merchandising page: rules (create from
// JSON, preview with and without, delete) and campaigns with their
// reports and the click model's calibration.
type merchPages struct {
	u    *UI
	book *rules.Book
	ads  *ads.Service
}

type merchData struct {
	Rules     []ruleRow
	Campaigns []campaignRow
	Model     ads.Model
	Calib     []calibRow
	HasAds    bool
	Message   string
	Problem   string
	// the preview form and its answer
	PreviewQuery, PreviewRule string
	With, Without             []string
	PreviewRan                bool
}

type ruleRow struct {
	rules.Rule
	If, Then string
}

type campaignRow struct {
	ads.Campaign
	Report ads.Report
}

type calibRow struct {
	ads.Calibration
	PredPct, ObsPct float64 // bar widths, 0..100
}

// AddMerchPages adds /admin/merch (admin key) for a shop's rules and
// campaigns (ads may be nil). The storefront's recommendation rows run
// through the rules and ads as the API's answers do (servedRow).
func (u *UI) AddMerchPages(book *rules.Book, adSvc *ads.Service) {
	m := &merchPages{u: u, book: book, ads: adSvc}
	for _, r := range []struct {
		method, pattern string
		h               http.HandlerFunc
	}{
		{"GET", "/admin/merch", u.page(levelAdmin, m.show)},
		{"POST", "/admin/merch/rules", u.post(levelAdmin, m.saveRule)},
		{"POST", "/admin/merch/rules/{id}/delete", u.post(levelAdmin, m.deleteRule)},
		{"POST", "/admin/merch/campaigns", u.post(levelAdmin, m.saveCampaign)},
		{"POST", "/admin/merch/campaigns/{id}/delete", u.post(levelAdmin, m.deleteCampaign)},
	} {
		u.srv.Handle(apiRoute(r.method, r.pattern, r.h))
	}
}

func (m *merchPages) show(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := merchData{HasAds: m.ads != nil, Message: r.URL.Query().Get("msg"), Problem: r.URL.Query().Get("problem")}
	for _, ru := range m.book.List() {
		c, _ := json.Marshal(ru.If)
		t, _ := json.Marshal(ru.Then)
		d.Rules = append(d.Rules, ruleRow{Rule: ru, If: string(c), Then: string(t)})
	}
	if m.ads != nil {
		for _, c := range m.ads.Campaigns() {
			rep, err := m.ads.Report(ctx, c.ID)
			if err != nil {
				m.u.fail(w, r, err)
				return
			}
			d.Campaigns = append(d.Campaigns, campaignRow{Campaign: c, Report: rep})
		}
		d.Model = m.ads.Model()
		cal, err := m.ads.Calibrate(ctx, 10)
		if err != nil {
			m.u.fail(w, r, err)
			return
		}
		top := 1e-9
		for _, c := range cal {
			top = max(top, c.Predicted, c.Observed)
		}
		for _, c := range cal {
			d.Calib = append(d.Calib, calibRow{Calibration: c, PredPct: 100 * c.Predicted / top, ObsPct: 100 * c.Observed / top})
		}
	}
	// "with and without the rule": the preview form searches twice
	if q := r.URL.Query(); q.Has("preview_q") {
		d.PreviewQuery, d.PreviewRule, d.PreviewRan = q.Get("preview_q"), q.Get("preview_rule"), true
		var ru rules.Rule
		if err := catalog.StrictDecode([]byte(d.PreviewRule), &ru); err != nil {
			d.Problem = "the rule to preview is not valid JSON: " + err.Error()
		} else if ru.ID = "preview"; ru.Validate() != nil {
			d.Problem = "the rule to preview is not valid: " + ru.Validate().Error()
		} else {
			req := search.Request{Query: d.PreviewQuery, N: 10}
			with, err1 := m.u.srv.PreviewSearch(ctx, req, rules.NewSet([]rules.Rule{ru}))
			without, err2 := m.u.srv.PreviewSearch(ctx, req, nil)
			if err1 != nil || err2 != nil {
				d.Problem = fmt.Sprint("preview failed: ", err1, err2)
			} else {
				for _, h := range with.Items {
					d.With = append(d.With, h.ID+mark(h.Pinned, " (pinned)"))
				}
				for _, h := range without.Items {
					d.Without = append(d.Without, h.ID)
				}
			}
		}
	}
	m.u.render(w, r, http.StatusOK, "merch.html", pageData{Title: "Merchandising", Body: d})
}

func mark(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

func back(w http.ResponseWriter, r *http.Request, msg string, err error) {
	q := url.Values{}
	if err != nil {
		q.Set("problem", strings.ReplaceAll(err.Error(), "\n", "; "))
	} else {
		q.Set("msg", msg)
	}
	http.Redirect(w, r, "/admin/merch?"+q.Encode(), http.StatusSeeOther)
}

func (m *merchPages) saveRule(w http.ResponseWriter, r *http.Request) {
	var ru rules.Rule
	if err := catalog.StrictDecode([]byte(r.PostFormValue("rule")), &ru); err != nil {
		back(w, r, "", fmt.Errorf("the rule is not valid JSON: %w", err))
		return
	}
	saved, err := m.book.Save(r.Context(), ru)
	back(w, r, fmt.Sprintf("rule %s saved as version %d", saved.ID, saved.Version), err)
}

func (m *merchPages) deleteRule(w http.ResponseWriter, r *http.Request) {
	err := m.book.Delete(r.Context(), r.PathValue("id"))
	back(w, r, "rule "+r.PathValue("id")+" deleted", err)
}

func (m *merchPages) saveCampaign(w http.ResponseWriter, r *http.Request) {
	if m.ads == nil {
		back(w, r, "", fmt.Errorf("sponsored products are not configured on this server"))
		return
	}
	var c ads.Campaign
	if err := catalog.StrictDecode([]byte(r.PostFormValue("campaign")), &c); err != nil {
		back(w, r, "", fmt.Errorf("the campaign is not valid JSON: %w", err))
		return
	}
	saved, err := m.ads.Save(r.Context(), c)
	back(w, r, fmt.Sprintf("campaign %s saved as version %d", saved.ID, saved.Version), err)
}

func (m *merchPages) deleteCampaign(w http.ResponseWriter, r *http.Request) {
	if m.ads == nil {
		back(w, r, "", fmt.Errorf("sponsored products are not configured on this server"))
		return
	}
	err := m.ads.Delete(r.Context(), r.PathValue("id"))
	back(w, r, "campaign "+r.PathValue("id")+" deleted", err)
}

// apiRoute is a UI route: Public for the API server (the page checks the
// key itself, see UI.page and UI.post).
func apiRoute(method, pattern string, h http.HandlerFunc) api.Route {
	return api.Route{Method: method, Pattern: pattern, Access: api.Public, Handler: h}
}

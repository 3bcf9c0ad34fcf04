package api

import (
	"fmt"
	"net/http"

	"github.com/aisle-dev/aisle/ads"
	"github.com/aisle-dev/aisle/catalog"
)

// CampaignList answers GET /api/campaigns.
type CampaignList struct {
	Campaigns []ads.Campaign `json:"campaigns"`
}

// ClickModel answers GET /api/campaigns/model: the click model serving
// and its calibration on the logged impressions (predicted against
// observed click rate, by decile of prediction).
type ClickModel struct {
	Model       ads.Model         `json:"model"`
	Calibration []ads.Calibration `json:"calibration"`
}

func (m *merch) addCampaignRoutes() {
	s := m.srv
	s.Handle(Route{"GET", "/api/campaigns", Admin, s.JSON(m.listCampaigns)})
	s.Handle(Route{"POST", "/api/campaigns", Admin, s.JSON(m.createCampaign)})
	s.Handle(Route{"GET", "/api/campaigns/model", Admin, s.JSON(m.clickModel)})
	s.Handle(Route{"GET", "/api/campaigns/slots", Admin, s.JSON(m.slots)})
	s.Handle(Route{"GET", "/api/campaigns/{id}", Admin, s.JSON(m.getCampaign)})
	s.Handle(Route{"PUT", "/api/campaigns/{id}", Admin, s.JSON(m.updateCampaign)})
	s.Handle(Route{"DELETE", "/api/campaigns/{id}", Admin, s.JSON(m.deleteCampaign)})
	s.Handle(Route{"GET", "/api/campaigns/{id}/report", Admin, s.JSON(m.campaignReport)})
}

// SlotReports answers GET /api/campaigns/slots.
type SlotReports struct {
	Slots []ads.SlotReport `json:"slots"`
}

func (m *merch) slots(r *http.Request) (any, error) {
	sl, err := m.ads.Slots(r.Context())
	if err != nil {
		return nil, err
	}
	return SlotReports{Slots: sl}, nil
}

func (m *merch) listCampaigns(r *http.Request) (any, error) {
	return CampaignList{Campaigns: m.ads.Campaigns()}, nil
}

func decodeCampaign(r *http.Request) (ads.Campaign, error) {
	body, err := readBody(r)
	if err != nil {
		return ads.Campaign{}, err
	}
	var c ads.Campaign
	if err := catalog.StrictDecode(body, &c); err != nil {
		p := catalog.ProblemFromJSON(0, err)
		return c, BadRequest(`campaign must be {"name":…,"advertiser":…,"items":[…],"bid":0.5,"daily_budget":10,"targeting":{"queries":[…]}}: %s %s`, p.Field, p.Problem)
	}
	return c, nil
}

func (m *merch) createCampaign(r *http.Request) (any, error) {
	c, err := decodeCampaign(r)
	if err != nil {
		return nil, err
	}
	if c.ID != "" {
		return nil, BadRequest("leave id out of a new campaign (the server assigns it); change one with PUT /api/campaigns/{id}")
	}
	c, err = m.ads.Save(r.Context(), c)
	if err != nil {
		return nil, merchError(err)
	}
	return WithStatus(http.StatusCreated, c), nil
}

func (m *merch) getCampaign(r *http.Request) (any, error) {
	c, ok := m.ads.Campaign(r.PathValue("id"))
	if !ok {
		return nil, NotFound(fmt.Sprintf("no campaign %q: list them with GET /api/campaigns", r.PathValue("id")))
	}
	return c, nil
}

func (m *merch) updateCampaign(r *http.Request) (any, error) {
	id := r.PathValue("id")
	if _, ok := m.ads.Campaign(id); !ok {
		return nil, NotFound(fmt.Sprintf("no campaign %q: create it with POST /api/campaigns", id))
	}
	c, err := decodeCampaign(r)
	if err != nil {
		return nil, err
	}
	if c.ID != "" && c.ID != id {
		return nil, BadRequest("the body's id %q is not the path's %q", c.ID, id)
	}
	c.ID = id
	c, err = m.ads.Save(r.Context(), c)
	if err != nil {
		return nil, merchError(err)
	}
	return c, nil
}

func (m *merch) deleteCampaign(r *http.Request) (any, error) {
	if err := m.ads.Delete(r.Context(), r.PathValue("id")); err != nil {
		return nil, merchError(err)
	}
	return Deleted{Deleted: r.PathValue("id")}, nil
}

func (m *merch) campaignReport(r *http.Request) (any, error) {
	id := r.PathValue("id")
	if _, ok := m.ads.Campaign(id); !ok {
		return nil, NotFound(fmt.Sprintf("no campaign %q: list them with GET /api/campaigns", id))
	}
	return m.ads.Report(r.Context(), id)
}

func (m *merch) clickModel(r *http.Request) (any, error) {
	cal, err := m.ads.Calibrate(r.Context(), 10)
	if err != nil {
		return nil, err
	}
	return ClickModel{Model: m.ads.Model(), Calibration: cal}, nil
}

package ads

import (
	"encoding/json"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
)

// A campaign sent by a client either fails validation or keeps its
// money bounded and survives a store round trip.
func FuzzCampaign(f *testing.F) {
	f.Add(`{"name":"staplers","advertiser":"Acme","items":["X"],"bid":0.5,"daily_budget":10,"targeting":{"queries":["stapler"]}}`)
	f.Add(`{"name":"a","advertiser":"b","items":["x","y"],"bid":1e9,"daily_budget":1e9,"total_budget":1e9,"frequency_cap":3,"pacing":"asap","targeting":{"match_type":"exact","surfaces":["search"]}}`)
	f.Add(`{"name":"a","advertiser":"b","items":["x"],"bid":-1,"daily_budget":0}`)
	f.Fuzz(func(t *testing.T, body string) {
		var c Campaign
		if catalog.StrictDecode([]byte(body), &c) != nil || c.Validate() != nil {
			return
		}
		if ToMicros(c.Bid) <= 0 || ToMicros(c.Bid) > ToMicros(MaxMoney) || ToMicros(c.DailyBudget) <= 0 {
			t.Fatalf("valid campaign with money out of bounds: %+v", c)
		}
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var again Campaign
		if err := json.Unmarshal(data, &again); err != nil || again.Validate() != nil {
			t.Fatalf("a valid campaign %s does not survive a round trip: %v", data, err)
		}
	})
}

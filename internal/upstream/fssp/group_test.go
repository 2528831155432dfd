package fssp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/legalgate/legalgate/internal/upstream/fssp"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
)

// TestGroupBodyAsDocumented: the group body carries region as a number, as
// the document's example (5.4) does ("region": 66); the other parameters
// stay strings, and the simulator takes the body.
func TestGroupBodyAsDocumented(t *testing.T) {
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 0, 0
	sim := fsspsim.New(cfg)
	var body []byte
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	c, err := fssp.New(fssp.Config{BaseURL: ts.URL + "/api/v1.0", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.SearchGroup(context.Background(), token, []fssp.Query{
		{Type: fssp.TypePhysical, Params: fssp.Params{"firstname": "Сергей", "lastname": "Иванов", "region": fssp.RegionParam(66)}},
		{Type: fssp.TypeLegal, Params: fssp.Params{"name": "Ромашка", "region": fssp.RegionParam(-1)}},
		{Type: fssp.TypeIP, Params: fssp.Params{"number": "6860/12/61/66"}},
	})
	if err != nil {
		t.Fatalf("SearchGroup = %v", err)
	}
	var sent struct {
		Request []struct {
			Type   int            `json:"type"`
			Params map[string]any `json:"params"`
		} `json:"request"`
	}
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatalf("group body %s: %v", body, err)
	}
	want := []map[string]any{
		{"firstname": "Сергей", "lastname": "Иванов", "region": 66.0},
		{"name": "Ромашка", "region": -1.0},
		{"number": "6860/12/61/66"},
	}
	var got []map[string]any
	for _, r := range sent.Request {
		got = append(got, r.Params)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("group params mismatch (-want +got):\n%s", diff)
	}
	res, err := c.Result(context.Background(), token, id)
	if err != nil || res.Code != fssp.StatusDone || len(res.Results) != 3 {
		t.Fatalf("Result(group) = %+v, %v; want 3 sub-results done (a legal search without address included)", res, err)
	}
}

package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
)

// TestFSSPParkingCap: beyond MaxParked, long polls wait the usual way and
// are answered all the same. Without Deps.Conns a parked poll's connection
// closes once answered, which tells the two apart.
func TestFSSPParkingCap(t *testing.T) {
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 800*time.Millisecond, 0
	simSrv := httptest.NewServer(fsspsim.New(cfg))
	t.Cleanup(simSrv.Close)
	g := fsspGatewayRules(t, simSrv.URL, fsspQuota, func(d *handlers.Deps) { d.MaxParked = 1 })
	task := decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, map[string]any{"number": "12345/24/77001-ИП"}), http.StatusAccepted)
	path := "/v1/fssp/tasks/" + task.ID + "?wait=20"
	var wg sync.WaitGroup
	closed := make([]bool, 2)
	statuses := make([]string, 2)
	for i := range 2 {
		wg.Go(func() {
			res := g.do(t, "GET", path, keyAlpha, nil)
			closed[i] = res.Close
			statuses[i] = decodeTask(t, res, http.StatusOK).Status
		})
		time.Sleep(200 * time.Millisecond) // the first is parked before the second arrives
	}
	wg.Wait()
	if statuses[0] != "succeeded" || statuses[1] != "succeeded" {
		t.Errorf("long polls = %v, want both succeeded", statuses)
	}
	if !closed[0] || closed[1] {
		t.Errorf("connection closed after the answer = %v, want [true false]: the first parked, the second over the cap of 1 waiting the usual way", closed)
	}
}

// TestFSSPParkedLargeAnswer: an answer larger than a socket buffer (written
// on a goroutine of its own) arrives whole, to every waiter.
func TestFSSPParkedLargeAnswer(t *testing.T) {
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 500*time.Millisecond, 0
	simSrv := httptest.NewServer(fsspsim.New(cfg))
	t.Cleanup(simSrv.Close)
	g := fsspGatewayRules(t, simSrv.URL, fsspQuota)
	var reqs []map[string]any
	for range 20 {
		reqs = append(reqs, map[string]any{"type": "physical", "params": map[string]any{"region": 77, "lastname": fsspsim.ManySurname, "firstname": "ИВАН"}})
	}
	task := decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/group", keyAlpha, map[string]any{"requests": reqs}), http.StatusAccepted)
	var wg sync.WaitGroup
	bodies := make([][]byte, 3)
	for i := range bodies {
		wg.Go(func() {
			res := g.do(t, "GET", "/v1/fssp/tasks/"+task.ID+"?wait=20", keyAlpha, nil)
			bodies[i], _ = checkTaskAnswer(t, res)
		})
	}
	wg.Wait()
	if len(bodies[0]) <= 64<<10 {
		t.Fatalf("answer = %d bytes, want more than 64 KiB for this test", len(bodies[0]))
	}
	for i, b := range bodies {
		var doc taskDoc
		if err := json.Unmarshal(b, &doc); err != nil || doc.Status != "succeeded" || len(doc.Results) != 20 {
			t.Errorf("waiter %d: %d bytes, status %q, %d results, %v; want the succeeded task with 20 results", i, len(b), doc.Status, len(doc.Results), err)
		}
	}
}

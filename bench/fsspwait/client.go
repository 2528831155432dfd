package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// do sends a control request and returns the answer's body when its status
// is want.
func (s *stack) do(ctx context.Context, method, url string, body []byte, want int, header ...string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := s.ctl.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode != want {
		return nil, nil, fmt.Errorf("%s %s = %d %.300s, want %d", method, req.URL.Path, res.StatusCode, b, want)
	}
	return b, res.Header, nil
}

// setClock fixes the FSSP simulator's clock at t.
func (s *stack) setClock(ctx context.Context, t time.Time) error {
	body, _ := json.Marshal(map[string]time.Time{"now": t})
	_, _, err := s.do(ctx, http.MethodPut, s.simURL+"/_sim/clock", body, http.StatusNoContent, "Content-Type", "application/json")
	return err
}

// submit starts one physical search (region 77, first name ИВАН) and returns the task's path.
func (s *stack) submit(ctx context.Context, lastname string) (string, error) {
	body, _ := json.Marshal(map[string]any{"region": 77, "lastname": lastname, "firstname": "ИВАН"})
	_, hdr, err := s.do(ctx, http.MethodPost, s.gwURL+"/v1/fssp/searches/physical", body, http.StatusAccepted,
		"Content-Type", "application/json", "Authorization", "Bearer "+tenantKey)
	if err != nil {
		return "", err
	}
	loc := hdr.Get("Location")
	if !strings.HasPrefix(loc, "/v1/fssp/tasks/") {
		return "", fmt.Errorf("POST /v1/fssp/searches/physical: Location %q, want /v1/fssp/tasks/{id}", loc)
	}
	return loc, nil
}

// metric reads one unlabelled sample from the gateway's /metrics (admin listener).
func (s *stack) metric(ctx context.Context, name string) (int, error) {
	b, _, err := s.do(ctx, http.MethodGet, s.adminURL+"/metrics", nil, http.StatusOK)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("/metrics: %s: %w", name, err)
			}
			return int(f), nil
		}
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

// bucket is one cumulative histogram bucket.
type bucket struct {
	le    float64 // upper bound, seconds
	count float64
}

// histogram reads the cumulative buckets of an unlabelled histogram.
func (s *stack) histogram(ctx context.Context, name string) ([]bucket, error) {
	b, _, err := s.do(ctx, http.MethodGet, s.adminURL+"/metrics", nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	var out []bucket
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name+`_bucket{le="`)
		if !ok {
			continue
		}
		le, count, _ := strings.Cut(rest, `"} `)
		var bk bucket
		if bk.le, err = strconv.ParseFloat(le, 64); err != nil {
			return nil, fmt.Errorf("/metrics: %s: le %q: %w", name, le, err)
		}
		if bk.count, err = strconv.ParseFloat(strings.TrimSpace(count), 64); err != nil {
			return nil, fmt.Errorf("/metrics: %s: %w", name, err)
		}
		out = append(out, bk)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("/metrics has no %s", name)
	}
	return out, nil
}

// quantile is the upper bound of the bucket holding quantile q.
func quantile(bs []bucket, q float64) float64 {
	total := bs[len(bs)-1].count
	for _, b := range bs {
		if b.count >= q*total {
			return b.le
		}
	}
	return bs[len(bs)-1].le
}

// calls returns the FSSP simulator's /status and /result call counts.
func (s *stack) calls(ctx context.Context) (status, result int, err error) {
	b, _, err := s.do(ctx, http.MethodGet, s.simURL+"/_sim/calls", nil, http.StatusOK)
	if err != nil {
		return 0, 0, err
	}
	var m map[string]int
	if err := json.Unmarshal(b, &m); err != nil {
		return 0, 0, fmt.Errorf("/_sim/calls: %w", err)
	}
	for k, n := range m {
		switch {
		case strings.HasSuffix(k, " /status"):
			status += n
		case strings.HasSuffix(k, " /result"):
			result += n
		}
	}
	return status, result, nil
}

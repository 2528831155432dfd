package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// probe is the self-check of a container healthcheck (the image has no shell
// or curl): it GETs target once within timeout and returns nil when the
// answer is 2xx. main exits 0 on nil and 1 on an error.
func probe(ctx context.Context, target string, timeout time.Duration, stdout io.Writer) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("probe: %q is not an absolute http(s) URL", target)
	}
	if timeout <= 0 {
		return fmt.Errorf("probe: timeout %s must be positive", timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	req.Header.Set("User-Agent", "legalgate-probe")
	// A client of its own: no connection is kept, no proxy from the
	// environment stands between the probe and the process it checks.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probe: GET %s: %w", u.Redacted(), err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("probe: GET %s: %s", u.Redacted(), res.Status)
	}
	fmt.Fprintf(stdout, "probe: GET %s: %s\n", u.Redacted(), res.Status)
	return nil
}

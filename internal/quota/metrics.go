package quota

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// metrics are the engine's Prometheus series. Labels are bounded: owners are
// configured tenant ids and credential names, never tokens.
type metrics struct {
	reserved, refunded, rejected *prometheus.CounterVec // scope, owner, upstream, family
	unavailable                  *prometheus.CounterVec // upstream, family
	usageErrors                  *prometheus.CounterVec // upstream
}

func newMetrics(e *Engine, reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	owner := []string{"scope", "owner", "upstream", "family"}
	m := &metrics{
		reserved: counter("gateway_quota_reserved_total", "Quota units reserved for upstream calls.", owner...),
		refunded: counter("gateway_quota_refunded_total", "Quota units refunded after failed upstream calls.", owner...),
		rejected: counter("gateway_quota_rejected_total", "Requests rejected for lack of quota, by the deciding policy.", owner...),
		unavailable: counter("gateway_quota_unavailable_total",
			"Quota checks that could not reach Redis.", "upstream", "family"),
		usageErrors: counter("gateway_quota_usage_errors_total",
			"Scrapes that could not read one credential's quota usage from Redis (its gauges were left out).", "upstream"),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.reserved, m.refunded, m.rejected, m.unavailable, m.usageErrors, newUsageCollector(e)} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("quota: register metrics: %w", err)
		}
	}
	return m, nil
}

// units adds the units of checks to c, once per scope, owner and family.
func (m *metrics) units(c *prometheus.CounterVec, upstream string, checks []check) {
	for i := range checks {
		r := &checks[i].rule
		seen := false
		for j := range i {
			q := &checks[j].rule
			seen = seen || (q.Scope == r.Scope && q.Owner == r.Owner && q.Family == r.Family)
		}
		if !seen {
			c.WithLabelValues(string(r.Scope), r.Owner, upstream, r.Family).Add(float64(checks[i].units))
		}
	}
}

func (m *metrics) reject(rej *Rejection) {
	m.rejected.WithLabelValues(string(rej.Scope), rej.owner, rej.Upstream, rej.Family).Inc()
}

// usageCollector computes gateway_quota_{limit,used,remaining} at scrape
// time from Redis, so every replica reports the shared truth, including
// after a period reset or as a sliding window empties, whether or not it
// reserved anything lately. It reads the quotas of every configured account
// and of every credential a rule names: one script per credential. A read
// is reused for Config.UsageRefresh, and scrapes that arrive while one runs
// wait for it: however many scrapers, Redis sees one read per UsageRefresh.
type usageCollector struct {
	e                      *Engine
	limit, used, remaining *prometheus.Desc
	groups                 []usageGroup

	sf     singleflight.Group
	mu     sync.Mutex
	readAt time.Time           // when last was read (engine clock)
	last   []prometheus.Metric // nil: never read
}

// usageGroup is what one usage script reads: a credential and the tenants
// using it.
type usageGroup struct {
	credential, upstream string
	tenants              []string
}

func newUsageCollector(e *Engine) *usageCollector {
	labels := []string{"scope", "owner", "upstream", "family", "period"}
	desc := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, labels, nil) }
	return &usageCollector{
		e:         e,
		limit:     desc("gateway_quota_limit", "Quota limit in the current period, read from Redis at scrape time."),
		used:      desc("gateway_quota_used", "Quota units used in the current period, read from Redis at scrape time."),
		remaining: desc("gateway_quota_remaining", "Quota units left in the current period, read from Redis at scrape time."),
		groups:    usageGroups(e.accounts, e.rules),
	}
}

// usageGroups groups accounts by credential and adds the credentials that
// credential-scope rules name but no account uses, in a stable order.
func usageGroups(accounts []Account, rules map[famKey][]slot) []usageGroup {
	type credKey struct{ credential, upstream string }
	tenants := map[credKey]map[string]bool{}
	for _, a := range accounts {
		k := credKey{a.Credential, a.Upstream}
		if tenants[k] == nil {
			tenants[k] = map[string]bool{}
		}
		if a.Tenant != "" {
			tenants[k][a.Tenant] = true
		}
	}
	for fk, slots := range rules {
		for _, s := range slots {
			if s.scope != ScopeCredential {
				continue
			}
			for owner := range s.byOwner {
				if k := (credKey{owner, fk.upstream}); tenants[k] == nil {
					tenants[k] = map[string]bool{}
				}
			}
		}
	}
	groups := make([]usageGroup, 0, len(tenants))
	for k, ts := range tenants {
		groups = append(groups, usageGroup{credential: k.credential, upstream: k.upstream, tenants: slices.Sorted(maps.Keys(ts))})
	}
	slices.SortFunc(groups, func(a, b usageGroup) int {
		return strings.Compare(a.upstream+"/"+a.credential, b.upstream+"/"+b.credential)
	})
	return groups
}

func (c *usageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.limit
	ch <- c.used
	ch <- c.remaining
}

// Collect sends the latest usage read, reading it again when it is older
// than Config.UsageRefresh (once, for every scrape waiting meanwhile).
func (c *usageCollector) Collect(ch chan<- prometheus.Metric) {
	ms, _, _ := c.sf.Do("usage", func() (any, error) {
		if ms, ok := c.fresh(); ok {
			return ms, nil // read by the scrape just before
		}
		ms := c.read()
		c.mu.Lock()
		c.last, c.readAt = ms, c.e.now()
		c.mu.Unlock()
		return ms, nil
	})
	for _, m := range ms.([]prometheus.Metric) {
		ch <- m
	}
}

// fresh returns the last read while it is younger than UsageRefresh.
func (c *usageCollector) fresh() ([]prometheus.Metric, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil || c.e.usageTTL <= 0 {
		return nil, false
	}
	age := c.e.now().Sub(c.readAt)
	return c.last, age >= 0 && age < c.e.usageTTL
}

// read reads every group's usage, each bounded by the engine's Redis
// timeout and all of them by twice that; a group that fails is left out and
// counted in gateway_quota_usage_errors_total.
func (c *usageCollector) read() []prometheus.Metric {
	e := c.e
	ctx, cancel := context.WithTimeout(context.Background(), 2*e.timeout)
	defer cancel()
	now := e.now()
	seen := map[[5]string]bool{}
	ms := []prometheus.Metric{}
	for _, g := range c.groups {
		rows, err := e.usage(ctx, g.tenants, g.credential, g.upstream, now)
		if err != nil {
			e.m.usageErrors.WithLabelValues(g.upstream).Inc()
			continue
		}
		for _, u := range rows {
			lv := [5]string{string(u.Scope), u.Owner, u.Upstream, u.Family, string(u.Period)}
			if seen[lv] {
				continue
			}
			seen[lv] = true
			ms = append(ms,
				prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(u.Limit), lv[:]...),
				prometheus.MustNewConstMetric(c.used, prometheus.GaugeValue, float64(u.Used), lv[:]...),
				prometheus.MustNewConstMetric(c.remaining, prometheus.GaugeValue, float64(u.Remaining), lv[:]...))
		}
	}
	return ms
}

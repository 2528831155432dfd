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

// metrics are the engine's Prometheus series. Labels are bounded: configured
// tenant ids and credential names (never tokens), upstreams, families and
// operation ids. Each request counts once, under its tenant whether or not
// the tenant has an allocation, so sums over any label are right.
type metrics struct {
	reserved, refunded *prometheus.CounterVec // upstream, credential, tenant, family, operation
	rejected           *prometheus.CounterVec // the same and the deciding scope
	unavailable        *prometheus.CounterVec // upstream, family
	usageErrors        *prometheus.CounterVec // upstream
}

func newMetrics(e *Engine, reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	who := []string{"upstream", "credential", "tenant", "family", "operation"}
	m := &metrics{
		reserved: counter("gateway_quota_reserved_total",
			"Quota units reserved for upstream calls, by the calling tenant, its credential and the operation.", who...),
		refunded: counter("gateway_quota_refunded_total",
			"Quota units refunded after upstream calls that did no work, by tenant, credential and operation.", who...),
		rejected: counter("gateway_quota_rejected_total",
			"Quota units refused for lack of quota, by tenant, credential, operation and the deciding policy's scope.",
			append(who, "scope")...),
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
	m.precreate(e)
	return m, nil
}

// count adds units of r's operation, counted in family, to c.
func (m *metrics) count(c *prometheus.CounterVec, r Request, family string, units int64) {
	c.WithLabelValues(r.Upstream, r.Credential, r.Tenant, family, r.Operation).Add(float64(units))
}

func (m *metrics) reject(r Request, family string, scope Scope, units int64) {
	m.rejected.WithLabelValues(r.Upstream, r.Credential, r.Tenant, family, r.Operation, string(scope)).Add(float64(units))
}

// precreate makes every series the configured accounts can produce exist at
// 0, so that rate() and increase() see the first event: per account and
// metered operation, reserved and refunded in each family the operation
// may count in, rejected by the credential's scope (its limits and the
// upstream's 423) and, where the tenant has an allocation, by the tenant's;
// the unavailable checks per upstream and family; the usage errors per
// upstream.
func (m *metrics) precreate(e *Engine) {
	now := e.now()
	for _, a := range e.limits.Load().accounts {
		if a.Tenant == "" {
			continue
		}
		for _, op := range slices.Sorted(maps.Keys(e.families[a.Upstream])) {
			r := Request{Tenant: a.Tenant, Credential: a.Credential, Upstream: a.Upstream, Operation: op}
			p, err := e.plan(r, now)
			if err != nil || p == nil {
				continue
			}
			scopes := []Scope{ScopeCredential}
			for i := range p.checks {
				if p.checks[i].rule.Scope == ScopeTenant && p.checks[i].rule.Period != PeriodSecond {
					scopes = append(scopes, ScopeTenant)
					break
				}
			}
			for _, fam := range []string{p.family, p.own} {
				if fam == "" {
					continue
				}
				m.count(m.reserved, r, fam, 0)
				m.count(m.refunded, r, fam, 0)
				for _, s := range scopes {
					m.reject(r, fam, s, 0)
				}
			}
			m.unavailable.WithLabelValues(a.Upstream, p.family)
		}
	}
	for _, g := range e.limits.Load().groups {
		m.usageErrors.WithLabelValues(g.upstream)
	}
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

	sf                    singleflight.Group
	mu                    sync.Mutex
	readAt                time.Time           // when last was read (engine clock)
	last                  []prometheus.Metric // nil: never read
	resetsAt, periodStart *prometheus.Desc
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
		resetsAt: desc("gateway_quota_resets_at_timestamp_seconds",
			"When the quota next has more room (Unix seconds): the period's end, or for a sliding window when its oldest unit leaves."),
		periodStart: desc("gateway_quota_period_start_timestamp_seconds",
			"When the quota's current period started (Unix seconds); for a sliding window, the start of the window now."),
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
	ch <- c.resetsAt
	ch <- c.periodStart
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
	for _, g := range e.limits.Load().groups {
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
				prometheus.MustNewConstMetric(c.remaining, prometheus.GaugeValue, float64(u.Remaining), lv[:]...),
				prometheus.MustNewConstMetric(c.resetsAt, prometheus.GaugeValue, unixSeconds(u.ResetsAt), lv[:]...),
				prometheus.MustNewConstMetric(c.periodStart, prometheus.GaugeValue, unixSeconds(u.PeriodStart), lv[:]...))
		}
	}
	return ms
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

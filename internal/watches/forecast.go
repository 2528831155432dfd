package watches

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// CallsPerHour is what the merged schedule of ws costs: for each interval,
// its watches' distinct documents in find-modified calls of 100 and their
// distinct fragments in block-on-control calls of 100, once per interval.
// (Watches of different intervals that fall due in the same round share
// calls, so this is an upper bound.)
func CallsPerHour(ws []Watch) (documents, fragments float64) {
	type items struct {
		topics    map[int]bool
		fragments map[string]bool
	}
	byInterval := map[time.Duration]items{}
	for _, w := range ws {
		it, ok := byInterval[w.Interval]
		if !ok {
			it = items{map[int]bool{}, map[string]bool{}}
			byInterval[w.Interval] = it
		}
		for _, tp := range w.Topics {
			it.topics[tp] = true
		}
		for _, f := range w.Fragments {
			it.fragments[f] = true
		}
	}
	for iv, it := range byInterval {
		documents += math.Ceil(float64(len(it.topics))/perCall) / iv.Hours()
		fragments += math.Ceil(float64(len(it.fragments))/perCall) / iv.Hours()
	}
	return documents, fragments
}

// checkForecast refuses a schedule under which one of the credential's
// monthly monitoring families runs out before its reset: links_control
// (find-modified and block-on-control/changed together), or each method's
// own split once Garant lists them apart; its units left over the family's
// present burn rate plus the schedule's calls of that family.
func (m *Manager) checkForecast(ctx context.Context, t *tenant.Tenant, cred *tenant.Credential, ws []Watch) error {
	if m.Garant == nil || m.Garant.Quota == nil {
		return nil // nothing is metered
	}
	q := m.Garant.Quota
	rows, err := q.Usage(ctx, t.ID, map[string]string{garant.Upstream: cred.Name})
	if err != nil {
		return err
	}
	now := m.now()
	documents, fragments := CallsPerHour(ws)
	for _, u := range rows {
		if u.Upstream != garant.Upstream || u.Scope != quota.ScopeCredential || u.Period != quota.PeriodMonth {
			continue
		}
		var perHour float64
		switch u.Family {
		case quota.FamilyLinksControl: // find-modified and block-on-control together
			perHour = documents + fragments
		case quota.FamilyFindModified:
			perHour = documents
		case quota.FamilyBlocksChanged:
			perHour = fragments
		default:
			continue
		}
		rate := u.Forecast.BurnRate + perHour
		if rate <= 0 {
			continue
		}
		hours := float64(u.Remaining) / rate // compared before it is a Duration, which overflows at 292 years
		if hours >= u.ResetsAt.Sub(now).Hours() {
			continue
		}
		at := now.Add(time.Duration(hours * float64(time.Hour)))
		at = at.Truncate(time.Second).In(u.ResetsAt.Location())
		return &apperr.Error{Kind: apperr.Unprocessable, Type: "watch-schedule-exhausts-quota", Title: "Watch schedule exhausts the quota",
			Detail: fmt.Sprintf("with this watch the checks of every watch of this Garant credential cost %.2f %s calls an hour; "+
				"with its other use the %d units left run out at %s, before the reset at %s: watch fewer documents or check less often",
				perHour, u.Family, u.Remaining, at.Format(time.RFC3339), u.ResetsAt.Format(time.RFC3339)),
			Extensions: map[string]any{"family": u.Family, "exhausts_at": at.Format(time.RFC3339),
				"resets_at": u.ResetsAt.Format(time.RFC3339), "calls_per_hour": math.Round(perHour*100) / 100}}
	}
	return nil
}

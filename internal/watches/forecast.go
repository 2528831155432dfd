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
// its watches' distinct documents in calls of 100, once per interval. (A
// round merges watches of different intervals that fall due together, so
// this is an upper bound.)
func CallsPerHour(ws []Watch) float64 {
	byInterval := map[time.Duration]map[int]bool{}
	for _, w := range ws {
		if byInterval[w.Interval] == nil {
			byInterval[w.Interval] = map[int]bool{}
		}
		for _, tp := range w.Topics {
			byInterval[w.Interval][tp] = true
		}
	}
	var perHour float64
	for iv, topics := range byInterval {
		calls := math.Ceil(float64(len(topics)) / perCall)
		perHour += calls / iv.Hours()
	}
	return perHour
}

// checkForecast refuses a schedule under which the credential's monthly
// find-modified family (links_control, or its own split once Garant lists
// it apart) runs out before its reset: its units left over the family's
// present burn rate plus the schedule's calls.
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
	perHour := CallsPerHour(ws)
	for _, u := range rows {
		if u.Upstream != garant.Upstream || u.Scope != quota.ScopeCredential || u.Period != quota.PeriodMonth ||
			(u.Family != quota.FamilyLinksControl && u.Family != quota.FamilyFindModified) {
			continue
		}
		rate := u.Forecast.BurnRate + perHour
		if rate <= 0 {
			continue
		}
		at := now.Add(time.Duration(float64(u.Remaining) / rate * float64(time.Hour)))
		if !at.Before(u.ResetsAt) {
			continue
		}
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

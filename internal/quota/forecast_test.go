package quota

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestForecast(t *testing.T) {
	feb, mar := feb1(), feb1().AddDate(0, 1, 0) // 28 days
	day := func(d float64) time.Time { return feb.Add(time.Duration(d * 24 * float64(time.Hour))) }
	month := func(used, limit int64) Usage {
		return Usage{Period: PeriodMonth, Limit: limit, Used: used, Remaining: max(limit-used, 0), PeriodStart: feb, ResetsAt: mar}
	}
	for _, tc := range []struct {
		name string
		u    Usage
		now  time.Time
		want Forecast
	}{{
		// 15 of 30 exports in 7 days: 15 more last 7 more days, gone by the 15th.
		name: "month, half spent in a quarter", u: month(15, 30), now: day(7),
		want: Forecast{BurnRate: 15.0 / (7 * 24), Exhaustion: BeforeReset, ExhaustsAt: day(14)},
	}, {
		name: "month, on pace", u: month(10, 30), now: day(14),
		want: Forecast{BurnRate: 10.0 / (14 * 24), Exhaustion: NotBeforeReset},
	}, {
		// Day 1 of 28: the rate is averaged over 2.8 days, not over one.
		name: "early in the month", u: month(2, 30), now: day(1),
		want: Forecast{BurnRate: 2 / 67.2, Exhaustion: NotBeforeReset},
	}, {
		name: "early in the month, a flood", u: month(20, 30), now: day(1),
		want: Forecast{BurnRate: 20 / 67.2, Exhaustion: BeforeReset, ExhaustsAt: feb.Add(57*time.Hour + 36*time.Minute)},
	}, {
		// 6 of 100,000,000: a thousand years at this pace, more than a Duration holds.
		name: "a huge limit barely used", u: month(6, 100_000_000), now: day(14),
		want: Forecast{BurnRate: 6.0 / (14 * 24), Exhaustion: NotBeforeReset},
	}, {
		name: "nothing used", u: month(0, 30), now: day(20),
		want: Forecast{Exhaustion: NotBeforeReset},
	}, {
		name: "spent", u: month(30, 30), now: day(20),
		want: Forecast{BurnRate: 30.0 / (20 * 24), Exhaustion: Spent},
	}, {
		name: "no limit", u: month(0, 0), now: day(3),
		want: Forecast{Exhaustion: Spent},
	}, {
		name: "sliding hour", now: day(3),
		u:    Usage{Period: PeriodSlidingHour, Limit: 100, Used: 50, Remaining: 50, PeriodStart: day(3).Add(-time.Hour), ResetsAt: day(3).Add(time.Minute)},
		want: Forecast{BurnRate: 50, Exhaustion: NotBeforeReset},
	}, {
		name: "second", now: feb.Add(time.Second / 2),
		u:    Usage{Period: PeriodSecond, Limit: 10, Used: 10, Remaining: 0, PeriodStart: feb, ResetsAt: feb.Add(time.Second)},
		want: Forecast{BurnRate: 36000, Exhaustion: Spent},
	}} {
		got := forecast(&tc.u, tc.now)
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
			t.Errorf("forecast(%s) mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
}

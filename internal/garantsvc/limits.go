package garantsvc

import (
	"context"
	"net/http"

	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// OpLimits is the operation id of /v2/limits, the call the service makes
// on its own to sync the quota engine.
const OpLimits = "garantGetLimits"

// limitFamilies maps the method names of /v2/limits to quota families.
var limitFamilies = map[string]string{
	garant.MethodHyperlinks: quota.FamilyLinksControl, garant.MethodFindModified: quota.FamilyLinksControl,
	garant.MethodBlocksOnControl: quota.FamilyLinksControl,
	garant.MethodDownloadRTF:     quota.FamilyExport, garant.MethodDownloadODT: quota.FamilyExport,
	garant.MethodDownloadPDF: quota.FamilyExport, garant.MethodTopicHTML: quota.FamilyExport,
	garant.MethodEntryHTML: quota.FamilyExport, garant.MethodImage: quota.FamilyExport,
	garant.MethodFormula: quota.FamilyExport, garant.MethodTopic: quota.FamilyTopicInfo,
}

// linksFamilies maps the links_control methods of /v2/limits to their own
// families, used when the credential's links_control is split.
var linksFamilies = map[string]string{
	garant.MethodHyperlinks:      quota.FamilyFindHyperlinks,
	garant.MethodFindModified:    quota.FamilyFindModified,
	garant.MethodBlocksOnControl: quota.FamilyBlocksChanged,
}

// Limits answers /v2/limits for the call (metered like any call, never
// cached) and lowers the quota engine's counts to Garant's: the limits, and
// Garant's answer as it sent it.
func (c *Call) Limits(ctx context.Context) ([]garant.Limit, []byte, error) {
	var (
		limits []garant.Limit
		raw    []byte
	)
	err := c.Do(ctx, func(ctx context.Context) error {
		var err error
		if raw, err = c.svc.Client.JSON(ctx, c.Credential.Secret, garant.LimitsCall()); err != nil {
			return err
		}
		l, err := garant.Decode[[]garant.Limit](garant.MethodLimits, raw)
		if err != nil {
			return err
		}
		limits = *l
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	c.svc.applyLimits(ctx, c.Credential, limits)
	return limits, raw, nil
}

// SyncLimits reads Garant's /v2/limits with cred, through the quota
// engine's rate family like any Garant call (credential rules only: no
// tenant asked), and lowers the remaining counts to what Garant reports
// (Garant is the source of truth; it never raises them). It also records,
// for every replica, whether the credential's links_control is split:
// counted per method when /v2/limits lists find-hyperlinks, find-modified
// and block-on-control/changed as separate entries (see applyLimits and
// quota.SetSplit). A 401 is a rejected credential (OnRejected).
func (s *Service) SyncLimits(ctx context.Context, cred *tenant.Credential) error {
	_, err := s.syncLimits(ctx, "", cred)
	if garant.StatusOf(err) == http.StatusUnauthorized {
		s.rejected(cred.Name)
	}
	return err
}

// syncLimits reads /v2/limits (through the rate limit) on behalf of
// tenantID ("" for the service's own syncs) and lowers the quota engine's
// remaining counts to Garant's.
func (s *Service) syncLimits(ctx context.Context, tenantID string, cred *tenant.Credential) ([]garant.Limit, error) {
	ctx = tenant.WithCredential(metrics.WithOperation(ctx, OpLimits), cred.Name)
	res := &quota.Reservation{}
	if s.Quota != nil {
		var err error
		res, err = s.Quota.Reserve(ctx, quota.Request{Tenant: tenantID, Credential: cred.Name, Upstream: garant.Upstream, Operation: OpLimits})
		if err != nil {
			return nil, err
		}
	}
	limits, err := s.Client.Limits(ctx, cred.Secret)
	if err != nil {
		if !garant.Answered(err) {
			_ = res.Refund(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	s.applyLimits(ctx, cred, limits)
	return limits, nil
}

// applyLimits lowers the engine's counts to what /v2/limits reports and
// records whether the credential's links_control is split: it is when
// Garant lists find-hyperlinks, find-modified and block-on-control/changed
// as separate entries, each method then counted in its own family with its
// own remaining count; while they share an entry (or only one of them is
// listed) they share links_control, lowered to the smallest count. The
// counts are applied before the choice changes, so a method starts its own
// family with Garant's number.
func (s *Service) applyLimits(ctx context.Context, cred *tenant.Credential, limits []garant.Limit) {
	if s.Quota == nil {
		return
	}
	split := linksSplit(limits)
	remaining := map[string]int64{}
	for _, l := range limits {
		for _, n := range l.Names {
			fam, ok := limitFamilies[n]
			if own, isLinks := linksFamilies[n]; isLinks && split {
				fam = own
			}
			if !ok {
				continue
			}
			if v, seen := remaining[fam]; !seen || int64(l.Value) < v {
				remaining[fam] = int64(l.Value)
			}
		}
	}
	for fam, v := range remaining {
		_ = s.Quota.SyncRemaining(ctx, cred.Name, garant.Upstream, fam, v)
	}
	_, _ = s.Quota.SetSplit(ctx, cred.Name, garant.Upstream, quota.FamilyLinksControl, split)
}

// linksSplit reports whether /v2/limits counts the links_control methods
// separately: no entry names two of them, and at least two have an entry.
func linksSplit(limits []garant.Limit) bool {
	listed := map[string]bool{}
	for _, l := range limits {
		n := 0
		for _, name := range l.Names {
			if _, ok := linksFamilies[name]; ok {
				listed[name] = true
				n++
			}
		}
		if n > 1 {
			return false
		}
	}
	return len(listed) > 1
}

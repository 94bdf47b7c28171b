package api

import (
	"context"
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/identity"
)

// GetTrailStatus, StartLogging and StopLogging (operations.md §2.3), and
// the trail delivery they report on.

// Delivery is trail delivery as the API uses it: Flush before a trail
// changes, so events recorded before the change are delivered under the
// old settings, and the status GetTrailStatus reports.
type Delivery interface {
	Flush(ctx context.Context) error
	Status(trailARN, region string) TrailStatus
}

// TrailStatus is one trail's delivery status in one region.
type TrailStatus struct {
	LatestDeliveryTime, LatestDeliveryAttemptTime, LatestDeliveryAttemptSucceeded             time.Time
	LatestNotificationTime, LatestNotificationAttemptTime, LatestNotificationAttemptSucceeded time.Time
	LatestDigestDeliveryTime                                                                  time.Time
	LatestDeliveryError, LatestNotificationError, LatestDigestDeliveryError                   string
}

func (h *Handler) flushDelivery(ctx context.Context) error {
	if h.opts.Delivery == nil {
		return nil
	}
	if err := h.opts.Delivery.Flush(ctx); err != nil {
		return fmt.Errorf("flush trail delivery: %w", err)
	}
	return nil
}

// --- GetTrailStatus, StartLogging, StopLogging ---

type trailStatusOutput struct {
	IsLogging                 bool          `json:"IsLogging"`
	LatestDeliveryError       string        `json:"LatestDeliveryError,omitempty"`
	LatestNotificationError   string        `json:"LatestNotificationError,omitempty"`
	LatestDeliveryTime        *awsjson.Time `json:"LatestDeliveryTime,omitempty"`
	LatestNotificationTime    *awsjson.Time `json:"LatestNotificationTime,omitempty"`
	StartLoggingTime          *awsjson.Time `json:"StartLoggingTime,omitempty"`
	StopLoggingTime           *awsjson.Time `json:"StopLoggingTime,omitempty"`
	LatestDigestDeliveryTime  *awsjson.Time `json:"LatestDigestDeliveryTime,omitempty"`
	LatestDigestDeliveryError string        `json:"LatestDigestDeliveryError,omitempty"`

	LatestCloudWatchLogsDeliveryTime  *awsjson.Time `json:"LatestCloudWatchLogsDeliveryTime,omitempty"`
	LatestCloudWatchLogsDeliveryError string        `json:"LatestCloudWatchLogsDeliveryError,omitempty"`
	// The legacy string members are always sent, "" until there is a
	// time to show, as AWS sends them (protocol.md §2.3; the User Guide's
	// get-trail-status example shows "TimeLoggingStopped": "").
	LatestDeliveryAttemptTime          string `json:"LatestDeliveryAttemptTime"`
	LatestNotificationAttemptTime      string `json:"LatestNotificationAttemptTime"`
	LatestNotificationAttemptSucceeded string `json:"LatestNotificationAttemptSucceeded"`
	LatestDeliveryAttemptSucceeded     string `json:"LatestDeliveryAttemptSucceeded"`
	TimeLoggingStarted                 string `json:"TimeLoggingStarted"`
	TimeLoggingStopped                 string `json:"TimeLoggingStopped"`
}

func optTime(t time.Time) *awsjson.Time {
	if t.IsZero() {
		return nil
	}
	return &awsjson.Time{Time: t}
}

// legacyTime is the format of GetTrailStatus' legacy string members.
func legacyTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func (h *Handler) getTrailStatus(_ context.Context, caller identity.Caller, in *nameInput) (*trailStatusOutput, error) {
	t, err := h.findTrail(caller, in.Name, "Name", false)
	if err != nil {
		return nil, err
	}
	var s TrailStatus
	if h.opts.Delivery != nil {
		s = h.opts.Delivery.Status(t.ARN(), caller.Region)
	}
	var cwTime time.Time
	var cwErr string
	if h.opts.LogGroups != nil && t.CloudWatchLogsLogGroupArn != "" {
		cwTime, cwErr = h.opts.LogGroups.Status(t.ARN())
	}
	return &trailStatusOutput{
		LatestCloudWatchLogsDeliveryTime: optTime(cwTime), LatestCloudWatchLogsDeliveryError: cwErr,
		IsLogging:           t.Logging,
		LatestDeliveryError: s.LatestDeliveryError, LatestNotificationError: s.LatestNotificationError,
		LatestDeliveryTime: optTime(s.LatestDeliveryTime), LatestNotificationTime: optTime(s.LatestNotificationTime),
		StartLoggingTime: optTime(t.StartLoggingTime), StopLoggingTime: optTime(t.StopLoggingTime),
		LatestDigestDeliveryTime: optTime(s.LatestDigestDeliveryTime), LatestDigestDeliveryError: s.LatestDigestDeliveryError,
		LatestDeliveryAttemptTime:          legacyTime(s.LatestDeliveryAttemptTime),
		LatestNotificationAttemptTime:      legacyTime(s.LatestNotificationAttemptTime),
		LatestNotificationAttemptSucceeded: legacyTime(s.LatestNotificationAttemptSucceeded),
		LatestDeliveryAttemptSucceeded:     legacyTime(s.LatestDeliveryAttemptSucceeded),
		TimeLoggingStarted:                 legacyTime(t.StartLoggingTime),
		TimeLoggingStopped:                 legacyTime(t.StopLoggingTime),
	}, nil
}

func (h *Handler) startLogging(ctx context.Context, caller identity.Caller, in *nameInput) (*empty, error) {
	return h.setLogging(ctx, caller, in, true)
}

func (h *Handler) stopLogging(ctx context.Context, caller identity.Caller, in *nameInput) (*empty, error) {
	return h.setLogging(ctx, caller, in, false)
}

func (h *Handler) setLogging(ctx context.Context, caller identity.Caller, in *nameInput, on bool) (*empty, error) {
	t, err := h.findTrail(caller, in.Name, "Name", true)
	if err != nil {
		return nil, err
	}
	if t.Logging == on {
		return nil, nil
	}
	if err := h.flushDelivery(ctx); err != nil {
		return nil, err
	}
	now := h.now().UTC()
	_, err = h.opts.Trails.Update(t.ARN(), func(cur *catalog.Trail) error {
		cur.Logging = on
		cur.StopRequestID = ""
		if on {
			cur.StartLoggingTime = now
		} else {
			// The trail records its own StopLogging call, as AWS does;
			// the call's event is appended after this change.
			cur.StopLoggingTime, cur.StopRequestID = now, requestIDOf(ctx)
		}
		return nil
	})
	return nil, h.trailErr(caller, in.Name, err)
}

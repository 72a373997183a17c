package audit

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// TargetPrefix is CloudTrail's X-Amz-Target prefix (botocore model
// cloudtrail/2013-11-01, metadata.targetPrefix).
const TargetPrefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"

// Handlers returns the CloudTrail operations the endpoint answers.
func (l *Log) Handlers() map[string]awsapi.Handler {
	return map[string]awsapi.Handler{"LookupEvents": l.LookupEvents}
}

type lookupInput struct {
	LookupAttributes []struct {
		AttributeKey   string
		AttributeValue string
	}
	StartTime     *float64
	EndTime       *float64
	EventCategory string
	MaxResults    *int
	NextToken     *string
}

type lookupEvent struct {
	EventId         string
	EventName       string
	ReadOnly        string
	AccessKeyId     string `json:",omitempty"`
	EventTime       float64
	EventSource     string
	Username        string `json:",omitempty"`
	Resources       []lookupResource
	CloudTrailEvent string
}

type lookupResource struct {
	ResourceType string `json:",omitempty"`
	ResourceName string
}

type lookupOutput struct {
	Events    []lookupEvent
	NextToken string `json:",omitempty"`
}

// LookupEvents answers CloudTrail LookupEvents: at most one lookup
// attribute, a time range, MaxResults up to 50 (default 50) and NextToken
// paging, most recent event first.
func (l *Log) LookupEvents(_ *awsapi.Request, body []byte) (any, error) {
	var in lookupInput
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, awsapi.Errorf("SerializationException", "the request body is not a valid LookupEvents request: %v", err)
		}
	}
	if len(in.LookupAttributes) > 1 {
		return nil, awsapi.Errorf("InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.")
	}
	match := func(entry) bool { return true }
	if len(in.LookupAttributes) == 1 {
		a := in.LookupAttributes[0]
		m, err := l.attributeMatcher(a.AttributeKey, a.AttributeValue)
		if err != nil {
			return nil, err
		}
		match = m
	}
	if in.EventCategory != "" && in.EventCategory != "insight" {
		return nil, awsapi.Errorf("InvalidEventCategoryException", "EventCategory %q is not valid; the only value is insight.", in.EventCategory)
	}
	var start, end time.Time
	if in.StartTime != nil {
		start = epoch(*in.StartTime)
	}
	if in.EndTime != nil {
		end = epoch(*in.EndTime)
	}
	if !start.IsZero() && !end.IsZero() && start.After(end) {
		return nil, awsapi.Errorf("InvalidTimeRangeException", "Start time must be before end time.")
	}
	limit := 50
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, awsapi.Errorf("InvalidMaxResultsException", "MaxResults must be between 1 and 50; got %d.", *in.MaxResults)
		}
		limit = *in.MaxResults
	}
	// The token is the sequence number of the next (older) event to return,
	// so that events recorded between pages do not shift the listing.
	var from uint64 = math.MaxUint64
	if in.NextToken != nil && *in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		n, err2 := strconv.ParseUint(string(b), 10, 64)
		if err != nil || err2 != nil {
			return nil, awsapi.Errorf("InvalidNextTokenException", "Invalid NextToken; pass the NextToken of the previous LookupEvents response unchanged.")
		}
		from = n
	}

	out := lookupOutput{Events: []lookupEvent{}}
	// Insight events are not recorded by the endpoint: that category is empty.
	if in.EventCategory == "insight" {
		return out, nil
	}
	for _, e := range l.snapshot() {
		if e.seq > from {
			continue
		}
		// The wire carries StartTime and EndTime in milliseconds, so an event
		// is compared at that precision: one recorded in the same millisecond
		// as a caller's time.Now() end is inside the range.
		t := e.ev.Time.Truncate(time.Millisecond)
		if (!start.IsZero() && t.Before(start)) || (!end.IsZero() && t.After(end)) || !match(e) {
			continue
		}
		if len(out.Events) == limit {
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(e.seq, 10)))
			break
		}
		out.Events = append(out.Events, l.lookupEvent(e))
	}
	return out, nil
}

func (l *Log) attributeMatcher(key, value string) (func(entry) bool, error) {
	switch key {
	case "EventId":
		return func(e entry) bool { return e.id == value }, nil
	case "EventName":
		return func(e entry) bool { return e.ev.EventName == value }, nil
	case "ReadOnly":
		return func(e entry) bool { return strconv.FormatBool(readOnly(e.ev.EventSource, e.ev.EventName)) == value }, nil
	case "Username":
		return func(e entry) bool { return e.ev.Username == value }, nil
	case "EventSource":
		return func(e entry) bool { return e.ev.EventSource == value }, nil
	case "AccessKeyId":
		return func(e entry) bool { return e.ev.AccessKeyID == value }, nil
	case "ResourceType":
		return func(e entry) bool {
			for _, r := range e.ev.Resources {
				if resourceType(r) == value {
					return true
				}
			}
			return false
		}, nil
	case "ResourceName":
		// A resource is named by its ARN; a parameter also by its name.
		return func(e entry) bool {
			for _, r := range e.ev.Resources {
				if r == value || (parameterName(r) != "" && parameterName(r) == value) {
					return true
				}
			}
			return false
		}, nil
	}
	return nil, awsapi.Errorf("InvalidLookupAttributesException",
		"AttributeKey %q is not valid; use one of EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource, AccessKeyId.", key)
}

func (l *Log) lookupEvent(e entry) lookupEvent {
	ev := e.ev
	out := lookupEvent{
		EventId:         e.id,
		EventName:       ev.EventName,
		ReadOnly:        strconv.FormatBool(readOnly(ev.EventSource, ev.EventName)),
		AccessKeyId:     ev.AccessKeyID,
		EventTime:       float64(ev.Time.UnixNano()) / 1e9,
		EventSource:     ev.EventSource,
		Username:        ev.Username,
		Resources:       []lookupResource{},
		CloudTrailEvent: l.cloudTrailJSON(e),
	}
	for _, r := range ev.Resources {
		out.Resources = append(out.Resources, lookupResource{ResourceType: resourceType(r), ResourceName: r})
	}
	return out
}

// epoch turns a JSON timestamp (epoch seconds, millisecond precision as the
// SDKs send it) into a time, rounded to the millisecond so that float error
// (…344999999 ns for .345) does not move a range's end before an event.
func epoch(sec float64) time.Time {
	return time.UnixMilli(int64(math.Round(sec * 1000))).UTC()
}

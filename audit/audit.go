// Package audit answers "who read, wrote or was refused this node's state?"
// from CloudTrail: it looks up the SSM calls on the locator's parameter and
// the KMS calls made with its PARAMETER_ARN encryption context (including
// those on its parts), and summarises them per principal. It works against
// CloudTrail and against the local endpoint, which answers LookupEvents.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/ssmstate/ssmstate/locator"
)

// DefaultSince is how far back Lookup looks when Options.Since is 0.
const DefaultSince = 24 * time.Hour

// Kinds of access.
const (
	KindRead    = "read"    // SSM GetParameter(s)
	KindWrite   = "write"   // SSM PutParameter
	KindDelete  = "delete"  // SSM DeleteParameter(s)
	KindDecrypt = "decrypt" // KMS Decrypt with the parameter's context
	KindEncrypt = "encrypt" // KMS Encrypt / GenerateDataKey with it
	KindOther   = "other"
)

// Entry is one call on the state.
type Entry struct {
	Time      time.Time `json:"time"`
	Principal string    `json:"principal"` // the caller's ARN
	// Action is service:EventName, e.g. "kms:Decrypt".
	Action string `json:"action"`
	Kind   string `json:"kind"`
	// Parameter is the parameter (or part) the call was about.
	Parameter string `json:"parameter"`
	Key       string `json:"key,omitempty"`
	// ViaSSM: KMS called by Parameter Store on the caller's behalf.
	ViaSSM bool `json:"viaSsm,omitempty"`
	// Denied: refused for lack of permission; Error holds AWS's code and
	// message for every failed call.
	Denied bool `json:"denied"`
	// Absent: the parameter did not exist (ParameterNotFound).
	Absent bool `json:"absent,omitempty"`
	// DryRun: a KMS DryRun permission check (doctor's probes) that passed;
	// AWS reports it as DryRunOperationException, but nothing failed and
	// nothing was decrypted or encrypted.
	DryRun   bool   `json:"dryRun,omitempty"`
	Error    string `json:"error,omitempty"`
	SourceIP string `json:"sourceIp,omitempty"`
	EventID  string `json:"eventId"`
}

// PrincipalSummary counts one principal's calls.
type PrincipalSummary struct {
	Principal string `json:"principal"`
	Reads     int    `json:"reads"`
	Decrypts  int    `json:"decrypts"`
	Writes    int    `json:"writes"`
	Deletes   int    `json:"deletes"`
	Denied    int    `json:"denied"`
	Failed    int    `json:"failed"` // failed other than by a denial
}

// Report is Lookup's result.
type Report struct {
	Locator      string             `json:"locator"`
	ParameterARN string             `json:"parameterArn"`
	From         time.Time          `json:"from"`
	To           time.Time          `json:"to"`
	Entries      []Entry            `json:"events"`     // oldest first
	Principals   []PrincipalSummary `json:"principals"` // by principal ARN
}

// Options configure Lookup.
type Options struct {
	// AWSConfig is used for CloudTrail (its Region is replaced by the
	// locator's). Nil loads aws-sdk-go-v2's default configuration.
	AWSConfig *aws.Config
	// Since is how far back to look; 0 means DefaultSince. CloudTrail keeps
	// 90 days.
	Since time.Duration
	// Now is the end of the range; zero means time.Now.
	Now time.Time
}

// LookupEventsAPI is the call Lookup makes; *cloudtrail.Client has it.
type LookupEventsAPI interface {
	LookupEvents(ctx context.Context, in *cloudtrail.LookupEventsInput, optFns ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error)
}

// Lookup reads CloudTrail for loc (an SSM locator) with a client made from
// opts.AWSConfig (the SDK's default retryer stays on: CloudTrail throttles
// LookupEvents at 2 calls a second per account and Region).
func Lookup(ctx context.Context, loc locator.Locator, opts Options) (*Report, error) {
	if loc.Kind != locator.KindSSM {
		return nil, fmt.Errorf("locator %s is not an SSM parameter ARN: only SSM state has a CloudTrail record", loc)
	}
	var cfg aws.Config
	if opts.AWSConfig != nil {
		cfg = opts.AWSConfig.Copy()
	} else {
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx); err != nil {
			return nil, fmt.Errorf("load AWS configuration for CloudTrail: %w", err)
		}
	}
	cfg.Region = loc.Region
	// More attempts than the SDK's 3: LookupEvents is throttled at 2 calls a
	// second, and its large pages meet aws-sdk-go-v2's closed-connection
	// read error (aws/aws-sdk-go-v2#1825, #2737) often enough that three
	// attempts have failed in a row on a loaded machine.
	return LookupWith(ctx, cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) {
		if o.RetryMaxAttempts < 10 {
			o.RetryMaxAttempts = 10
		}
	}), loc, opts)
}

// LookupWith is Lookup with a given client.
func LookupWith(ctx context.Context, c LookupEventsAPI, loc locator.Locator, opts Options) (*Report, error) {
	since := opts.Since
	if since <= 0 {
		since = DefaultSince
	}
	to := opts.Now
	if to.IsZero() {
		to = time.Now()
	}
	from := to.Add(-since)
	rep := &Report{Locator: loc.String(), ParameterARN: loc.ParameterARN(), From: from.UTC(), To: to.UTC(), Entries: []Entry{}}
	m := matcher{arn: loc.ParameterARN(), name: loc.ParameterName}

	// SSM calls on the main parameter, by its ARN and by its name (CloudTrail
	// names SSM resources either way), and the KMS calls made for it and its
	// parts, which carry its ARN in the encryption context.
	lookups := []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String(loc.ParameterARN())},
		{AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String(loc.ParameterName)},
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("Decrypt")},
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("Encrypt")},
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("GenerateDataKey")},
	}
	seen := map[string]bool{}
	for _, a := range lookups {
		in := &cloudtrail.LookupEventsInput{
			LookupAttributes: []cttypes.LookupAttribute{a},
			StartTime:        aws.Time(from), EndTime: aws.Time(to),
		}
		pages := cloudtrail.NewLookupEventsPaginator(c, in)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, explain(err, loc)
			}
			for _, ev := range page.Events {
				id := aws.ToString(ev.EventId)
				if seen[id] {
					continue
				}
				e, ok := m.entry(ev)
				if !ok {
					continue
				}
				seen[id] = true
				rep.Entries = append(rep.Entries, e)
			}
		}
	}
	sort.SliceStable(rep.Entries, func(i, j int) bool { return rep.Entries[i].Time.Before(rep.Entries[j].Time) })
	rep.Principals = summarise(rep.Entries)
	return rep, nil
}

func explain(err error, loc locator.Locator) error {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) && strings.Contains(ae.ErrorCode(), "AccessDenied") {
		return fmt.Errorf("read CloudTrail in %s for %s: %w (grant cloudtrail:LookupEvents on * to the caller)", loc.Region, loc.ParameterARN(), err)
	}
	return fmt.Errorf("read CloudTrail in %s for %s: %w", loc.Region, loc.ParameterARN(), err)
}

// record is the part of a CloudTrail record Lookup reads.
type record struct {
	UserIdentity struct {
		ARN       string `json:"arn"`
		Type      string `json:"type"`
		InvokedBy string `json:"invokedBy"`
	} `json:"userIdentity"`
	EventTime         time.Time `json:"eventTime"`
	EventSource       string    `json:"eventSource"`
	EventName         string    `json:"eventName"`
	SourceIPAddress   string    `json:"sourceIPAddress"`
	ErrorCode         string    `json:"errorCode"`
	ErrorMessage      string    `json:"errorMessage"`
	RequestParameters struct {
		Name              string            `json:"name"`
		Names             []string          `json:"names"`
		KeyID             string            `json:"keyId"`
		EncryptionContext map[string]string `json:"encryptionContext"`
	} `json:"requestParameters"`
	Resources []struct {
		ARN  string `json:"ARN"`
		Type string `json:"type"`
	} `json:"resources"`
}

// matcher tells the events about one state.
type matcher struct{ arn, name string }

// ofState reports whether s (a parameter ARN or name) is the parameter, one
// of its parts or its side parameter.
func (m matcher) ofState(s, base string) bool {
	if s == base || s == base+".moving" {
		return true
	}
	rest, ok := strings.CutPrefix(s, base+".part-")
	if !ok {
		return false
	}
	ok, _ = path.Match("*-*", rest)
	return ok && !strings.Contains(rest, "/")
}

func (m matcher) entry(ev cttypes.Event) (Entry, bool) {
	var r record
	if err := json.Unmarshal([]byte(aws.ToString(ev.CloudTrailEvent)), &r); err != nil {
		return Entry{}, false
	}
	e := Entry{
		Time:      r.EventTime,
		Principal: r.UserIdentity.ARN,
		Action:    strings.TrimSuffix(r.EventSource, ".amazonaws.com") + ":" + r.EventName,
		Key:       r.RequestParameters.KeyID,
		ViaSSM:    r.UserIdentity.InvokedBy == "ssm.amazonaws.com",
		SourceIP:  r.SourceIPAddress,
		EventID:   aws.ToString(ev.EventId),
	}
	// LookupEvents' EventTime may be finer than the record's seconds.
	if ev.EventTime != nil && (e.Time.IsZero() || ev.EventTime.Sub(e.Time).Abs() < time.Second) {
		e.Time = ev.EventTime.UTC()
	}
	if e.Principal == "" {
		e.Principal = aws.ToString(ev.Username)
	}
	switch r.EventSource {
	case "kms.amazonaws.com":
		p := r.RequestParameters.EncryptionContext["PARAMETER_ARN"]
		if !m.ofState(p, m.arn) {
			return Entry{}, false
		}
		e.Parameter = p
		switch {
		case r.EventName == "Decrypt":
			e.Kind = KindDecrypt
		case r.EventName == "Encrypt" || strings.HasPrefix(r.EventName, "GenerateDataKey"):
			e.Kind = KindEncrypt
		default:
			e.Kind = KindOther
		}
	case "ssm.amazonaws.com":
		names := append([]string{r.RequestParameters.Name}, r.RequestParameters.Names...)
		for _, res := range r.Resources {
			names = append(names, res.ARN)
		}
		for _, n := range names {
			if m.ofState(n, m.name) || m.ofState(n, m.arn) {
				e.Parameter = n
				break
			}
		}
		if e.Parameter == "" {
			return Entry{}, false
		}
		switch {
		case strings.HasPrefix(r.EventName, "GetParameter"):
			e.Kind = KindRead
		case r.EventName == "PutParameter":
			e.Kind = KindWrite
		case strings.HasPrefix(r.EventName, "DeleteParameter"):
			e.Kind = KindDelete
		default:
			e.Kind = KindOther
		}
	default:
		return Entry{}, false
	}
	if r.ErrorCode != "" {
		e.Error = r.ErrorCode
		if r.ErrorMessage != "" {
			e.Error += ": " + r.ErrorMessage
		}
		e.Denied = strings.Contains(r.ErrorCode, "AccessDenied") || r.ErrorCode == "UnauthorizedOperation"
		// A read of a parameter that does not exist (the store's first
		// write checks for it) is an answer, not a failure.
		e.Absent = r.ErrorCode == "ParameterNotFound"
		e.DryRun = r.ErrorCode == "DryRunOperationException"
	}
	return e, true
}

func summarise(es []Entry) []PrincipalSummary {
	by := map[string]*PrincipalSummary{}
	for _, e := range es {
		s := by[e.Principal]
		if s == nil {
			s = &PrincipalSummary{Principal: e.Principal}
			by[e.Principal] = s
		}
		switch {
		case e.Denied:
			s.Denied++
			continue
		case e.Absent, e.DryRun:
			continue
		case e.Error != "":
			s.Failed++
			continue
		}
		switch e.Kind {
		case KindRead:
			s.Reads++
		case KindDecrypt:
			s.Decrypts++
		case KindWrite:
			s.Writes++
		case KindDelete:
			s.Deletes++
		}
	}
	out := make([]PrincipalSummary, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Principal < out[j].Principal })
	return out
}
